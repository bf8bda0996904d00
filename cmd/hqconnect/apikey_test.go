package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	clearancev1 "hqconnect/gen/hqconnect/clearance/v1"
	"hqconnect/gen/hqconnect/clearance/v1/clearancev1connect"
	identityv1 "hqconnect/gen/hqconnect/identity/v1"
	"hqconnect/gen/hqconnect/identity/v1/identityv1connect"
	notifyv1 "hqconnect/gen/hqconnect/notify/v1"
	"hqconnect/gen/hqconnect/notify/v1/notifyv1connect"
	"hqconnect/internal/auth"
	"hqconnect/internal/testkit"
	"hqconnect/notify/fcmfake"
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

// The whole path: a system client pushes a clearance, serve's pipeline
// delivers it to the device of the enterprise's user through the real FCM
// SDK, critical, one collapse key per declaration.
func TestClearancePushEndToEnd(t *testing.T) {
	fake := fcmfake.New()
	fake.SetKeepMessages(true)
	fs := httptest.NewServer(fake)
	t.Cleanup(fs.Close)
	dir := t.TempDir()
	env := map[string]string{"HQ_VAR_DIR": dir, "HQ_ADDR": "127.0.0.1:0", "HQ_DEMO": "true", "FCM_ENDPOINT": fs.URL}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"apikey", "create", "--name", "VNACCS"}, func(k string) string { return env[k] }, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(out.String())
	_, base := startMainEnv(t, env)
	ctx := context.Background()

	login := testkit.Got(identityv1connect.NewIdentityServiceClient(http.DefaultClient, base).Login(ctx,
		connect.NewRequest(&identityv1.LoginRequest{Identifier: "staff@xnk.demo.vn", Password: DefaultDemoPassword}))).Must(t)
	dev := connect.NewRequest(&notifyv1.RegisterDeviceRequest{FcmToken: "tok-staff", Platform: notifyv1.Platform_PLATFORM_ANDROID, Locale: "vi"})
	dev.Header().Set("Authorization", "Bearer "+login.Tokens.AccessToken)
	testkit.Got(notifyv1connect.NewNotificationServiceClient(http.DefaultClient, base).RegisterDevice(ctx, dev)).Must(t)

	at := time.Now().Add(-time.Hour)
	req := connect.NewRequest(&clearancev1.PushEventsRequest{Events: []*clearancev1.Event{{
		DeclarationNumber: "305123456789", Sequence: 1, TaxCode: "0100109106", TypeCode: "E52", CustomsOffice: "DEMOCK1",
		Direction: clearancev1.Direction_DIRECTION_EXPORT, Kind: clearancev1.EventKind_EVENT_KIND_CLEARED,
		EventTime: timestamppb.New(at),
	}}})
	req.Header().Set("Authorization", "Bearer "+key)
	if res := testkit.Got(clearancev1connect.NewClearanceIngestServiceClient(http.DefaultClient, base).PushEvents(ctx, req)).Must(t); res.Accepted != 1 {
		t.Fatalf("results %v", res.Results)
	}
	var push *fcmfake.Message
	testkit.Eventually(t, "the clearance push", func() bool {
		for _, m := range fake.MessagesTo("tok-staff") {
			if m.Data["kind"] == "declaration" {
				push = &m
				return true
			}
		}
		return false
	})
	if push.Title != "Tờ khai 305123456789: đã thông quan" || push.Data["id"] != "305123456789" ||
		push.AndroidCollapseKey != "declaration:305123456789" || push.AndroidPriority != "high" {
		t.Fatalf("push %+v", push)
	}
}
