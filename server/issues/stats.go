package issues

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"connectrpc.com/connect"

	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/internal/auth"
	"hqconnect/internal/errs"
	"hqconnect/internal/reqinfo"
	"hqconnect/internal/store"
)

// Satisfaction figures: the ratings given in a period, per unit (each unit's
// row counts the resolutions of issues in it and below it) and per officer
// who wrote the rated answer.

// maxSatisfactionYears bounds the period of one request.
const maxSatisfactionYears = 3

var errNoUnit = &errs.Error{Code: errs.NotFound, Field: "unit_id",
	EN: "no unit with this id", VI: "không có đơn vị nào với mã này"}

var errSatisfactionUnit = errs.New(errs.PermissionDenied,
	"you may read the figures of your own unit and the units below it only",
	"bạn chỉ được xem số liệu của đơn vị mình và các đơn vị cấp dưới")

// satisfactionPeriod checks the request's period: both ends required, the
// end after the start, at most three years.
func satisfactionPeriod(m *issuev1.GetSatisfactionRequest) (start, end time.Time, err error) {
	if m.StartTime == nil {
		return start, end, errs.InvalidField("start_time", "is required", "là bắt buộc")
	}
	if m.EndTime == nil {
		return start, end, errs.InvalidField("end_time", "is required", "là bắt buộc")
	}
	if err := m.StartTime.CheckValid(); err != nil {
		return start, end, errs.InvalidField("start_time", "is not a valid time", "không phải là thời điểm hợp lệ")
	}
	if err := m.EndTime.CheckValid(); err != nil {
		return start, end, errs.InvalidField("end_time", "is not a valid time", "không phải là thời điểm hợp lệ")
	}
	start, end = m.StartTime.AsTime().UTC(), m.EndTime.AsTime().UTC()
	if !end.After(start) {
		return start, end, errs.InvalidField("end_time", "must be after start_time", "phải sau start_time")
	}
	if end.After(start.AddDate(maxSatisfactionYears, 0, 0)) {
		return start, end, errs.InvalidField("end_time",
			fmt.Sprintf("must be at most %d years after start_time", maxSatisfactionYears),
			fmt.Sprintf("không được quá %d năm sau start_time", maxSatisfactionYears))
	}
	return start, end, nil
}

// tally is the ratings of one unit or officer.
type tally struct {
	counts [scoreMax]int64
}

func (t *tally) add(score int, n int64) {
	if score >= scoreMin && score <= scoreMax {
		t.counts[score-1] += n
	}
}

func (t *tally) row() *issuev1.SatisfactionRow {
	var n, sum int64
	for i, c := range t.counts {
		n += c
		sum += int64(i+1) * c
	}
	r := &issuev1.SatisfactionRow{Ratings: n, ScoreCounts: slices.Clone(t.counts[:])}
	if n > 0 {
		r.Average = math.Round(float64(sum)*100/float64(n)) / 100
	}
	return r
}

// GetSatisfaction gives the satisfaction figures of a unit (the caller's by
// default) and each unit below it with ratings, and of each officer whose
// answer was rated there. A UNIT_HEAD reads their unit and below; a DIRECTOR
// any unit.
func (s *Service) GetSatisfaction(ctx context.Context, req *connect.Request[issuev1.GetSatisfactionRequest]) (*connect.Response[issuev1.GetSatisfactionResponse], error) {
	m := req.Msg
	start, end, err := satisfactionPeriod(m)
	if err != nil {
		return nil, err
	}
	v, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if !v.officer() || !v.HasAnyRole(auth.RoleUnitHead, auth.RoleDirector) {
		return nil, errs.ErrPermissionDenied
	}
	unit := v.UnitID
	if m.UnitId != "" {
		if unit, err = idField("unit_id", m.UnitId); err != nil {
			return nil, err
		}
	}
	if v.units.byID[unit] == nil {
		return nil, errNoUnit
	}
	if !v.HasRole(auth.RoleDirector) && !v.units.within(unit, v.UnitID) {
		return nil, errSatisfactionUnit
	}

	rows, err := s.db.QueryContext(ctx, `SELECT unit_id, COALESCE(officer_id, ''), score, COUNT(*)
		FROM issue_resolutions WHERE score IS NOT NULL AND rate_time >= $1 AND rate_time < $2
		GROUP BY unit_id, officer_id, score`, start, end)
	if err != nil {
		return nil, fmt.Errorf("count ratings: %w", err)
	}
	defer rows.Close()
	units := map[string]*tally{unit: {}}
	officers := map[string]*tally{}
	for rows.Next() {
		var unitID, officerID string
		var score int
		var n int64
		if err := rows.Scan(&unitID, &officerID, &score, &n); err != nil {
			return nil, fmt.Errorf("count ratings: %w", err)
		}
		if !v.units.within(unitID, unit) {
			continue
		}
		// Roll the rating up to every unit from its own to the one asked.
		for _, u := range v.units.ancestors(unitID) {
			t := units[u]
			if t == nil {
				t = &tally{}
				units[u] = t
			}
			t.add(score, n)
			if u == unit {
				break
			}
		}
		if officerID != "" {
			t := officers[officerID]
			if t == nil {
				t = &tally{}
				officers[officerID] = t
			}
			t.add(score, n)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count ratings: %w", err)
	}

	en := reqinfo.From(ctx).Locale == "en"
	out := &issuev1.GetSatisfactionResponse{}
	for _, u := range v.units.subtree(unit) {
		t := units[u]
		if t == nil {
			continue
		}
		r := t.row()
		if u != unit && r.Ratings == 0 {
			continue
		}
		r.UnitId = u
		r.Name = v.units.byID[u].NameVI
		if en {
			r.Name = v.units.byID[u].NameEN
		}
		out.Units = append(out.Units, r)
	}
	if out.Officers, err = officerRows(ctx, s.db, officers); err != nil {
		return nil, err
	}
	return connect.NewResponse(out), nil
}

// officerRows names the officers' tallies, by name.
func officerRows(ctx context.Context, q store.Queryer, officers map[string]*tally) ([]*issuev1.SatisfactionRow, error) {
	if len(officers) == 0 {
		return nil, nil
	}
	idList := make([]string, 0, len(officers))
	for id := range officers {
		idList = append(idList, id)
	}
	slices.Sort(idList)
	in, args := store.InList(1, idList)
	rows, err := q.QueryContext(ctx, `SELECT id, full_name, COALESCE(unit_id, '') FROM users WHERE id IN (`+in+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("read officers: %w", err)
	}
	defer rows.Close()
	var out []*issuev1.SatisfactionRow
	for rows.Next() {
		var id, name, unitID string
		if err := rows.Scan(&id, &name, &unitID); err != nil {
			return nil, fmt.Errorf("read officers: %w", err)
		}
		r := officers[id].row()
		r.OfficerId, r.Name, r.UnitId = id, name, unitID
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read officers: %w", err)
	}
	slices.SortFunc(out, func(a, b *issuev1.SatisfactionRow) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.OfficerId, b.OfficerId))
	})
	return out, nil
}
