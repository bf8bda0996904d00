package auth

import (
	"context"
	"slices"

	"hqconnect/internal/errs"
)

// Kind tells officers from enterprise users.
type Kind string

const (
	KindOfficer        Kind = "officer"
	KindEnterpriseUser Kind = "enterprise_user"
)

// Role names, the same as the proto enum's value names without the prefix.
const (
	RoleEnterpriseAdmin = "ENTERPRISE_ADMIN"
	RoleStaff           = "STAFF"
	RoleOfficer         = "OFFICER"
	RoleUnitHead        = "UNIT_HEAD"
	RoleDirector        = "DIRECTOR"
	RoleInspector       = "INSPECTOR"
	RoleAdmin           = "ADMIN"
)

// Principal is the authenticated caller of an RPC, as carried by its access
// token. Roles and the enterprise's verification are those at login or the
// last refresh; anything that changes them ends the user's sessions.
type Principal struct {
	UserID    string
	SessionID string
	Kind      Kind
	Roles     []string
	// EnterpriseID is set for enterprise users.
	EnterpriseID string
	// EnterpriseVerified is false while the enterprise's registration is
	// pending or rejected: such users reach only their own profile.
	EnterpriseVerified bool
	// UnitID is set for officers.
	UnitID string
}

// HasRole reports whether p has role r.
func (p *Principal) HasRole(r string) bool { return slices.Contains(p.Roles, r) }

// HasAnyRole reports whether p has at least one of rs.
func (p *Principal) HasAnyRole(rs ...string) bool {
	return slices.ContainsFunc(rs, p.HasRole)
}

// ActorKind is how the audit log names the kind of p (nil means anonymous).
func (p *Principal) ActorKind() string {
	if p == nil {
		return "anonymous"
	}
	return string(p.Kind)
}

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the caller, or nil for a public call.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Caller returns the signed-in caller of a procedure that is not public.
// The auth interceptor refuses anonymous calls already; handlers call this
// as a second lock and to get the principal.
func Caller(ctx context.Context) (*Principal, error) {
	p := FromContext(ctx)
	if p == nil || p.UserID == "" {
		return nil, errs.ErrUnauthenticated
	}
	return p, nil
}
