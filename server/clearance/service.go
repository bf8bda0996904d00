// Package clearance serves hqconnect.clearance.v1: the customs system's
// declaration events (ClearanceIngestService, system clients with an API
// key), what enterprises and officers read about their declarations and the
// clearance-time figures (ClearanceService), and the system clients' keys
// (SystemClientService). It owns the api_keys, declaration_types,
// declarations and declaration_events tables.
//
// Declarations are keyed by number and carry the declaring enterprise's tax
// code; reads join the enterprises table by tax code, so declarations pushed
// before an enterprise registered appear once it has. Every accepted change
// of a declaration's status writes an outbox event in the same transaction,
// which the pipeline delivers to the enterprise's users (clearance is a
// critical category: always pushed).
//
// The server's auth interceptor has already enforced each procedure's policy
// when a handler runs; the handlers here scope what the caller may see: an
// enterprise its own tax code, an officer their branch, the department's
// leadership everything.
package clearance

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"hqconnect/gen/hqconnect/clearance/v1/clearancev1connect"
	"hqconnect/internal/store"
)

// Deps is what the service needs.
type Deps struct {
	DB  *store.DB
	Log *slog.Logger
	// Now is the clock (UTC, microseconds); store.Now when nil.
	Now func() time.Time
}

// Service implements the three clearance services.
type Service struct {
	db  *store.DB
	log *slog.Logger
	now func() time.Time

	typesMu sync.Mutex
	types   map[string]declType // loaded once: the table changes only by migration
}

var (
	_ clearancev1connect.ClearanceIngestServiceHandler = (*Service)(nil)
	_ clearancev1connect.ClearanceServiceHandler       = (*Service)(nil)
	_ clearancev1connect.SystemClientServiceHandler    = (*Service)(nil)
)

// New returns the service.
func New(d Deps) *Service {
	s := &Service{db: d.DB, log: d.Log, now: store.Clock(d.Now)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// declType is one row of declaration_types.
type declType struct {
	Code, Direction, NameVI, NameEN string
}

// declTypes returns the type code table, read from the database on first
// use.
func (s *Service) declTypes(ctx context.Context) (map[string]declType, error) {
	s.typesMu.Lock()
	defer s.typesMu.Unlock()
	if s.types != nil {
		return s.types, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT code, direction, name_vi, name_en FROM declaration_types`)
	if err != nil {
		return nil, fmt.Errorf("read declaration types: %w", err)
	}
	defer rows.Close()
	types := map[string]declType{}
	for rows.Next() {
		var t declType
		if err := rows.Scan(&t.Code, &t.Direction, &t.NameVI, &t.NameEN); err != nil {
			return nil, fmt.Errorf("scan declaration type: %w", err)
		}
		types[t.Code] = t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read declaration types: %w", err)
	}
	s.types = types
	return types, nil
}
