package main

import "hqconnect/server"

// issueServices builds the issue capability's handlers (IssueService,
// FaqService, IssueAdminService).
func (m *Main) issueServices() []server.Service { return nil }

// registerIssueJobs registers the issue capability's scheduler jobs (SLA
// warnings and escalations, automatic closing) in a worker process.
func (m *Main) registerIssueJobs() {}
