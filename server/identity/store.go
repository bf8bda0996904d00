package identity

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"hqconnect/internal/errs"
	"hqconnect/internal/store"
)

// The SQL of the identity tables. One text for SQLite and PostgreSQL: $n
// placeholders, times bound as UTC time.Time, NULL for absent email, phone,
// enterprise and unit. Lookups that find nothing return an error for which
// store.IsNoRows is true.

// Stored values of the text enums.
const (
	statusActive   = "ACTIVE"
	statusDisabled = "DISABLED"

	entPending  = "PENDING"
	entVerified = "VERIFIED"
	entRejected = "REJECTED"

	unitDepartment = "DEPARTMENT"
	unitBranch     = "BRANCH"
	unitTeam       = "TEAM"
)

func alreadyExists(field, en, vi string) *errs.Error {
	return &errs.Error{Code: errs.AlreadyExists, Field: field, EN: en, VI: vi}
}

type scanner interface{ Scan(dest ...any) error }

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}

func timePtr(nt sql.NullTime) *time.Time {
	if !nt.Valid {
		return nil
	}
	t := nt.Time.UTC()
	return &t
}

// placeholders returns "$from, $from+1, …" for n values.
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", from+i)
	}
	return b.String()
}

// ---- users ----

type userRow struct {
	ID           string
	Kind         string // auth.KindOfficer | auth.KindEnterpriseUser
	Email        string
	Phone        string
	FullName     string
	PasswordHash string
	Status       string
	EnterpriseID string
	UnitID       string
	CreateTime   time.Time
	UpdateTime   time.Time
	Roles        []string
}

const userCols = `id, kind, email, phone, full_name, password_hash, status, enterprise_id, unit_id, create_time, update_time`

func scanUser(r scanner) (*userRow, error) {
	var u userRow
	var email, phone, ent, unit sql.NullString
	if err := r.Scan(&u.ID, &u.Kind, &email, &phone, &u.FullName, &u.PasswordHash, &u.Status,
		&ent, &unit, &u.CreateTime, &u.UpdateTime); err != nil {
		return nil, err
	}
	u.Email, u.Phone, u.EnterpriseID, u.UnitID = email.String, phone.String, ent.String, unit.String
	u.CreateTime, u.UpdateTime = u.CreateTime.UTC(), u.UpdateTime.UTC()
	return &u, nil
}

// userColsJoined is userCols qualified for the join with user_roles.
var userColsJoined = "u." + strings.ReplaceAll(userCols, ", ", ", u.")

// getUser reads one user and its roles in one query (one row per role): it is
// on the path of every sign-in and GetMe.
func getUser(ctx context.Context, q store.Queryer, col, val string) (*userRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+userColsJoined+`, COALESCE(r.role, '')
		FROM users u LEFT JOIN user_roles r ON r.user_id = u.id WHERE u.`+col+` = $1`, val)
	if err != nil {
		return nil, fmt.Errorf("select user: %w", err)
	}
	defer rows.Close()
	var u *userRow
	for rows.Next() {
		var role string
		row, err := scanUser(scanFunc(func(dest ...any) error { return rows.Scan(append(dest, &role)...) }))
		if err != nil {
			return nil, fmt.Errorf("scan user: %w", err)
		}
		if u == nil {
			u = row
		}
		if role != "" {
			u.Roles = append(u.Roles, role)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("select user: %w", err)
	}
	if u == nil {
		return nil, store.ErrNoRows
	}
	// Sorted in Go: a database collation may order "_" differently.
	slices.Sort(u.Roles)
	return u, nil
}

// scanFunc adapts a function to the scanner interface.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

func userByID(ctx context.Context, q store.Queryer, id string) (*userRow, error) {
	return getUser(ctx, q, "id", id)
}

func userByEmail(ctx context.Context, q store.Queryer, email string) (*userRow, error) {
	return getUser(ctx, q, "email", email)
}

func userByPhone(ctx context.Context, q store.Queryer, phone string) (*userRow, error) {
	return getUser(ctx, q, "phone", phone)
}

