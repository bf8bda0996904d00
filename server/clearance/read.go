package clearance

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	clearancev1 "hqconnect/gen/hqconnect/clearance/v1"
	"hqconnect/internal/auth"
	"hqconnect/internal/errs"
	"hqconnect/internal/reqinfo"
	"hqconnect/internal/store"
)

// Paging (AIP-158).
const (
	defaultPageSize = 50
	maxPageSize     = 200
)

// ErrDeclarationNotFound: the declaration does not exist or the caller may
// not see it (the two are never told apart).
var ErrDeclarationNotFound = errs.New(errs.NotFound,
	"no such declaration among those you may see",
	"không tìm thấy tờ khai trong phạm vi bạn được xem")

// scope is what a caller may see: everything, or one tax code, or the
// declarations of some customs offices.
type scope struct {
	all     bool
	taxCode string
	offices []string
}

func (sc scope) allows(taxCode, office string) bool {
	switch {
	case sc.all:
		return true
	case sc.taxCode != "":
		return taxCode == sc.taxCode
	}
	return slices.Contains(sc.offices, office)
}

// Unit kinds (org_units.kind).
const (
	unitDepartment = "DEPARTMENT"
	unitBranch     = "BRANCH"
	unitTeam       = "TEAM"
)

// officerScope is the rule for officers: a team's officers see their
// branch's declarations, a branch's its own, and the department's DIRECTOR,
// ADMIN or UNIT_HEAD everything. Anyone else at the department sees none.
func officerScope(unitKind, unitCode, parentCode string, p *auth.Principal) scope {
	switch unitKind {
	case unitTeam:
		return scope{offices: []string{parentCode}}
	case unitBranch:
		return scope{offices: []string{unitCode}}
	case unitDepartment:
		if p.HasAnyRole(auth.RoleDirector, auth.RoleAdmin, auth.RoleUnitHead) {
			return scope{all: true}
		}
	}
	return scope{offices: []string{}}
}

// callerScope reads what the caller may see.
func (s *Service) callerScope(ctx context.Context) (scope, *auth.Principal, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return scope{}, nil, err
	}
	switch p.Kind {
	case auth.KindEnterpriseUser:
		var tc string
		err := s.db.QueryRowContext(ctx, `SELECT tax_code FROM enterprises WHERE id = $1`, p.EnterpriseID).Scan(&tc)
		if err != nil {
			if store.IsNoRows(err) {
				return scope{}, nil, errs.ErrPermissionDenied
			}
			return scope{}, nil, fmt.Errorf("read caller's enterprise: %w", err)
		}
		return scope{taxCode: tc}, p, nil
	case auth.KindOfficer:
		var kind, code string
		var parent sql.NullString
		err := s.db.QueryRowContext(ctx, `SELECT u.kind, u.code, pu.code FROM org_units u
			LEFT JOIN org_units pu ON pu.id = u.parent_id WHERE u.id = $1`, p.UnitID).Scan(&kind, &code, &parent)
		if err != nil {
			if store.IsNoRows(err) {
				return scope{}, nil, errs.ErrPermissionDenied
			}
			return scope{}, nil, fmt.Errorf("read caller's unit: %w", err)
		}
		return officerScope(kind, code, parent.String, p), p, nil
	}
	return scope{}, nil, errs.ErrPermissionDenied
}

// where builds the scope's conditions on declarations d.
func (sc scope) where(add func(cond string, v any)) (none bool) {
	switch {
	case sc.all:
	case sc.taxCode != "":
		add("d.tax_code = $%d", sc.taxCode)
	case len(sc.offices) == 0:
		return true
	case len(sc.offices) == 1:
		add("d.customs_office = $%d", sc.offices[0])
	default:
		// More than one office is not produced by officerScope today.
		return true
	}
	return false
}

// cursor is the position after the last row of a page: newest registration
// first, then the highest number.
type cursor struct {
	time   time.Time
	number string
}

func encodeCursor(c cursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.time.UnixMicro(), 10) + "." + c.number))
}

var cursorRe = regexp.MustCompile(`^(-?[0-9]{1,19})\.([0-9]{12})$`)

