package clearance

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	clearancev1 "hqconnect/gen/hqconnect/clearance/v1"
	"hqconnect/internal/errs"
)

// statsKey groups declarations for ClearanceStats.
type statsKey struct {
	office, direction, channel string
}

// statsRow is one counted declaration.
type statsRow struct {
	statsKey
	register, clear time.Time
}

// groupStats turns the counted declarations into the response's groups,
// sorted by office, direction (import first) and channel.
func groupStats(rows []statsRow) []*clearancev1.ClearanceStatsGroup {
	vals := map[statsKey][]int64{}
	for _, r := range rows {
		secs, ok := clearanceSeconds(r.register, true, r.clear)
		if !ok || secs < 0 {
			continue // clocks that disagree: not a clearance time
		}
		vals[r.statsKey] = append(vals[r.statsKey], secs)
	}
	keys := make([]statsKey, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b statsKey) int {
		return cmp.Or(strings.Compare(a.office, b.office), cmp.Compare(dirEnum(a.direction), dirEnum(b.direction)),
			strings.Compare(a.channel, b.channel))
	})
	out := make([]*clearancev1.ClearanceStatsGroup, 0, len(keys))
	for _, k := range keys {
		s := summarize(vals[k])
		out = append(out, &clearancev1.ClearanceStatsGroup{
			CustomsOffice: k.office, Direction: dirEnum(k.direction), Channel: k.channel,
			Count: s.Count, MeanSeconds: s.Mean, MedianSeconds: s.Median, P90Seconds: s.P90,
		})
	}
	return out
}

// ClearanceStats computes the clearance times of the declarations registered
// in the period, within what the caller may see.
func (s *Service) ClearanceStats(ctx context.Context, req *connect.Request[clearancev1.ClearanceStatsRequest]) (*connect.Response[clearancev1.ClearanceStatsResponse], error) {
	m := req.Msg
	if m.GetStartTime() == nil || m.GetStartTime().CheckValid() != nil {
		return nil, errs.InvalidField("start_time", "the start of the period is required", "thời điểm bắt đầu kỳ là bắt buộc")
	}
	if m.GetEndTime() == nil || m.GetEndTime().CheckValid() != nil {
		return nil, errs.InvalidField("end_time", "the end of the period is required", "thời điểm kết thúc kỳ là bắt buộc")
	}
	start, end := m.GetStartTime().AsTime().UTC(), m.GetEndTime().AsTime().UTC()
	if !end.After(start) || end.Sub(start) > maxStatsRange {
		return nil, errs.InvalidField("end_time", "the period must end after it starts and last at most 400 days",
			"kỳ phải kết thúc sau khi bắt đầu và dài tối đa 400 ngày")
	}
	sc, _, err := s.callerScope(ctx)
	if err != nil {
		return nil, err
	}
	args := []any{start, end}
	var where []string
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	res := &clearancev1.ClearanceStatsResponse{}
	if sc.where(add) {
		return connect.NewResponse(res), nil
	}
	if o := m.GetCustomsOffice(); o != "" {
		add("d.customs_office = $%d", o)
	}
	query := `SELECT d.customs_office, d.direction, d.channel, d.register_time, d.clear_time FROM declarations d
		WHERE d.registered AND d.clear_time IS NOT NULL AND d.status <> 'CANCELLED'
		AND d.register_time >= $1 AND d.register_time < $2`
	for _, w := range where {
		query += " AND " + w
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read clearance times: %w", err)
	}
	defer rows.Close()
	var list []statsRow
	for rows.Next() {
		var r statsRow
		var clear sql.NullTime
		if err := rows.Scan(&r.office, &r.direction, &r.channel, &r.register, &clear); err != nil {
			return nil, fmt.Errorf("scan clearance time: %w", err)
		}
		r.clear = clear.Time
		list = append(list, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read clearance times: %w", err)
	}
	res.Groups = groupStats(list)
	return connect.NewResponse(res), nil
}
