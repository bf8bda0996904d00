// Package identity serves hqconnect.identity.v1: sign-in and sessions
// (IdentityService), enterprises and their staff (EnterpriseService) and the
// customs organisation (OrgService). It owns the org_units, enterprises,
// users, user_roles and invitations tables.
//
// The server's auth interceptor has already enforced each procedure's policy
// (kinds, roles, verified enterprise) when a handler runs; the handlers here
// check what the policy cannot: that the object belongs to the caller's
// enterprise, that a session is the caller's own, and so on.
package identity

import (
	"log/slog"
	"time"

	"hqconnect/gen/hqconnect/identity/v1/identityv1connect"
	"hqconnect/internal/auth"
	"hqconnect/internal/store"
)

// DefaultInvitationTTL is how long an invitation code works.
const DefaultInvitationTTL = 7 * 24 * time.Hour

// Deps is what the service needs.
type Deps struct {
	DB       *store.DB
	Sessions *auth.Sessions
	Guard    *auth.LoginGuard
	Log      *slog.Logger
	// Now is the clock (UTC, microseconds); store.Now when nil. Tests move it.
	Now func() time.Time
	// InvitationTTL defaults to DefaultInvitationTTL.
	InvitationTTL time.Duration
}

// Service implements the three identity services. Mount it in cmd with
// identityv1connect.NewIdentityServiceHandler(svc, opts...) and its
// Enterprise and Org siblings.
type Service struct {
	db            *store.DB
	sessions      *auth.Sessions
	guard         *auth.LoginGuard
	log           *slog.Logger
	now           func() time.Time
	invitationTTL time.Duration
}

var (
	_ identityv1connect.IdentityServiceHandler   = (*Service)(nil)
	_ identityv1connect.EnterpriseServiceHandler = (*Service)(nil)
	_ identityv1connect.OrgServiceHandler        = (*Service)(nil)
)

// New returns the service.
func New(d Deps) *Service {
	s := &Service{
		db:            d.DB,
		sessions:      d.Sessions,
		guard:         d.Guard,
		log:           d.Log,
		invitationTTL: d.InvitationTTL,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.invitationTTL <= 0 {
		s.invitationTTL = DefaultInvitationTTL
	}
	s.now = store.Clock(d.Now)
	return s
}