var errPageToken = errs.InvalidField("page_token", "page_token is not valid; start again without it",
	"page_token không hợp lệ; hãy bắt đầu lại mà không gửi page_token")

func decodeCursor(tok string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return cursor{}, errPageToken
	}
	m := cursorRe.FindStringSubmatch(string(b))
	if m == nil {
		return cursor{}, errPageToken
	}
	us, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return cursor{}, errPageToken
	}
	return cursor{time: time.UnixMicro(us).UTC(), number: m[2]}, nil
}

func pageSize(n int32) (int, error) {
	switch {
	case n < 0:
		return 0, errs.InvalidField("page_size",
			fmt.Sprintf("must not be negative (default %d, at most %d)", defaultPageSize, maxPageSize),
			fmt.Sprintf("không được là số âm (mặc định %d, tối đa %d)", defaultPageSize, maxPageSize))
	case n == 0:
		return defaultPageSize, nil
	case n > maxPageSize:
		return maxPageSize, nil
	}
	return int(n), nil
}

var prefixRe = regexp.MustCompile(`^[0-9]{1,12}$`)

// declCols are the columns declRow scans, from declarations d, types t and
// enterprises e.
const declCols = `d.number, d.tax_code, COALESCE(e.name, ''), d.type_code, t.name_vi, t.name_en, d.customs_office,
	d.direction, d.status, d.channel, d.status_seq, d.register_time, d.registered, d.status_time, d.clear_time, d.update_time`

const declFrom = ` FROM declarations d JOIN declaration_types t ON t.code = d.type_code
	LEFT JOIN enterprises e ON e.tax_code = d.tax_code`

type declRow struct {
	declState
	EnterpriseName, TypeVI, TypeEN string
	UpdateTime                     time.Time
}

func scanDecl(sc interface{ Scan(...any) error }) (*declRow, error) {
	var d declRow
	var clear sql.NullTime
	if err := sc.Scan(&d.Number, &d.TaxCode, &d.EnterpriseName, &d.TypeCode, &d.TypeVI, &d.TypeEN, &d.Office,
		&d.Direction, &d.Status, &d.Channel, &d.StatusSeq, &d.RegisterTime, &d.Registered, &d.StatusTime, &clear,
		&d.UpdateTime); err != nil {
		return nil, err
	}
	if clear.Valid {
		d.ClearTime = clear.Time
	}
	return &d, nil
}

func declProto(d *declRow, locale string, officer bool) *clearancev1.Declaration {
	out := &clearancev1.Declaration{
		Number: d.Number, TaxCode: d.TaxCode, TypeCode: d.TypeCode, TypeName: d.TypeVI,
		CustomsOffice: d.Office, Direction: dirEnum(d.Direction), Status: kindEnum(d.Status), Channel: d.Channel,
		LastSequence: d.StatusSeq, RegisterTime: timestamppb.New(d.RegisterTime),
		StatusTime: timestamppb.New(d.StatusTime), UpdateTime: timestamppb.New(d.UpdateTime),
	}
	if locale == "en" {
		out.TypeName = d.TypeEN
	}
	if officer {
		out.EnterpriseName = d.EnterpriseName
	}
	return out
}

