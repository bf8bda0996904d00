package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"

	clearancev1 "hqconnect/gen/hqconnect/clearance/v1"
	"hqconnect/gen/hqconnect/clearance/v1/clearancev1connect"
	"hqconnect/internal/auth"
)

// A key made with `hqconnect apikey create` works against `serve` for the
// ingest and nothing else.
func TestAPIKeyCommand(t *testing.T) {
	dir := t.TempDir()
	getenv := func(k string) string { return map[string]string{"HQ_VAR_DIR": dir}[k] }
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"apikey", "create", "--name", "VNACCS gateway"}, getenv, &out, &errOut); err != nil {
		t.Fatalf("apikey create: %v\n%s", err, errOut.String())
	}
	key := strings.TrimSpace(out.String())
	if !auth.IsAPIKey(key) || strings.Contains(errOut.String(), key) {
		t.Fatalf("stdout %q, stderr %q", out.String(), errOut.String())
	}
	if err := run(context.Background(), []string{"apikey", "create"}, getenv, &out, &errOut); err == nil {
		t.Fatal("no --name accepted")
	}

	_, base := startMainEnv(t, map[string]string{"HQ_VAR_DIR": dir, "HQ_ADDR": "127.0.0.1:0", "HQ_WORKER": "false"})
	ingest := clearancev1connect.NewClearanceIngestServiceClient(http.DefaultClient, base)
	req := connect.NewRequest(&clearancev1.PushEventsRequest{})
	req.Header().Set("Authorization", "Bearer "+key)
	if _, err := ingest.PushEvents(context.Background(), req); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("PushEvents with the key: %v, want InvalidArgument (no events)", err)
	}
	reads := clearancev1connect.NewClearanceServiceClient(http.DefaultClient, base)
	lreq := connect.NewRequest(&clearancev1.ListDeclarationsRequest{})
	lreq.Header().Set("Authorization", "Bearer "+key)
	if _, err := reads.ListDeclarations(context.Background(), lreq); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("ListDeclarations with the key: %v, want PermissionDenied", err)
	}
}
