package server

import (
	"hqconnect/gen/hqconnect/issue/v1/issuev1connect"
	"hqconnect/internal/auth"
)

var (
	issueAdmins = Policy{Kinds: officers, Roles: []string{auth.RoleAdmin}}
	// anyUser is any signed-in officer or user of a verified enterprise;
	// the handler decides what of the issue the caller may see.
	anyUser = Policy{Kinds: []auth.Kind{auth.KindOfficer, auth.KindEnterpriseUser}}
)

// issuePolicies: issues (vướng mắc), FAQ and their administration. Object
// checks (the caller's enterprise, the officer's unit and the units below
// it, the assignee, the delegated signer) are in server/issues.
var issuePolicies = map[string]Policy{
	issuev1connect.IssueServiceCreateIssueProcedure:        {Kinds: enterpriseUsers},
	issuev1connect.IssueServiceGetIssueProcedure:           anyUser,
	issuev1connect.IssueServiceListIssuesProcedure:         anyUser,
	issuev1connect.IssueServiceAssignIssueProcedure:        {Kinds: officers},
	issuev1connect.IssueServiceTransferIssueProcedure:      {Kinds: officers},
	issuev1connect.IssueServicePostMessageProcedure:        anyUser,
	issuev1connect.IssueServiceRequestInformationProcedure: {Kinds: officers},
	issuev1connect.IssueServiceAnswerIssueProcedure:        {Kinds: officers},
	issuev1connect.IssueServiceApproveAnswerProcedure:      {Kinds: officers},
	issuev1connect.IssueServiceRejectAnswerProcedure:       {Kinds: officers},
	issuev1connect.IssueServiceResolveIssueProcedure:       {Kinds: enterpriseUsers},
	issuev1connect.IssueServiceReopenIssueProcedure:        {Kinds: enterpriseUsers},
	issuev1connect.IssueServiceCloseIssueProcedure:         anyUser,
	issuev1connect.IssueServiceRateIssueProcedure:          {Kinds: enterpriseUsers},
	issuev1connect.IssueServiceUploadAttachmentProcedure:   anyUser,
	issuev1connect.IssueServiceGetAttachmentProcedure:      anyUser,
	issuev1connect.IssueServiceGetSatisfactionProcedure:    {Kinds: officers, Roles: []string{auth.RoleUnitHead, auth.RoleDirector}},
	issuev1connect.IssueServiceListCategoriesProcedure:     {Kinds: []auth.Kind{auth.KindOfficer, auth.KindEnterpriseUser}, AllowUnverified: true},

	issuev1connect.FaqServicePublishFaqProcedure:  {Kinds: officers},
	issuev1connect.FaqServiceUpdateFaqProcedure:   {Kinds: officers},
	issuev1connect.FaqServiceWithdrawFaqProcedure: {Kinds: officers},
	issuev1connect.FaqServiceGetFaqProcedure:      {Kinds: []auth.Kind{auth.KindOfficer, auth.KindEnterpriseUser}, AllowUnverified: true},
	issuev1connect.FaqServiceSearchFaqProcedure:   {Kinds: []auth.Kind{auth.KindOfficer, auth.KindEnterpriseUser}, AllowUnverified: true},
	issuev1connect.FaqServiceSuggestFaqProcedure:  {Kinds: []auth.Kind{auth.KindOfficer, auth.KindEnterpriseUser}, AllowUnverified: true},

	issuev1connect.IssueAdminServiceListAllCategoriesProcedure: issueAdmins,
	issuev1connect.IssueAdminServiceCreateCategoryProcedure:    issueAdmins,
	issuev1connect.IssueAdminServiceUpdateCategoryProcedure:    issueAdmins,
	issuev1connect.IssueAdminServiceListCalendarDaysProcedure:  issueAdmins,
	issuev1connect.IssueAdminServiceSetCalendarDayProcedure:    issueAdmins,
	issuev1connect.IssueAdminServiceDeleteCalendarDayProcedure: issueAdmins,
	issuev1connect.IssueAdminServiceGetWorkingHoursProcedure:   issueAdmins,
	issuev1connect.IssueAdminServiceSetWorkingHoursProcedure:   issueAdmins,
}