// ListDeclarations lists what the caller may see with the request's filters,
// newest registration first.
func (s *Service) ListDeclarations(ctx context.Context, req *connect.Request[clearancev1.ListDeclarationsRequest]) (*connect.Response[clearancev1.ListDeclarationsResponse], error) {
	m := req.Msg
	sc, p, err := s.callerScope(ctx)
	if err != nil {
		return nil, err
	}
	size, err := pageSize(m.GetPageSize())
	if err != nil {
		return nil, err
	}
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	empty := sc.where(add)
	officer := p.Kind == auth.KindOfficer
	if tc := m.GetTaxCode(); tc != "" {
		switch {
		case !officer && tc != sc.taxCode:
			return nil, errs.InvalidField("tax_code", "leave it empty: you see your enterprise's declarations",
				"hãy để trống: bạn chỉ xem được tờ khai của doanh nghiệp mình")
		case officer:
			add("d.tax_code = $%d", tc)
		}
	}
	if o := m.GetCustomsOffice(); o != "" {
		if !officer {
			return nil, errs.InvalidField("customs_office", "only officers filter by customs office",
				"chỉ cán bộ hải quan mới lọc theo đơn vị hải quan")
		}
		add("d.customs_office = $%d", o)
	}
	if len(m.GetStatuses()) > 0 {
		names := make([]string, 0, len(m.GetStatuses()))
		for _, k := range m.GetStatuses() {
			if _, ok := clearancev1.EventKind_name[int32(k)]; !ok || k == clearancev1.EventKind_EVENT_KIND_UNSPECIFIED {
				return nil, errs.InvalidField("statuses", "each status must be an EVENT_KIND_… value",
					"mỗi trạng thái phải là một giá trị EVENT_KIND_…")
			}
			names = append(names, kindName(k))
		}
		in, vals := store.InList(len(args)+1, names)
		args = append(args, vals...)
		where = append(where, "d.status IN ("+in+")")
	}
	if ch := m.GetChannel(); ch != "" {
		if !slices.Contains(channels, ch) {
			return nil, errs.InvalidField("channel", `the channel code is "1" (green), "2" (yellow) or "3" (red)`,
				`mã phân luồng là "1" (xanh), "2" (vàng) hoặc "3" (đỏ)`)
		}
		add("d.channel = $%d", ch)
	}
	switch m.GetDirection() {
	case clearancev1.Direction_DIRECTION_UNSPECIFIED:
	case clearancev1.Direction_DIRECTION_IMPORT, clearancev1.Direction_DIRECTION_EXPORT:
		add("d.direction = $%d", dirName(m.GetDirection()))
	default:
		return nil, errs.InvalidField("direction", "must be DIRECTION_IMPORT, DIRECTION_EXPORT or unset",
			"phải là DIRECTION_IMPORT, DIRECTION_EXPORT hoặc để trống")
	}
	if tc := m.GetTypeCode(); tc != "" {
		types, err := s.declTypes(ctx)
		if err != nil {
			return nil, err
		}
		if _, ok := types[tc]; !ok {
			return nil, errs.InvalidField("type_code", fmt.Sprintf("%q is not a declaration type code", tc),
				fmt.Sprintf("%q không phải mã loại hình tờ khai", tc))
		}
		add("d.type_code = $%d", tc)
	}
	if t := m.GetRegisterAfter(); t != nil {
		if t.CheckValid() != nil {
			return nil, errs.InvalidField("register_after", "not a valid time", "thời điểm không hợp lệ")
		}
		add("d.register_time >= $%d", t.AsTime().UTC())
	}
	if t := m.GetRegisterBefore(); t != nil {
		if t.CheckValid() != nil {
			return nil, errs.InvalidField("register_before", "not a valid time", "thời điểm không hợp lệ")
		}
		add("d.register_time < $%d", t.AsTime().UTC())
	}
	if np := m.GetNumberPrefix(); np != "" {
		if !prefixRe.MatchString(np) {
			return nil, errs.InvalidField("number_prefix", "1 to 12 digits", "từ 1 đến 12 chữ số")
		}
		// A range instead of LIKE: ":" follows "9".
		add("d.number >= $%d", np)
		add("d.number < $%d", np+":")
	}
	if tok := m.GetPageToken(); tok != "" {
		c, err := decodeCursor(tok)
		if err != nil {
			return nil, err
		}
		args = append(args, c.time, c.number)
		// A row comparison: both databases use it as a range on the
		// (…, register_time, number) indexes.
		where = append(where, fmt.Sprintf("(d.register_time, d.number) < ($%d, $%d)", len(args)-1, len(args)))
	}
	res := &clearancev1.ListDeclarationsResponse{}
	if empty {
		return connect.NewResponse(res), nil
	}
	query := `SELECT ` + declCols + declFrom
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += fmt.Sprintf(" ORDER BY d.register_time DESC, d.number DESC LIMIT %d", size+1)
	if s.db.Dialect == store.Postgres {
		// Not a cached prepared statement: after a few runs PostgreSQL would
		// give it a generic plan, which for an enterprise or branch with many
		// declarations reads and sorts all of them instead of walking the
		// index. An unnamed statement is planned for its values every time.
		args = append([]any{pgx.QueryExecModeCacheDescribe}, args...)
	}
	// Past the store's statement cache (s.db.DB, not s.db): the text
	// varies with the filters, and the cache is bounded and shared.
	rows, err := s.db.DB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list declarations: %w", err)
	}
	defer rows.Close()
	var list []*declRow
	for rows.Next() {
		d, err := scanDecl(rows)
		if err != nil {
			return nil, fmt.Errorf("scan declaration: %w", err)
		}
		list = append(list, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list declarations: %w", err)
	}
	locale := reqinfo.From(ctx).Locale
	for i, d := range list {
		if i == size {
			last := list[size-1]
			res.NextPageToken = encodeCursor(cursor{last.RegisterTime, last.Number})
			break
		}
		res.Declarations = append(res.Declarations, declProto(d, locale, officer))
	}
	return connect.NewResponse(res), nil
}

