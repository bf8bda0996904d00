package server

import (
	"hqconnect/gen/hqconnect/audit/v1/auditv1connect"
	"hqconnect/gen/hqconnect/identity/v1/identityv1connect"
	"hqconnect/gen/hqconnect/notify/v1/notifyv1connect"
	"hqconnect/internal/auth"
)

// Policy says who may call a procedure. The auth interceptor enforces it
// before the handler runs; handlers then check object ownership.
type Policy struct {
	// Public procedures need no access token (a token, if sent, is ignored).
	Public bool
	// Kinds that may call; empty means any signed-in kind.
	Kinds []auth.Kind
	// Roles of which the caller needs at least one; empty means any role.
	Roles []string
	// AllowUnverified lets users of a pending or rejected enterprise call.
	// Everything else refuses them until their enterprise is verified.
	AllowUnverified bool
}

var (
	officers        = []auth.Kind{auth.KindOfficer}
	enterpriseUsers = []auth.Kind{auth.KindEnterpriseUser}
	signedIn        = Policy{AllowUnverified: true}
)

// Policies declares every procedure the server serves. A procedure missing
// here is refused (PermissionDenied) for everyone; a test checks that every
// procedure of every mounted service is declared. Each capability keeps its
// table in a file of its own (authz_<capability>.go).
var Policies = mergePolicies(corePolicies, issuePolicies, clearancePolicies)

// mergePolicies joins the capability tables; a procedure declared twice is
// a programming error.
func mergePolicies(tables ...map[string]Policy) map[string]Policy {
	all := map[string]Policy{}
	for _, t := range tables {
		for proc, p := range t {
			if _, dup := all[proc]; dup {
				panic("server: procedure " + proc + " has two policies")
			}
			all[proc] = p
		}
	}
	return all
}

// corePolicies: identity, audit, notifications and infrastructure.
var corePolicies = map[string]Policy{
	// Identity: sign-in and the caller's own account.
	identityv1connect.IdentityServiceLoginProcedure:              {Public: true},
	identityv1connect.IdentityServiceRefreshProcedure:            {Public: true},
	identityv1connect.IdentityServiceRegisterEnterpriseProcedure: {Public: true},
	identityv1connect.IdentityServiceAcceptInvitationProcedure:   {Public: true},
	identityv1connect.IdentityServiceLogoutProcedure:             signedIn,
	identityv1connect.IdentityServiceListSessionsProcedure:       signedIn,
	identityv1connect.IdentityServiceRevokeSessionProcedure:      signedIn,
	identityv1connect.IdentityServiceChangePasswordProcedure:     signedIn,
	identityv1connect.IdentityServiceGetMeProcedure:              signedIn,

	// Enterprises: staff management by the enterprise, verification by customs.
	identityv1connect.EnterpriseServiceInviteStaffProcedure:     {Kinds: enterpriseUsers, Roles: []string{auth.RoleEnterpriseAdmin}},
	identityv1connect.EnterpriseServiceListStaffProcedure:       {Kinds: enterpriseUsers, Roles: []string{auth.RoleEnterpriseAdmin}},
	identityv1connect.EnterpriseServiceDisableStaffProcedure:    {Kinds: enterpriseUsers, Roles: []string{auth.RoleEnterpriseAdmin}},
	identityv1connect.EnterpriseServiceEnableStaffProcedure:     {Kinds: enterpriseUsers, Roles: []string{auth.RoleEnterpriseAdmin}},
	identityv1connect.EnterpriseServiceListEnterprisesProcedure: {Kinds: officers},
	identityv1connect.EnterpriseServiceGetEnterpriseProcedure:   {Kinds: officers},
	identityv1connect.EnterpriseServiceVerifyEnterpriseProcedure: {Kinds: officers,
		Roles: []string{auth.RoleUnitHead, auth.RoleDirector, auth.RoleAdmin}},
	identityv1connect.EnterpriseServiceRejectEnterpriseProcedure: {Kinds: officers,
		Roles: []string{auth.RoleUnitHead, auth.RoleDirector, auth.RoleAdmin}},

	// Organisation.
	identityv1connect.OrgServiceCreateOrgUnitProcedure: {Kinds: officers, Roles: []string{auth.RoleAdmin}},
	identityv1connect.OrgServiceListOrgUnitsProcedure:  {},
	identityv1connect.OrgServiceCreateOfficerProcedure: {Kinds: officers, Roles: []string{auth.RoleAdmin}},
	identityv1connect.OrgServiceListOfficersProcedure:  {Kinds: officers},
	identityv1connect.OrgServiceUpdateOfficerProcedure: {Kinds: officers, Roles: []string{auth.RoleAdmin}},

	// Audit.
	auditv1connect.AuditServiceListAuditEventsProcedure: {Kinds: officers, Roles: []string{auth.RoleAdmin}},

	// Notifications: every call acts on the caller's own devices and inbox. A
	// user of a pending enterprise is told when it is verified, so the inbox
	// is open to them too.
	notifyv1connect.NotificationServiceRegisterDeviceProcedure:    signedIn,
	notifyv1connect.NotificationServiceUnregisterDeviceProcedure:  signedIn,
	notifyv1connect.NotificationServiceListNotificationsProcedure: signedIn,
	notifyv1connect.NotificationServiceMarkReadProcedure:          signedIn,
	notifyv1connect.NotificationServiceUnreadCountProcedure:       signedIn,
	notifyv1connect.NotificationServiceGetPreferencesProcedure:    signedIn,
	notifyv1connect.NotificationServiceUpdatePreferencesProcedure: signedIn,
	notifyv1connect.NotificationServiceWatchUpdatesProcedure:      signedIn,
	notifyv1connect.NotifyAdminServiceListDeadLettersProcedure:    {Kinds: officers, Roles: []string{auth.RoleAdmin}},
	notifyv1connect.NotifyAdminServiceReplayDeadLetterProcedure:   {Kinds: officers, Roles: []string{auth.RoleAdmin}},

	// Infrastructure: health and reflection are public.
	"/grpc.health.v1.Health/Check":                                   {Public: true},
	"/grpc.health.v1.Health/Watch":                                   {Public: true},
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      {Public: true},
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": {Public: true},
}