// loadRoles fills the roles of users, sorted by name.
func loadRoles(ctx context.Context, q store.Queryer, users ...*userRow) error {
	if len(users) == 0 {
		return nil
	}
	byID := make(map[string]*userRow, len(users))
	args := make([]any, len(users))
	for i, u := range users {
		u.Roles = nil
		byID[u.ID] = u
		args[i] = u.ID
	}
	rows, err := q.QueryContext(ctx, `SELECT user_id, role FROM user_roles WHERE user_id IN (`+
		placeholders(1, len(args))+`) ORDER BY user_id, role`, args...)
	if err != nil {
		return fmt.Errorf("select roles: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, role string
		if err := rows.Scan(&id, &role); err != nil {
			return fmt.Errorf("scan role: %w", err)
		}
		if u := byID[id]; u != nil {
			u.Roles = append(u.Roles, role)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("select roles: %w", err)
	}
	// Sorted in Go: a database collation may order "_" differently.
	for _, u := range users {
		slices.Sort(u.Roles)
	}
	return nil
}

// contactTaken returns AlreadyExists when email or phone (if set) belongs to
// an account. The unique indexes are the final word; this gives the message.
func contactTaken(ctx context.Context, q store.Queryer, emailField, email, phoneField, phone string) error {
	if email != "" {
		if _, err := userByEmail(ctx, q, email); err == nil {
			return alreadyExists(emailField, "email "+email+" already belongs to an account",
				"email "+email+" đã được dùng cho một tài khoản khác")
		} else if !store.IsNoRows(err) {
			return err
		}
	}
	if phone != "" {
		if _, err := userByPhone(ctx, q, phone); err == nil {
			return alreadyExists(phoneField, "phone "+phone+" already belongs to an account",
				"số điện thoại "+phone+" đã được dùng cho một tài khoản khác")
		} else if !store.IsNoRows(err) {
			return err
		}
	}
	return nil
}

var errContactTaken = errs.New(errs.AlreadyExists,
	"the email or phone already belongs to an account",
	"email hoặc số điện thoại đã được dùng cho một tài khoản khác")

// insertUser writes u and its roles. A unique violation (email or phone
// taken by a concurrent request) becomes AlreadyExists.
func insertUser(ctx context.Context, q store.Queryer, u *userRow) error {
	_, err := q.ExecContext(ctx, `INSERT INTO users (`+userCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		u.ID, u.Kind, nullString(u.Email), nullString(u.Phone), u.FullName, u.PasswordHash, u.Status,
		nullString(u.EnterpriseID), nullString(u.UnitID), u.CreateTime.UTC(), u.UpdateTime.UTC())
	if err != nil {
		if store.IsUniqueViolation(err) {
			return errContactTaken.Wrap(err)
		}
		return fmt.Errorf("insert user: %w", err)
	}
	return insertRoles(ctx, q, u.ID, u.Roles)
}

func insertRoles(ctx context.Context, q store.Queryer, userID string, roles []string) error {
	for _, r := range roles {
		if _, err := q.ExecContext(ctx, `INSERT INTO user_roles (user_id, role) VALUES ($1, $2)`, userID, r); err != nil {
			return fmt.Errorf("insert role: %w", err)
		}
	}
	return nil
}

func setUserStatus(ctx context.Context, q store.Queryer, id, status string, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE users SET status = $2, update_time = $3 WHERE id = $1`, id, status, now)
	if err != nil {
		return fmt.Errorf("update user status: %w", err)
	}
	return nil
}

func setUserPassword(ctx context.Context, q store.Queryer, id, hash string, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE users SET password_hash = $2, update_time = $3 WHERE id = $1`, id, hash, now)
	if err != nil {
		return fmt.Errorf("update password: %w", err)
	}
	return nil
}

func setUserUnit(ctx context.Context, q store.Queryer, id, unitID string, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE users SET unit_id = $2, update_time = $3 WHERE id = $1`, id, unitID, now)
	if err != nil {
		return fmt.Errorf("update unit: %w", err)
	}
	return nil
}

func replaceRoles(ctx context.Context, q store.Queryer, id string, roles []string, now time.Time) error {
	if _, err := q.ExecContext(ctx, `DELETE FROM user_roles WHERE user_id = $1`, id); err != nil {
		return fmt.Errorf("delete roles: %w", err)
	}
	if _, err := q.ExecContext(ctx, `UPDATE users SET update_time = $2 WHERE id = $1`, id, now); err != nil {
		return fmt.Errorf("touch user: %w", err)
	}
	return insertRoles(ctx, q, id, roles)
}

// userFilter selects users for the staff and officer lists.
type userFilter struct {
	Kind         string
	EnterpriseID string
	UnitID       string
	Role         string
}

// listUsers returns up to p.size+1 users after p.after in id order (oldest
// first), with their roles.
func listUsers(ctx context.Context, q store.Queryer, f userFilter, p page) ([]*userRow, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	add("kind = $%d", f.Kind)
	if f.EnterpriseID != "" {
		add("enterprise_id = $%d", f.EnterpriseID)
	}
	if f.UnitID != "" {
		add("unit_id = $%d", f.UnitID)
	}
	if f.Role != "" {
		add("EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = users.id AND r.role = $%d)", f.Role)
	}
	if p.after != "" {
		add("id > $%d", p.after)
	}
	rows, err := q.QueryContext(ctx, fmt.Sprintf(`SELECT %s FROM users WHERE %s ORDER BY id LIMIT %d`,
		userCols, strings.Join(where, " AND "), p.size+1), args...)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	var out []*userRow
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan user: %w", err)
		}
		out = append(out, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	// Roles are read after the rows are closed: a transaction (and SQLite's
	// single connection per transaction) cannot run two queries at once.
	if err := loadRoles(ctx, q, out...); err != nil {
		return nil, err
	}
	return out, nil
}

// ---- enterprises ----

type enterpriseRow struct {
	ID           string
	TaxCode      string
	Name         string
	Address      string
	Status       string
	RejectReason string
	DecidedBy    string
	DecideTime   *time.Time
	CreateTime   time.Time
}

const enterpriseCols = `id, tax_code, name, address, status, reject_reason, decided_by, decide_time, create_time`

func scanEnterprise(r scanner) (*enterpriseRow, error) {
	var e enterpriseRow
	var by sql.NullString
	var decided sql.NullTime
	if err := r.Scan(&e.ID, &e.TaxCode, &e.Name, &e.Address, &e.Status, &e.RejectReason, &by, &decided, &e.CreateTime); err != nil {
		return nil, err
	}
	e.DecidedBy, e.DecideTime, e.CreateTime = by.String, timePtr(decided), e.CreateTime.UTC()
	return &e, nil
}

func getEnterprise(ctx context.Context, q store.Queryer, col, val string) (*enterpriseRow, error) {
	e, err := scanEnterprise(q.QueryRowContext(ctx, `SELECT `+enterpriseCols+` FROM enterprises WHERE `+col+` = $1`, val))
	if err != nil && !store.IsNoRows(err) {
		return nil, fmt.Errorf("select enterprise: %w", err)
	}
	return e, err
}

func enterpriseByID(ctx context.Context, q store.Queryer, id string) (*enterpriseRow, error) {
	return getEnterprise(ctx, q, "id", id)
}

func enterpriseByTaxCode(ctx context.Context, q store.Queryer, taxCode string) (*enterpriseRow, error) {
	return getEnterprise(ctx, q, "tax_code", taxCode)
}

func taxCodeTaken(taxCode string) *errs.Error {
	return alreadyExists("tax_code", "an enterprise with tax code "+taxCode+" is already registered",
		"doanh nghiệp có mã số thuế "+taxCode+" đã được đăng ký")
}

func insertEnterprise(ctx context.Context, q store.Queryer, e *enterpriseRow) error {
	_, err := q.ExecContext(ctx, `INSERT INTO enterprises (`+enterpriseCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		e.ID, e.TaxCode, e.Name, e.Address, e.Status, e.RejectReason, nullString(e.DecidedBy),
		nullTime(e.DecideTime), e.CreateTime.UTC())
	if err != nil {
		if store.IsUniqueViolation(err) {
			return taxCodeTaken(e.TaxCode).Wrap(err)
		}
		return fmt.Errorf("insert enterprise: %w", err)
	}
	return nil
}

// decideEnterprise moves a PENDING enterprise to status; false when it was
// not pending any more (a concurrent decision).
func decideEnterprise(ctx context.Context, q store.Queryer, id, status, reason, by string, now time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE enterprises SET status = $2, reject_reason = $3, decided_by = $4, decide_time = $5
		WHERE id = $1 AND status = $6`, id, status, reason, by, now, entPending)
	if err != nil {
		return false, fmt.Errorf("update enterprise: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("update enterprise: %w", err)
	}
	return n == 1, nil
}

// listEnterprises returns up to p.size+1 enterprises before p.after, newest
// first.
func listEnterprises(ctx context.Context, q store.Queryer, status, taxPrefix string, p page) ([]*enterpriseRow, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if status != "" {
		add("status = $%d", status)
	}
	if taxPrefix != "" {
		// The prefix holds only digits and "-" (checked by the caller), so it
		// carries no LIKE wildcards.
		add("tax_code LIKE $%d", taxPrefix+"%")
	}
	if p.after != "" {
		add("id < $%d", p.after)
	}
	query := `SELECT ` + enterpriseCols + ` FROM enterprises`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += fmt.Sprintf(" ORDER BY id DESC LIMIT %d", p.size+1)
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list enterprises: %w", err)
	}
	defer rows.Close()
	var out []*enterpriseRow
	for rows.Next() {
		e, err := scanEnterprise(rows)
		if err != nil {
			return nil, fmt.Errorf("scan enterprise: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// ---- org units ----

type unitRow struct {
	ID            string
	ParentID      string
	Kind          string
	Code          string
	NameVi        string
	NameEn        string
	EffectiveFrom time.Time
	EffectiveTo   *time.Time
	CreateTime    time.Time
}

// inForce reports whether the unit exists at now.
func (u *unitRow) inForce(now time.Time) bool {
	return !u.EffectiveFrom.After(now) && !u.ended(now)
}

// ended reports whether the unit has ceased to exist at now.
func (u *unitRow) ended(now time.Time) bool {
	return u.EffectiveTo != nil && !u.EffectiveTo.After(now)
}

const unitCols = `id, parent_id, kind, code, name_vi, name_en, effective_from, effective_to, create_time`

func scanUnit(r scanner) (*unitRow, error) {
	var u unitRow
	var parent sql.NullString
	var to sql.NullTime
	if err := r.Scan(&u.ID, &parent, &u.Kind, &u.Code, &u.NameVi, &u.NameEn, &u.EffectiveFrom, &to, &u.CreateTime); err != nil {
		return nil, err
	}
	u.ParentID, u.EffectiveTo = parent.String, timePtr(to)
	u.EffectiveFrom, u.CreateTime = u.EffectiveFrom.UTC(), u.CreateTime.UTC()
	return &u, nil
}

func getUnit(ctx context.Context, q store.Queryer, col, val string) (*unitRow, error) {
	u, err := scanUnit(q.QueryRowContext(ctx, `SELECT `+unitCols+` FROM org_units WHERE `+col+` = $1`, val))
	if err != nil && !store.IsNoRows(err) {
		return nil, fmt.Errorf("select org unit: %w", err)
	}
	return u, err
}

func unitByID(ctx context.Context, q store.Queryer, id string) (*unitRow, error) {
	return getUnit(ctx, q, "id", id)
}

func unitByCode(ctx context.Context, q store.Queryer, code string) (*unitRow, error) {
	return getUnit(ctx, q, "code", code)
}

func unitCodeTaken(code string) *errs.Error {
	return alreadyExists("code", "an org unit with code "+code+" already exists",
		"đã có đơn vị với mã "+code)
}

func insertUnit(ctx context.Context, q store.Queryer, u *unitRow) error {
	_, err := q.ExecContext(ctx, `INSERT INTO org_units (`+unitCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		u.ID, nullString(u.ParentID), u.Kind, u.Code, u.NameVi, u.NameEn, u.EffectiveFrom.UTC(),
		nullTime(u.EffectiveTo), u.CreateTime.UTC())
	if err != nil {
		if store.IsUniqueViolation(err) {
			return unitCodeTaken(u.Code).Wrap(err)
		}
		return fmt.Errorf("insert org unit: %w", err)
	}
	return nil
}

// allUnits returns every unit. The organisation has a few hundred units at
// most, so the tree is ordered in Go.
func allUnits(ctx context.Context, q store.Queryer) ([]*unitRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+unitCols+` FROM org_units ORDER BY code`)
	if err != nil {
		return nil, fmt.Errorf("list org units: %w", err)
	}
	defer rows.Close()
	var out []*unitRow
	for rows.Next() {
		u, err := scanUnit(rows)
		if err != nil {
			return nil, fmt.Errorf("scan org unit: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// ---- invitations ----

type invitationRow struct {
	ID           string
	EnterpriseID string
	CodeHash     string
	Email        string
	Phone        string
	FullName     string
	Role         string
	CreatedBy    string
	CreateTime   time.Time
	ExpireTime   time.Time
	AcceptTime   *time.Time
}

func insertInvitation(ctx context.Context, q store.Queryer, inv *invitationRow) error {
	_, err := q.ExecContext(ctx, `INSERT INTO invitations
		(id, enterprise_id, code_hash, email, phone, full_name, role, created_by, create_time, expire_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		inv.ID, inv.EnterpriseID, inv.CodeHash, nullString(inv.Email), nullString(inv.Phone), inv.FullName,
		inv.Role, inv.CreatedBy, inv.CreateTime.UTC(), inv.ExpireTime.UTC())
	if err != nil {
		return fmt.Errorf("insert invitation: %w", err)
	}
	return nil
}

func invitationByHash(ctx context.Context, q store.Queryer, hash string) (*invitationRow, error) {
	var inv invitationRow
	var email, phone sql.NullString
	var accepted sql.NullTime
	err := q.QueryRowContext(ctx, `SELECT id, enterprise_id, code_hash, email, phone, full_name, role, created_by,
		create_time, expire_time, accept_time FROM invitations WHERE code_hash = $1`, hash).
		Scan(&inv.ID, &inv.EnterpriseID, &inv.CodeHash, &email, &phone, &inv.FullName, &inv.Role, &inv.CreatedBy,
			&inv.CreateTime, &inv.ExpireTime, &accepted)
	if err != nil {
		if store.IsNoRows(err) {
			return nil, err
		}
		return nil, fmt.Errorf("select invitation: %w", err)
	}
	inv.Email, inv.Phone, inv.AcceptTime = email.String, phone.String, timePtr(accepted)
	inv.CreateTime, inv.ExpireTime = inv.CreateTime.UTC(), inv.ExpireTime.UTC()
	return &inv, nil
}

// claimInvitation marks an invitation used; false when it already was. The
// conditional UPDATE is what makes a code single-use under concurrency: on
// PostgreSQL a second transaction waits on the row lock and then finds
// accept_time set; on SQLite transactions are serialised.
func claimInvitation(ctx context.Context, q store.Queryer, id string, now time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE invitations SET accept_time = $2 WHERE id = $1 AND accept_time IS NULL`, id, now)
	if err != nil {
		return false, fmt.Errorf("claim invitation: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("claim invitation: %w", err)
	}
	return n == 1, nil
}

func setInvitationUser(ctx context.Context, q store.Queryer, id, userID string) error {
	if _, err := q.ExecContext(ctx, `UPDATE invitations SET accepted_user_id = $2 WHERE id = $1`, id, userID); err != nil {
		return fmt.Errorf("update invitation: %w", err)
	}
	return nil
}
