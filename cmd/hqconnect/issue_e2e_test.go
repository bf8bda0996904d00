package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	identityv1 "hqconnect/gen/hqconnect/identity/v1"
	"hqconnect/gen/hqconnect/identity/v1/identityv1connect"
	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/gen/hqconnect/issue/v1/issuev1connect"
	notifyv1 "hqconnect/gen/hqconnect/notify/v1"
	"hqconnect/gen/hqconnect/notify/v1/notifyv1connect"
	"hqconnect/notify/fcmfake"
)

// bearer sends a fixed access token on every call, unary or streaming.
type bearer string

func (b bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(b))
		return next(ctx, req)
	}
}

func (b bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+string(b))
		return conn
	}
}

func (bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

func signIn(t *testing.T, base, login string) connect.ClientOption {
	t.Helper()
	res, err := identityv1connect.NewIdentityServiceClient(http.DefaultClient, base).Login(context.Background(),
		connect.NewRequest(&identityv1.LoginRequest{Identifier: login, Password: DefaultDemoPassword, DeviceName: "e2e"}))
	if err != nil {
		t.Fatalf("Login(%s): %v", login, err)
	}
	return connect.WithInterceptors(bearer(res.Msg.Tokens.AccessToken))
}

// TestIssueInternalNotesNeverReachTheEnterprise runs the whole program with
// the real FCM SDK against the fake FCM server: an enterprise user with a
// registered device and an open WatchUpdates stream raises an issue; the
// officer writes an internal note, a public reply and the answer. The
// enterprise's stream items and pushes carry the reply and the answer, and
// never the note.
func TestIssueInternalNotesNeverReachTheEnterprise(t *testing.T) {
	fake := fcmfake.New()
	fake.SetKeepMessages(true)
	fs := httptest.NewServer(fake)
	t.Cleanup(fs.Close)
	m, base := startMainEnv(t, map[string]string{"HQ_VAR_DIR": t.TempDir(), "HQ_ADDR": "127.0.0.1:0", "HQ_DEMO": "true",
		"FCM_ENDPOINT": fs.URL, "FCM_PROJECT_ID": "hq-e2e"})
	if len(m.DemoAccounts) == 0 {
		t.Fatal("no demo accounts")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h2c := &http.Client{Transport: &http.Transport{Protocols: h2cOnly()}}

	staff := signIn(t, base, "staff@xnk.demo.vn")
	officer := signIn(t, base, "officer@demo.hqconnect.vn")
	const token = "e2e-staff-device-token"
	staffNotify := notifyv1connect.NewNotificationServiceClient(h2c, base, staff)
	if _, err := staffNotify.RegisterDevice(ctx, connect.NewRequest(&notifyv1.RegisterDeviceRequest{
		FcmToken: token, Platform: notifyv1.Platform_PLATFORM_ANDROID, Locale: "vi"})); err != nil {
		t.Fatal(err)
	}
	stream, err := staffNotify.WatchUpdates(ctx, connect.NewRequest(&notifyv1.WatchUpdatesRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	var mu sync.Mutex
	var streamed []*notifyv1.Notification
	go func() {
		for stream.Receive() {
			if n := stream.Msg().GetNotification(); n != nil {
				mu.Lock()
				streamed = append(streamed, n)
				mu.Unlock()
			}
		}
	}()

	staffIssues := issuev1connect.NewIssueServiceClient(http.DefaultClient, base, staff)
	officerIssues := issuev1connect.NewIssueServiceClient(http.DefaultClient, base, officer)
	created, err := staffIssues.CreateIssue(ctx, connect.NewRequest(&issuev1.CreateIssueRequest{
		CategoryId: "0190a000-0000-7000-8000-000000000001", // VNACCS: assigned at once, no approval
		Title:      "Không gửi được tờ khai nhập khẩu A11",
		Body:       "Hệ thống VNACCS báo lỗi khi gửi tờ khai, mong cơ quan hải quan hướng dẫn.",
	}))
	if err != nil {
		t.Fatal(err)
	}
	id := created.Msg.Issue.GetId()
	if created.Msg.Issue.GetStatus() != issuev1.IssueStatus_ISSUE_STATUS_ASSIGNED {
		t.Fatalf("VNACCS issue status %v, want ASSIGNED to the demo officer", created.Msg.Issue.GetStatus())
	}
	const secret = "GHI-CHÚ-NỘI-BỘ-7731"
	for _, msg := range []*issuev1.PostMessageRequest{
		{IssueId: id, Visibility: issuev1.Visibility_VISIBILITY_INTERNAL, Body: "Doanh nghiệp này từng bị nhắc nhở " + secret},
		{IssueId: id, Visibility: issuev1.Visibility_VISIBILITY_PUBLIC, Body: "Chúng tôi đang kiểm tra lỗi trên hệ thống."},
	} {
		if _, err := officerIssues.PostMessage(ctx, connect.NewRequest(msg)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := officerIssues.AnswerIssue(ctx, connect.NewRequest(&issuev1.AnswerIssueRequest{IssueId: id,
		Body: "Lỗi do chữ ký số hết hạn; vui lòng gia hạn chứng thư số rồi gửi lại tờ khai."})); err != nil {
		t.Fatal(err)
	}

	// The reply and the answer reach the stream and the device.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := 0
		for _, s := range streamed {
			if s.GetEntityId() == id {
				n++
			}
		}
		mu.Unlock()
		if n >= 2 && len(fake.MessagesTo(token)) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: %d stream items and %d pushes about the issue, want at least 2 of each", n, len(fake.MessagesTo(token)))
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	for _, s := range streamed {
		if strings.Contains(s.GetTitle()+s.GetBody(), secret) {
			t.Errorf("stream item %q / %q carries the internal note", s.GetTitle(), s.GetBody())
		}
	}
	mu.Unlock()
	for _, msg := range fake.MessagesTo(token) {
		if strings.Contains(string(msg.Raw), secret) {
			t.Errorf("push to the enterprise carries the internal note: %s", msg.Raw)
		}
	}
	// And the inbox the app reads.
	list, err := staffNotify.ListNotifications(ctx, connect.NewRequest(&notifyv1.ListNotificationsRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range list.Msg.GetNotifications() {
		if strings.Contains(n.GetTitle()+n.GetBody(), secret) {
			t.Errorf("inbox item %q carries the internal note", n.GetTitle())
		}
	}
	got, err := staffIssues.GetIssue(ctx, connect.NewRequest(&issuev1.GetIssueRequest{IssueId: id}))
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range got.Msg.GetMessages() {
		if strings.Contains(msg.GetBody(), secret) {
			t.Errorf("GetIssue shows the enterprise the internal note")
		}
	}
}
