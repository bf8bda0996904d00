// Package issues serves hqconnect.issue.v1.IssueService: an enterprise raises
// a problem (vướng mắc), customs routes, answers and signs it within a
// business-time SLA, and the enterprise resolves and rates it. It owns the
// issues, issue_messages, issue_answers and issue_resolutions tables;
// categories and calendars are in catalog, attachments in attach, the FAQ in
// faq.
//
// The server's auth interceptor has already enforced each procedure's policy
// when a handler runs; the handlers here check what the policy cannot: that
// the issue belongs to the caller's enterprise, or is in the officer's unit
// or below it, and that the transition is legal.
package issues

import (
	"log/slog"
	"time"

	"hqconnect/gen/hqconnect/issue/v1/issuev1connect"
	"hqconnect/internal/scheduler"
	"hqconnect/internal/store"
	"hqconnect/server/issues/attach"
	"hqconnect/server/issues/catalog"
)

// Deps is what the service needs.
type Deps struct {
	DB *store.DB
	// Scheduler stores the SLA and auto-close jobs (every process can
	// schedule; workers run them after RegisterJobs).
	Scheduler   *scheduler.Scheduler
	Catalog     *catalog.Catalog
	Attachments *attach.Store
	Log         *slog.Logger
	// Now is the clock; store.Now when nil. Tests move it.
	Now func() time.Time
}

// Service implements IssueService.
type Service struct {
	db     *store.DB
	sched  *scheduler.Scheduler
	cat    *catalog.Catalog
	attach *attach.Store
	log    *slog.Logger
	now    func() time.Time
}

var _ issuev1connect.IssueServiceHandler = (*Service)(nil)

// New returns the service.
func New(d Deps) *Service {
	s := &Service{db: d.DB, sched: d.Scheduler, cat: d.Catalog, attach: d.Attachments, log: d.Log, now: store.Clock(d.Now)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}
