package main

import (
	"connectrpc.com/connect"
	"context"
	"fmt"
	"net/http"
	"path/filepath"

	"hqconnect/gen/hqconnect/issue/v1/issuev1connect"
	"hqconnect/internal/blob"
	"hqconnect/internal/store"
	"hqconnect/server"
	"hqconnect/server/issues"
	"hqconnect/server/issues/attach"
	"hqconnect/server/issues/catalog"
	"hqconnect/server/issues/faq"
)

// issueParts is the issue capability: the category and calendar catalog,
// attachments, the lifecycle service and the FAQ.
type issueParts struct {
	catalog *catalog.Catalog
	attach  *attach.Store
	svc     *issues.Service
	faq     *faq.Service
}

// issueCapability builds the issue capability once; serve and worker
// processes both need it (handlers, jobs).
func (m *Main) issueCapability(ctx context.Context) (*issueParts, error) {
	if m.issue != nil {
		return m.issue, nil
	}
	dir := m.Config.BlobDir
	if dir == "" {
		dir = filepath.Join(m.Config.VarDir, "blobs")
		m.Log.Warn("development default: attachments are kept in a local directory; set HQ_BLOB_DIR to a volume every instance shares",
			"path", dir)
	}
	blobs, err := blob.NewDir(dir)
	if err != nil {
		return nil, fmt.Errorf("attachment store: %w", err)
	}
	p := &issueParts{catalog: catalog.New(m.DB, nil)}
	p.attach = attach.New(m.DB, blobs, nil).WithLogger(m.Log)
	p.faq = faq.New(faq.Deps{DB: m.DB, Log: m.Log})
	p.svc = issues.New(issues.Deps{DB: m.DB, Scheduler: m.Scheduler, Catalog: p.catalog, Attachments: p.attach, Log: m.Log})
	// The holidays and make-up days of the built-in years, for the admin to
	// see and edit (idempotent; instances may race).
	if err := catalog.SeedCalendar(ctx, m.DB); err != nil {
		return nil, fmt.Errorf("seed the working calendar: %w", err)
	}
	m.issue = p
	return p, nil
}

// issueServices builds the issue capability's handlers (IssueService,
// FaqService, IssueAdminService).
func (m *Main) issueServices(ctx context.Context) ([]server.Service, error) {
	p, err := m.issueCapability(ctx)
	if err != nil {
		return nil, err
	}
	return []server.Service{
		{Name: issuev1connect.IssueServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return issuev1connect.NewIssueServiceHandler(p.svc, o...)
		}},
		{Name: issuev1connect.FaqServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return issuev1connect.NewFaqServiceHandler(p.faq, o...)
		}},
		{Name: issuev1connect.IssueAdminServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return issuev1connect.NewIssueAdminServiceHandler(p.catalog, o...)
		}},
	}, nil
}

// registerIssueJobs registers the issue capability's scheduler jobs (SLA
// warnings and escalations, automatic closing, the upload sweep) in a worker
// process.
func (m *Main) registerIssueJobs(ctx context.Context) error {
	p, err := m.issueCapability(ctx)
	if err != nil {
		return err
	}
	p.svc.RegisterJobs(m.Scheduler)
	p.attach.RegisterJobs(m.Scheduler)
	return nil
}

// seedCapabilitiesDemo gives the demo organisation its capability data
// (categories routed to the demo units), after identity.SeedDemo.
func seedCapabilitiesDemo(ctx context.Context, db *store.DB) error {
	if err := catalog.SeedDemo(ctx, db); err != nil {
		return fmt.Errorf("seed demo issue categories: %w", err)
	}
	return nil
}
