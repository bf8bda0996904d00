package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// serveHealthz answers 200 while the process is up.
func serveHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, "ok")
}

// readyReport is the body of /readyz.
type readyReport struct {
	Status string        `json:"status"` // "ready", "not ready" or "shutting down"
	Checks []checkResult `json:"checks"`
}

type checkResult struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// serveReadyz runs every ReadyCheck at once, each bounded by 2 s, and
// answers 200 when all pass, else 503 naming each failure.
func (s *Server) serveReadyz(w http.ResponseWriter, r *http.Request) {
	report := readyReport{Status: "ready", Checks: make([]checkResult, len(s.ready))}
	var wg sync.WaitGroup
	for i, rc := range s.ready {
		wg.Go(func() {
			res := checkResult{Name: rc.Name, OK: true}
			if err := runCheck(r.Context(), rc); err != nil {
				res.OK, res.Error = false, err.Error()
			}
			report.Checks[i] = res
		})
	}
	wg.Wait()

	status := http.StatusOK
	for _, c := range report.Checks {
		if !c.OK {
			status, report.Status = http.StatusServiceUnavailable, "not ready"
			s.log.WarnContext(r.Context(), "readiness check failed", "check", c.Name, "error", c.Error)
		}
	}
	if s.draining.Err() != nil {
		status, report.Status = http.StatusServiceUnavailable, "shutting down"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(report)
}

// runCheck runs one check within readyCheckTimeout, even if the check
// ignores its context, and turns a panic into an error.
func runCheck(ctx context.Context, rc ReadyCheck) error {
	ctx, cancel := context.WithTimeout(ctx, readyCheckTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- fmt.Errorf("panic: %v", v)
			}
		}()
		done <- rc.Check(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no answer within %s: %w", readyCheckTimeout, ctx.Err())
	}
}
