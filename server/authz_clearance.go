package server

import (
	"hqconnect/gen/hqconnect/clearance/v1/clearancev1connect"
	"hqconnect/internal/auth"
)

// systemClients are the customs systems that push declaration events with an
// API key. No user kind is ever listed beside them, and no procedure without
// them listed accepts a key (see authorize).
var systemClients = []auth.Kind{auth.KindSystem}

// clearancePolicies: clearance status: declaration events from the customs system and what enterprises and officers read.
var clearancePolicies = map[string]Policy{
	// Ingest: system clients only; a user's token is refused.
	clearancev1connect.ClearanceIngestServicePushEventsProcedure: {Kinds: systemClients},

	// Reading: verified enterprise users (their tax code) and officers (their
	// branch, or all at the department); the handlers scope the rows.
	clearancev1connect.ClearanceServiceListDeclarationsProcedure: {
		Kinds: []auth.Kind{auth.KindEnterpriseUser, auth.KindOfficer}},
	clearancev1connect.ClearanceServiceGetDeclarationProcedure: {
		Kinds: []auth.Kind{auth.KindEnterpriseUser, auth.KindOfficer}},
	clearancev1connect.ClearanceServiceListDeclarationTypesProcedure: {
		Kinds: []auth.Kind{auth.KindEnterpriseUser, auth.KindOfficer}},
	clearancev1connect.ClearanceServiceClearanceStatsProcedure: {Kinds: officers,
		Roles: []string{auth.RoleUnitHead, auth.RoleDirector}},

	// API keys of system clients.
	clearancev1connect.SystemClientServiceListApiKeysProcedure:  {Kinds: officers, Roles: []string{auth.RoleAdmin}},
	clearancev1connect.SystemClientServiceRevokeApiKeyProcedure: {Kinds: officers, Roles: []string{auth.RoleAdmin}},
}
