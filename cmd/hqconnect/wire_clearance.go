package main

import (
	"net/http"

	"connectrpc.com/connect"

	"hqconnect/gen/hqconnect/clearance/v1/clearancev1connect"
	"hqconnect/server"
	"hqconnect/server/clearance"
)

// clearanceServices builds the clearance capability's handlers
// (ClearanceIngestService for system clients, ClearanceService,
// SystemClientService).
func (m *Main) clearanceServices() []server.Service {
	svc := clearance.New(clearance.Deps{DB: m.DB, Log: m.Log})
	return []server.Service{
		{Name: clearancev1connect.ClearanceIngestServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return clearancev1connect.NewClearanceIngestServiceHandler(svc, o...)
		}},
		{Name: clearancev1connect.ClearanceServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return clearancev1connect.NewClearanceServiceHandler(svc, o...)
		}},
		{Name: clearancev1connect.SystemClientServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return clearancev1connect.NewSystemClientServiceHandler(svc, o...)
		}},
	}
}

// registerClearanceJobs registers the clearance capability's scheduler jobs
// in a worker process. It has none: its pushes go through the outbox.
func (m *Main) registerClearanceJobs() {}
