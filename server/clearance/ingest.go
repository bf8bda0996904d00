package clearance

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"

	"connectrpc.com/connect"

	clearancev1 "hqconnect/gen/hqconnect/clearance/v1"
	"hqconnect/internal/auth"
	"hqconnect/internal/errs"
	"hqconnect/internal/outbox"
)

var (
	errNoEvents = errs.InvalidField("events", "send 1 to 1,000 events", "hãy gửi từ 1 đến 1.000 sự kiện")
	errTooMany  = errs.InvalidField("events",
		fmt.Sprintf("at most %d events per batch; split it", MaxBatch),
		fmt.Sprintf("tối đa %d sự kiện mỗi lần gửi; hãy chia nhỏ", MaxBatch))
)

// PushEvents records a batch: every event is validated on its own, then the
// valid ones are recorded in one transaction — the events (their primary key
// tells new from duplicate), the declarations folded from them, and one
// outbox event per declaration whose status changed, for its enterprise's
// users.
func (s *Service) PushEvents(ctx context.Context, req *connect.Request[clearancev1.PushEventsRequest]) (*connect.Response[clearancev1.PushEventsResponse], error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	in := req.Msg.GetEvents()
	switch {
	case len(in) == 0:
		return nil, errNoEvents
	case len(in) > MaxBatch:
		return nil, errTooMany
	}
	types, err := s.declTypes(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	results := make([]*clearancev1.EventResult, len(in))
	reject := func(i int, e *errs.Error) {
		results[i] = &clearancev1.EventResult{Index: int32(i), Outcome: clearancev1.Outcome_OUTCOME_REJECTED,
			Field: e.Field, Reason: e.EN}
	}
	var valid []event
	seen := make(map[eventKey]bool, len(in))
	for i, pe := range in {
		e, verr := validateEvent(i, pe, types, now)
		if verr != nil {
			reject(i, verr)
			continue
		}
		k := eventKey{e.Number, e.Seq}
		if seen[k] { // the same event twice in one batch
			results[i] = &clearancev1.EventResult{Index: int32(i), Outcome: clearancev1.Outcome_OUTCOME_DUPLICATE}
			continue
		}
		seen[k] = true
		valid = append(valid, e)
	}
	// One lock order for every batch: concurrent batches touching the same
	// declarations cannot deadlock on PostgreSQL.
	slices.SortFunc(valid, func(a, b event) int {
		return cmp.Or(cmp.Compare(a.Number, b.Number), cmp.Compare(a.Seq, b.Seq))
	})

	if len(valid) > 0 {
		err = s.db.Tx(ctx, func(tx *sql.Tx) error {
			return s.record(ctx, tx, p.UserID, valid, results, reject)
		})
		if err != nil {
			return nil, err
		}
	}
	res := &clearancev1.PushEventsResponse{Results: results}
	for _, r := range results {
		switch r.GetOutcome() {
		case clearancev1.Outcome_OUTCOME_ACCEPTED:
			res.Accepted++
		case clearancev1.Outcome_OUTCOME_DUPLICATE:
			res.Duplicates++
		case clearancev1.Outcome_OUTCOME_REJECTED:
			res.Rejected++
		}
	}
	return connect.NewResponse(res), nil
}

type eventKey struct {
	number string
	seq    int64
}

// record writes the valid events of a batch inside tx and fills their
// results.
func (s *Service) record(ctx context.Context, tx *sql.Tx, keyID string, valid []event, results []*clearancev1.EventResult,
	reject func(int, *errs.Error)) error {
	now := s.now()
	numbers := make([]string, 0, len(valid))
	for _, e := range valid {
		if len(numbers) == 0 || numbers[len(numbers)-1] != e.Number {
			numbers = append(numbers, e.Number)
		}
	}
	existing, err := loadStates(ctx, tx, numbers)
	if err != nil {
		return err
	}
	// Events that contradict their declaration (another tax code or
	// direction, whether known before or set by an earlier event of this
	// batch) are rejected.
	ref := existing // what each declaration's tax code and direction are
	var ok []event
	for _, e := range valid {
		if known := ref[e.Number]; known != nil {
			if c := known.conflict(e); c != nil {
				reject(e.Index, c)
				continue
			}
		} else {
			first := &declState{}
			first.apply(e)
			ref[e.Number] = first
		}
		ok = append(ok, e)
	}
	inserted, err := insertEvents(ctx, tx, ok, keyID, now)
	if err != nil {
		return err
	}
	// Fold what is new, per declaration.
	folds := map[string]*declState{}
	var order []string
	for _, e := range ok {
		if !inserted[eventKey{e.Number, e.Seq}] {
			results[e.Index] = &clearancev1.EventResult{Index: int32(e.Index), Outcome: clearancev1.Outcome_OUTCOME_DUPLICATE}
			continue
		}
		results[e.Index] = &clearancev1.EventResult{Index: int32(e.Index), Outcome: clearancev1.Outcome_OUTCOME_ACCEPTED}
		f := folds[e.Number]
		if f == nil {
			f = &declState{}
			folds[e.Number] = f
			order = append(order, e.Number)
		}
		f.apply(e)
	}
	if len(order) == 0 {
		return nil
	}
	states := make([]*declState, len(order))
	for i, n := range order {
		states[i] = folds[n]
	}
	current, err := upsertDeclarations(ctx, tx, states, now)
	if err != nil {
		return err
	}
	// The declarations whose status is now that of an event of this batch.
	var changed []*declState
	for _, st := range states {
		if current[st.Number] == st.StatusSeq {
			changed = append(changed, st)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	taxCodes := make([]string, 0, len(changed))
	for _, st := range changed {
		taxCodes = append(taxCodes, st.TaxCode)
	}
	enterprises, err := verifiedEnterprises(ctx, tx, taxCodes)
	if err != nil {
		return err
	}
	events := make([]outbox.Event, 0, len(changed))
	for _, st := range changed {
		entID, ok := enterprises[st.TaxCode]
		if !ok {
			continue // not registered (or not verified): nobody to tell yet
		}
		// The full state as stored: the channel may come from an earlier batch.
		events = append(events, statusChanged(entID, st, now))
	}
	// One multi-row insert for the batch's events, not a round trip each.
	_, err = outbox.AddAll(ctx, tx, events)
	return err
}
