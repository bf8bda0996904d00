package issues

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/internal/audit"
	"hqconnect/internal/errs"
	"hqconnect/internal/outbox"
	"hqconnect/internal/store"
)

// Satisfaction: the enterprise rates each resolution of its issue 1–5 with
// an optional comment, on the issue_resolutions row of that resolution
// (ResolveIssue inserts it with the unit and the officer who answered).

const (
	scoreMin, scoreMax = 1, 5
	ratingCommentMax   = 2_000
)

// EventRated: an enterprise rated (or re-rated) a resolution. Tells the
// officer who wrote the answer.
const EventRated = "issue.rated"

var (
	errScore = errs.InvalidField("score",
		fmt.Sprintf("must be a whole number from %d to %d", scoreMin, scoreMax),
		fmt.Sprintf("phải là số nguyên từ %d đến %d", scoreMin, scoreMax))
	errNotRateable = errs.New(errs.FailedPrecondition,
		"only a resolved issue can be rated: resolve it first",
		"chỉ đánh giá được vướng mắc đã được giải quyết: hãy xác nhận đã giải quyết trước")
)

// RateIssue rates the issue's latest resolution; rating it again replaces
// the score and comment. Enterprise users of the issue's enterprise (anyone
// else is told the issue does not exist).
func (s *Service) RateIssue(ctx context.Context, req *connect.Request[issuev1.RateIssueRequest]) (*connect.Response[issuev1.RateIssueResponse], error) {
	m := req.Msg
	if m.Score < scoreMin || m.Score > scoreMax {
		return nil, errScore
	}
	comment, err := para("comment", m.Comment, 0, ratingCommentMax)
	if err != nil {
		return nil, err
	}
	v, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if !v.enterprise() {
		// The policy admits enterprise users only; a second lock.
		return nil, errs.ErrPermissionDenied
	}
	now := s.now()
	var rating *issuev1.Rating
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		r, _, err := s.visibleIssue(ctx, tx, v, m.IssueId)
		if err != nil {
			return err
		}
		if r.ResolutionCount == 0 || (r.Status != StatusResolved && r.Status != StatusClosed) {
			return errNotRateable
		}
		var prev sql.NullInt64
		var officerID, unitID string
		err = tx.QueryRowContext(ctx, `SELECT score, COALESCE(officer_id, ''), unit_id FROM issue_resolutions
			WHERE issue_id = $1 AND resolution = $2`, r.ID, r.ResolutionCount).Scan(&prev, &officerID, &unitID)
		if store.IsNoRows(err) {
			return errNotRateable
		}
		if err != nil {
			return fmt.Errorf("read resolution: %w", err)
		}
		// Conditional on the issue still standing as read, so a concurrent
		// reopening cannot have the rating land on a superseded resolution.
		res, err := tx.ExecContext(ctx, `UPDATE issue_resolutions SET score = $1, comment = $2, rate_time = $3
			WHERE issue_id = $4 AND resolution = $5 AND EXISTS (SELECT 1 FROM issues
				WHERE id = $4 AND resolution_count = $5 AND status IN ('RESOLVED', 'CLOSED'))`,
			m.Score, comment, now, r.ID, r.ResolutionCount)
		if err != nil {
			return fmt.Errorf("rate resolution: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("rate resolution: %w", err)
		} else if n != 1 {
			return errChanged
		}
		detail := map[string]any{"resolution": r.ResolutionCount, "score": m.Score}
		if prev.Valid {
			detail["previous_score"] = prev.Int64
		}
		if err := audit.Record(ctx, tx, "issue.rate", "issue", r.ID, detail); err != nil {
			return err
		}
		if officerID != "" {
			if _, err := outbox.Add(ctx, tx, ratedEvent(r, officerID, int(m.Score), now)); err != nil {
				return fmt.Errorf("rate resolution: %w", err)
			}
		}
		rating = &issuev1.Rating{Resolution: int32(r.ResolutionCount), Score: m.Score, Comment: comment, CreateTime: timestamppb.New(now)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&issuev1.RateIssueResponse{Rating: rating}), nil
}

// ratedEvent tells the officer who answered how the enterprise rated it.
func ratedEvent(r *issueRow, officerID string, score int, at time.Time) outbox.Event {
	return outbox.Event{Kind: EventRated, Time: at, Notification: &outbox.Notification{
		Audience: outbox.Audience{UserIDs: []string{officerID}},
		Category: outbox.CategoryIssue, EntityKind: "issue", EntityID: r.ID,
		TitleVI: fmt.Sprintf("Vướng mắc %s được đánh giá %d/5", r.Number, score),
		TitleEN: fmt.Sprintf("Issue %s was rated %d/5", r.Number, score),
		BodyVI:  fmt.Sprintf("Doanh nghiệp đã đánh giá câu trả lời của bạn cho “%s”: %d/5.", r.Title, score),
		BodyEN:  fmt.Sprintf("The enterprise rated your answer to “%s”: %d/5.", r.Title, score),
	}}
}

// ratingsOf returns the rated resolutions of an issue, first resolution
// first (GetIssue shows them).
func (s *Service) ratingsOf(ctx context.Context, q store.Queryer, issueID string) ([]*issuev1.Rating, error) {
	rows, err := q.QueryContext(ctx, `SELECT resolution, score, comment, rate_time FROM issue_resolutions
		WHERE issue_id = $1 AND score IS NOT NULL ORDER BY resolution`, issueID)
	if err != nil {
		return nil, fmt.Errorf("list ratings: %w", err)
	}
	defer rows.Close()
	var out []*issuev1.Rating
	for rows.Next() {
		var res, score int32
		var comment string
		var at time.Time
		if err := rows.Scan(&res, &score, &comment, &at); err != nil {
			return nil, fmt.Errorf("read rating: %w", err)
		}
		out = append(out, &issuev1.Rating{Resolution: res, Score: score, Comment: comment, CreateTime: timestamppb.New(at)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list ratings: %w", err)
	}
	return out, nil
}
