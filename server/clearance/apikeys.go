package clearance

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	clearancev1 "hqconnect/gen/hqconnect/clearance/v1"
	"hqconnect/internal/audit"
	"hqconnect/internal/auth"
	"hqconnect/internal/errs"
	"hqconnect/internal/ids"
	"hqconnect/internal/store"
)

// Audit actions.
const (
	ActionAPIKeyCreate = "api_key.create"
	ActionAPIKeyRevoke = "api_key.revoke"
)

// ErrAPIKeyNotFound: no key with that id.
var ErrAPIKeyNotFound = errs.New(errs.NotFound, "no API key with that id", "không có khóa API với mã này")

// APIKey is a stored key, without its secret.
type APIKey struct {
	ID, Name, Prefix string
	CreateTime       time.Time
	RevokeTime       time.Time // zero while valid
	LastUseTime      time.Time // zero if never used
}

// CreateAPIKey makes a key for a system client called name and returns it
// with the secret, which is shown this once: only its hash is kept. The
// creation is audited (by the caller in ctx, or by the system).
func CreateAPIKey(ctx context.Context, db *store.DB, name string) (APIKey, string, error) {
	name = strings.TrimSpace(name)
	if n := utf8.RuneCountInString(name); n < 2 || n > 100 {
		return APIKey{}, "", errs.InvalidField("name", "the name is 2 to 100 characters, e.g. \"VNACCS gateway\"",
			"tên gồm 2 đến 100 ký tự, ví dụ \"VNACCS gateway\"")
	}
	secret, hash, prefix := auth.NewAPIKey()
	k := APIKey{ID: ids.New(), Name: name, Prefix: prefix, CreateTime: store.Now()}
	createdBy := ""
	if p := auth.FromContext(ctx); p != nil {
		createdBy = p.UserID
	}
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO api_keys (id, name, prefix, key_hash, created_by, create_time)
			VALUES ($1, $2, $3, $4, $5, $6)`, k.ID, k.Name, k.Prefix, hash, createdBy, k.CreateTime); err != nil {
			return fmt.Errorf("insert api key: %w", err)
		}
		return audit.Record(ctx, tx, ActionAPIKeyCreate, "api_key", k.ID, map[string]any{"name": k.Name, "prefix": k.Prefix})
	})
	if err != nil {
		return APIKey{}, "", err
	}
	return k, secret, nil
}

const apiKeyCols = `id, name, prefix, create_time, revoke_time, last_use_time`

func scanAPIKey(sc interface{ Scan(...any) error }) (APIKey, error) {
	var k APIKey
	var revoke, used sql.NullTime
	if err := sc.Scan(&k.ID, &k.Name, &k.Prefix, &k.CreateTime, &revoke, &used); err != nil {
		return k, err
	}
	k.RevokeTime, k.LastUseTime = revoke.Time, used.Time
	return k, nil
}

func apiKeyProto(k APIKey) *clearancev1.ApiKey {
	out := &clearancev1.ApiKey{Id: k.ID, Name: k.Name, Prefix: k.Prefix, CreateTime: timestamppb.New(k.CreateTime)}
	if !k.RevokeTime.IsZero() {
		out.RevokeTime = timestamppb.New(k.RevokeTime)
	}
	if !k.LastUseTime.IsZero() {
		out.LastUseTime = timestamppb.New(k.LastUseTime)
	}
	return out
}

// ListApiKeys lists the keys, newest first.
func (s *Service) ListApiKeys(ctx context.Context, req *connect.Request[clearancev1.ListApiKeysRequest]) (*connect.Response[clearancev1.ListApiKeysResponse], error) {
	size, err := pageSize(req.Msg.GetPageSize())
	if err != nil {
		return nil, err
	}
	query, args := `SELECT `+apiKeyCols+` FROM api_keys`, []any{}
	if tok := req.Msg.GetPageToken(); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || !ids.Valid(string(b)) {
			return nil, errPageToken
		}
		query += ` WHERE id < $1`
		args = append(args, string(b))
	}
	query += fmt.Sprintf(` ORDER BY id DESC LIMIT %d`, size+1)
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	defer rows.Close()
	res := &clearancev1.ListApiKeysResponse{}
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("scan api key: %w", err)
		}
		if len(res.ApiKeys) == size {
			res.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(res.ApiKeys[size-1].Id))
			break
		}
		res.ApiKeys = append(res.ApiKeys, apiKeyProto(k))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return connect.NewResponse(res), nil
}

// RevokeApiKey revokes a key (audited); a revoked key stays revoked.
func (s *Service) RevokeApiKey(ctx context.Context, req *connect.Request[clearancev1.RevokeApiKeyRequest]) (*connect.Response[clearancev1.RevokeApiKeyResponse], error) {
	id := req.Msg.GetId()
	if !ids.Valid(id) {
		return nil, errs.InvalidField("id", "not an API key id", "không phải mã khóa API")
	}
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	var k APIKey
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		k, err = scanAPIKey(tx.QueryRowContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE id = $1`, id))
		if store.IsNoRows(err) {
			return ErrAPIKeyNotFound
		}
		if err != nil {
			return fmt.Errorf("read api key: %w", err)
		}
		if !k.RevokeTime.IsZero() {
			return nil
		}
		k.RevokeTime = s.now()
		if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoke_time = $1, revoked_by = $2 WHERE id = $3`,
			k.RevokeTime, p.UserID, id); err != nil {
			return fmt.Errorf("revoke api key: %w", err)
		}
		return audit.Record(ctx, tx, ActionAPIKeyRevoke, "api_key", id, map[string]any{"name": k.Name, "prefix": k.Prefix})
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&clearancev1.RevokeApiKeyResponse{ApiKey: apiKeyProto(k)}), nil
}