// GetDeclaration returns one declaration the caller may see, with its
// timeline.
func (s *Service) GetDeclaration(ctx context.Context, req *connect.Request[clearancev1.GetDeclarationRequest]) (*connect.Response[clearancev1.GetDeclarationResponse], error) {
	number := req.Msg.GetNumber()
	if !numberRe.MatchString(number) {
		return nil, errs.InvalidField("number", "a declaration number is exactly 12 digits", "số tờ khai gồm đúng 12 chữ số")
	}
	sc, p, err := s.callerScope(ctx)
	if err != nil {
		return nil, err
	}
	d, err := scanDecl(s.db.QueryRowContext(ctx, `SELECT `+declCols+declFrom+` WHERE d.number = $1`, number))
	if err != nil {
		if store.IsNoRows(err) {
			return nil, ErrDeclarationNotFound
		}
		return nil, fmt.Errorf("read declaration: %w", err)
	}
	if !sc.allows(d.TaxCode, d.Office) {
		return nil, ErrDeclarationNotFound
	}
	rows, err := s.db.QueryContext(ctx, `SELECT sequence, kind, event_time, channel, note, receive_time
		FROM declaration_events WHERE number = $1 ORDER BY sequence`, number)
	if err != nil {
		return nil, fmt.Errorf("read timeline: %w", err)
	}
	defer rows.Close()
	var entries []timelineEntry
	for rows.Next() {
		var e timelineEntry
		if err := rows.Scan(&e.Seq, &e.Kind, &e.Time, &e.Channel, &e.Note, &e.ReceiveTime); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read timeline: %w", err)
	}
	durations(entries, d.RegisterTime, d.Registered)
	res := &clearancev1.GetDeclarationResponse{
		Declaration: declProto(d, reqinfo.From(ctx).Locale, p.Kind == auth.KindOfficer),
	}
	for _, e := range entries {
		res.Timeline = append(res.Timeline, &clearancev1.TimelineEvent{
			Sequence: e.Seq, Kind: kindEnum(e.Kind), EventTime: timestamppb.New(e.Time), Channel: e.Channel,
			Note: e.Note, ReceiveTime: timestamppb.New(e.ReceiveTime),
			SecondsSincePrevious: e.SincePrevious, SecondsSinceRegistered: e.SinceRe,
		})
	}
	if secs, ok := clearanceSeconds(d.RegisterTime, d.Registered, d.ClearTime); ok {
		res.ClearanceSeconds = &secs
	}
	return connect.NewResponse(res), nil
}

// ListDeclarationTypes lists the type code table.
func (s *Service) ListDeclarationTypes(ctx context.Context, _ *connect.Request[clearancev1.ListDeclarationTypesRequest]) (*connect.Response[clearancev1.ListDeclarationTypesResponse], error) {
	types, err := s.declTypes(ctx)
	if err != nil {
		return nil, err
	}
	res := &clearancev1.ListDeclarationTypesResponse{}
	for _, t := range types {
		res.Types = append(res.Types, &clearancev1.DeclarationType{Code: t.Code, Direction: dirEnum(t.Direction),
			NameVi: t.NameVI, NameEn: t.NameEN})
	}
	slices.SortFunc(res.Types, func(a, b *clearancev1.DeclarationType) int { return strings.Compare(a.Code, b.Code) })
	return connect.NewResponse(res), nil
}
