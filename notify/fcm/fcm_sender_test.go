package fcm

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"hqconnect/notify/fcmfake"
)

const testProject = "hq-test"

// newFake starts a fake FCM and an FCMSender pointed at it through the real SDK.
func newFake(t *testing.T) (*fcmfake.Server, *FCMSender) {
	t.Helper()
	fake := fcmfake.New()
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)
	s, err := NewFCMSender(t.Context(), Config{ProjectID: testProject, Endpoint: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return fake, s
}

func tokens(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%05d", prefix, i)
	}
	return out
}

func clearancePush(toks ...string) Push {
	return Push{
		Tokens:      toks,
		Title:       "Tờ khai 305123456789",
		Body:        "Tờ khai 305123456789: đã thông quan",
		Data:        map[string]string{"kind": "declaration", "id": "305123456789"},
		CollapseKey: "declaration:305123456789",
		Critical:    true,
		TTL:         2 * time.Hour,
	}
}

func TestFCMSenderPersonalPush(t *testing.T) {
	fake, s := newFake(t)
	toks := []string{"tok-android", "tok-ios", "tok-web"}
	before := time.Now()
	res, err := s.Send(t.Context(), clearancePush(toks...))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 {
		t.Fatalf("%d results, want 3", len(res))
	}
	for i, r := range res {
		if r.Token != toks[i] || r.Status != StatusAccepted || r.Err != nil || !strings.HasPrefix(r.MessageID, "projects/"+testProject+"/messages/") {
			t.Errorf("result %d = %+v", i, r)
		}
	}
	msgs := fake.Messages()
	if len(msgs) != 3 {
		t.Fatalf("fake recorded %d messages, want 3", len(msgs))
	}
	for _, tok := range toks {
		got := fake.MessagesTo(tok)
		if len(got) != 1 {
			t.Fatalf("%s: %d messages, want 1", tok, len(got))
		}
		m := got[0]
		check := func(name, got, want string) {
			t.Helper()
			if got != want {
				t.Errorf("%s: %s = %q, want %q", tok, name, got, want)
			}
		}
		check("project", m.Project, testProject)
		check("title", m.Title, "Tờ khai 305123456789")
		check("body", m.Body, "Tờ khai 305123456789: đã thông quan")
		check("data.kind", m.Data["kind"], "declaration")
		check("data.id", m.Data["id"], "305123456789")
		check("android priority", m.AndroidPriority, "high")
		check("android collapse key", m.AndroidCollapseKey, "declaration:305123456789")
		check("android ttl", m.AndroidTTL, "7200s")
		check("android tag", m.AndroidTag, "declaration:305123456789")
		check("apns-priority", m.APNSHeaders["apns-priority"], "10")
		check("apns-push-type", m.APNSHeaders["apns-push-type"], "alert")
		check("apns-collapse-id", m.APNSHeaders["apns-collapse-id"], "declaration:305123456789")
		check("webpush Urgency", m.WebpushHeaders["Urgency"], "high")
		check("webpush TTL", m.WebpushHeaders["TTL"], "7200")
		check("authorization", m.Authorization, "")
		exp, err := strconv.ParseInt(m.APNSHeaders["apns-expiration"], 10, 64)
		if want := before.Add(2 * time.Hour).Unix(); err != nil || exp < want-1 || exp > want+60 {
			t.Errorf("%s: apns-expiration %q, want ≈ %d", tok, m.APNSHeaders["apns-expiration"], want)
		}
		var raw struct{ Message map[string]any }
		if err := json.Unmarshal(m.Raw, &raw); err != nil || raw.Message["token"] != tok {
			t.Errorf("%s: raw request %s", tok, m.Raw)
		}
	}
}

func TestFCMSenderNormalPriority(t *testing.T) {
	fake, s := newFake(t)
	p := Push{Tokens: []string{"t1"}, Title: "Lịch tiếp xúc", Body: "Chi cục Hải quan cửa khẩu cảng Sài Gòn khu vực I đã xác nhận lịch hẹn."}
	if _, err := s.Send(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	m := fake.MessagesTo("t1")[0]
	if m.AndroidPriority != "normal" || m.AndroidTTL != "86400s" || m.APNSHeaders["apns-priority"] != "5" || m.WebpushHeaders["Urgency"] != "normal" {
		t.Errorf("normal push = priority %q ttl %q apns %q urgency %q", m.AndroidPriority, m.AndroidTTL, m.APNSHeaders["apns-priority"], m.WebpushHeaders["Urgency"])
	}
}

func TestFCMSenderChunksOf500(t *testing.T) {
	fake, s := newFake(t)
	var mu sync.Mutex
	var chunks []int
	s.onChunk = func(n int) { mu.Lock(); chunks = append(chunks, n); mu.Unlock() }

	toks := tokens("bulk", 1200)
	res, err := s.Send(t.Context(), clearancePush(append(toks, toks[:10]...)...)) // duplicates are sent once
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1200 {
		t.Fatalf("%d results, want 1200", len(res))
	}
	for i, r := range res {
		if r.Token != toks[i] || r.Status != StatusAccepted {
			t.Fatalf("result %d = %+v", i, r)
		}
	}
	slices.Sort(chunks)
	if !slices.Equal(chunks, []int{200, 500, 500}) {
		t.Errorf("SDK calls with %v tokens, want [200 500 500]", chunks)
	}
	if fake.Count() != 1200 || fake.Requests() != 1200 {
		t.Errorf("fake: %d messages in %d requests, want 1200", fake.Count(), fake.Requests())
	}
	for _, tok := range []string{toks[0], toks[499], toks[500], toks[1199]} {
		if n := len(fake.MessagesTo(tok)); n != 1 {
			t.Errorf("%s got %d messages", tok, n)
		}
	}
}

func TestFCMSenderStatuses(t *testing.T) {
	tests := []struct {
		name       string
		kind       fcmfake.Failure
		times      int
		retryAfter time.Duration
		status     Status
		wantRA     time.Duration
		attempts   int
	}{
		{"UNREGISTERED is gone", fcmfake.Unregistered, -1, 0, StatusGone, 0, 1},
		{"SENDER_ID_MISMATCH is gone", fcmfake.SenderMismatch, -1, 0, StatusGone, 0, 1},
		{"invalid registration token is gone", fcmfake.InvalidArgument, -1, 0, StatusGone, 0, 1},
		{"invalid message is rejected", fcmfake.InvalidMessage, -1, 0, StatusRejected, 0, 1},
		{"429 is failed with Retry-After", fcmfake.QuotaExceeded, -1, 7 * time.Second, StatusFailed, 7 * time.Second, 1},
		{"429 without Retry-After", fcmfake.QuotaExceeded, 1, 0, StatusFailed, 0, 1},
		{"500 is failed, not retried by the SDK", fcmfake.Internal, -1, 0, StatusFailed, 0, 1},
		{"503 twice is retried by the SDK and accepted", fcmfake.Unavailable, 2, 0, StatusAccepted, 0, 3},
		// A Retry-After beyond the SDK's 2-minute ceiling stops its retries at once.
		{"503 with a long Retry-After is failed with it", fcmfake.Unavailable, -1, 3 * time.Minute, StatusFailed, 3 * time.Minute, 1},
		{"APNs auth error is failed (our configuration)", fcmfake.ThirdPartyAuth, -1, 0, StatusFailed, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake, s := newFake(t)
			fake.FailToken("bad", tt.kind, tt.times, tt.retryAfter)
			res, err := s.Send(t.Context(), clearancePush("good-1", "bad", "good-2"))
			if err != nil {
				t.Fatal(err)
			}
			if res[0].Status != StatusAccepted || res[2].Status != StatusAccepted {
				t.Errorf("the good tokens: %v, %v", res[0].Status, res[2].Status)
			}
			r := res[1]
			if r.Token != "bad" || r.Status != tt.status || r.RetryAfter != tt.wantRA {
				t.Errorf("bad token: status %v retry-after %s (err %v), want %v %s", r.Status, r.RetryAfter, r.Err, tt.status, tt.wantRA)
			}
			if (r.Status == StatusAccepted) != (r.Err == nil) {
				t.Errorf("status %v with err %v", r.Status, r.Err)
			}
			if n := fake.Attempts("bad"); n != tt.attempts {
				t.Errorf("fake saw %d attempts for the bad token, want %d", n, tt.attempts)
			}
			wantMsgs := 0
			if tt.status == StatusAccepted {
				wantMsgs = 1
			}
			if n := len(fake.MessagesTo("bad")); n != wantMsgs {
				t.Errorf("fake recorded %d messages for the bad token, want %d", n, wantMsgs)
			}
		})
	}
}

func TestFCMSenderTopicSend(t *testing.T) {
	fake, s := newFake(t)
	res, err := s.Send(t.Context(), Push{
		Topic: "/topics/notices-all", Title: "Thông báo mới",
		Body: "Thông tư 39/2018/TT-BTC sửa đổi thủ tục hải quan", Data: map[string]string{"kind": "notice", "id": "01JNOTICE"},
		CollapseKey: "notice:01JNOTICE",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Token != "" || res[0].Topic != "notices-all" || res[0].Status != StatusAccepted || res[0].MessageID == "" {
		t.Fatalf("topic send = %+v", res)
	}
	msgs := fake.Messages()
	if len(msgs) != 1 || msgs[0].Topic != "notices-all" || msgs[0].Token != "" || msgs[0].Title != "Thông báo mới" {
		t.Fatalf("fake recorded %+v", msgs)
	}
	var raw struct{ Message map[string]any }
	if err := json.Unmarshal(msgs[0].Raw, &raw); err != nil || raw.Message["topic"] != "notices-all" {
		t.Errorf("raw request %s has no \"topic\"", msgs[0].Raw)
	}

	// Topic messages get 2 KB at FCM (the fake enforces it): a long notice is shortened to fit.
	long := strings.Repeat("Thông tư 39/2018/TT-BTC sửa đổi, bổ sung thủ tục hải quan; kiểm tra, giám sát hải quan. ", 60)
	res, err = s.Send(t.Context(), Push{Topic: "notices-all", Title: "Thông báo mới", Body: long})
	if err != nil || res[0].Status != StatusAccepted {
		t.Fatalf("long topic push: %+v, %v", res, err)
	}
	if got := fake.Messages()[1].Body; !strings.HasSuffix(got, "…") || len(got) > FCMTopicPayloadLimit {
		t.Errorf("long topic body: %d bytes", len(got))
	}

	fake.FailTopic("notices-all", fcmfake.QuotaExceeded, 1, 30*time.Second)
	res, err = s.Send(t.Context(), Push{Topic: "notices-all", Title: "Thông báo", Body: "x"})
	if err != nil || res[0].Status != StatusFailed || res[0].RetryAfter != 30*time.Second {
		t.Errorf("throttled topic send = %+v, %v", res, err)
	}
}

func TestFCMSenderTopicManagement(t *testing.T) {
	t.Run("through Endpoint", func(t *testing.T) {
		fake, s := newFake(t)
		testTopicManagement(t, fake, s)
	})
	t.Run("through a TopicEndpoint with a path prefix", func(t *testing.T) {
		msgFake, topicFake := fcmfake.New(), fcmfake.New()
		msgTS := httptest.NewServer(msgFake)
		t.Cleanup(msgTS.Close)
		topicTS := httptest.NewServer(http.StripPrefix("/staging-iid", topicFake))
		t.Cleanup(topicTS.Close)
		s, err := NewFCMSender(t.Context(), Config{ProjectID: testProject, Endpoint: msgTS.URL, TopicEndpoint: topicTS.URL + "/staging-iid/"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		testTopicManagement(t, topicFake, s)
		if n := len(msgFake.Subscribers("notices-hs-84")); n != 0 {
			t.Errorf("the messages fake got %d subscribers", n)
		}
	})
}

func testTopicManagement(t *testing.T, fake *fcmfake.Server, s *FCMSender) {
	t.Helper()
	ctx := t.Context()
	fake.FailToken("tok-uninstalled", fcmfake.Unregistered, -1, 0)
	fake.FailToken("tok-flaky", fcmfake.Internal, 1, 0)
	toks := []string{"tok-a", "tok-uninstalled", "tok-b", "tok-flaky"}
	res, err := s.SubscribeToTopic(ctx, toks, "notices-hs-84")
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 4 {
		t.Fatalf("%d results, want 4", len(res))
	}
	var te *TopicError
	switch {
	case res[0].Err != nil || res[2].Err != nil:
		t.Errorf("good tokens: %+v %+v", res[0], res[2])
	case !res[1].Gone || !errors.As(res[1].Err, &te) || te.Reason != "NOT_FOUND":
		t.Errorf("uninstalled token: %+v", res[1])
	case res[3].Gone || !errors.As(res[3].Err, &te) || te.Reason != "INTERNAL":
		t.Errorf("flaky token: %+v", res[3])
	}
	if got := fake.Subscribers("notices-hs-84"); !slices.Equal(got, []string{"tok-a", "tok-b"}) {
		t.Errorf("subscribers = %v", got)
	}
	// The retry of the flaky token succeeds.
	if res, err := s.SubscribeToTopic(ctx, []string{"tok-flaky"}, "/topics/notices-hs-84"); err != nil || res[0].Err != nil {
		t.Errorf("retry = %+v, %v", res, err)
	}
	if _, err := s.UnsubscribeFromTopic(ctx, []string{"tok-a"}, "notices-hs-84"); err != nil {
		t.Fatal(err)
	}
	if got := fake.Subscribers("notices-hs-84"); !slices.Equal(got, []string{"tok-b", "tok-flaky"}) {
		t.Errorf("after unsubscribe: subscribers = %v", got)
	}
	// More than 1000 tokens go in several calls.
	many := tokens("sub", 2500)
	res, err = s.SubscribeToTopic(ctx, many, "notices-all")
	if err != nil || len(res) != 2500 {
		t.Fatalf("2500 tokens: %d results, %v", len(res), err)
	}
	if n := len(fake.Subscribers("notices-all")); n != 2500 {
		t.Errorf("%d subscribers, want 2500", n)
	}
	if _, err := s.SubscribeToTopic(ctx, []string{"x"}, "thông báo"); !errors.Is(err, ErrInvalidPush) {
		t.Errorf("bad topic name: %v", err)
	}
}

func TestFCMSenderTopicCallFailure(t *testing.T) {
	// A topic endpoint that answers 500 to every call: the whole call fails for each token.
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"error":"INTERNAL"}`))
	}))
	t.Cleanup(ts.Close)
	fake := httptest.NewServer(fcmfake.New())
	t.Cleanup(fake.Close)
	s, err := NewFCMSender(t.Context(), Config{ProjectID: testProject, Endpoint: fake.URL, TopicEndpoint: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.SubscribeToTopic(t.Context(), []string{"a", "b"}, "notices-all")
	if err == nil || len(res) != 2 || res[0].Err == nil || res[1].Err == nil || res[0].Gone {
		t.Fatalf("results %+v, err %v", res, err)
	}
}

func TestFCMSenderFitsPayloadAndValidates(t *testing.T) {
	fake, s := newFake(t)
	p := clearancePush("t1")
	p.Body = strings.Repeat("Hàng hoá thuộc tờ khai 305123456789 đã được thông quan và giải phóng hàng. ", 100)
	res, err := s.Send(t.Context(), p)
	if err != nil || res[0].Status != StatusAccepted {
		t.Fatalf("long push: %+v, %v", res, err)
	}
	m := fake.MessagesTo("t1")[0]
	if !strings.HasSuffix(m.Body, "…") || len(m.Body) >= len(p.Body) {
		t.Errorf("body not shortened: %d bytes", len(m.Body))
	}

	if _, err := s.Send(t.Context(), Push{Tokens: []string{"t1"}, Topic: "x"}); !errors.Is(err, ErrInvalidPush) {
		t.Errorf("invalid push: %v", err)
	}
	if fake.Requests() != 1 {
		t.Errorf("the invalid push reached the fake: %d requests", fake.Requests())
	}
}

func TestFCMSenderCanceledContext(t *testing.T) {
	_, s := newFake(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res, err := s.Send(ctx, clearancePush(tokens("c", 1200)...))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1200 {
		t.Fatalf("%d results", len(res))
	}
	for _, r := range res {
		if r.Status != StatusFailed || r.Err == nil {
			t.Fatalf("canceled send: %+v", r)
		}
	}
}

func TestFCMSenderWithServiceAccount(t *testing.T) {
	fake := fcmfake.New()
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	sa, _ := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     "hq-from-key",
		"private_key_id": "key-1",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   "fcm-sender@hq-from-key.iam.gserviceaccount.com",
		"client_id":      "1",
		"token_uri":      ts.URL + "/token",
	})
	file := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(file, sa, 0o600); err != nil {
		t.Fatal(err)
	}

	s, err := NewFCMSender(t.Context(), Config{CredentialsFile: file, Endpoint: ts.URL, TopicEndpoint: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	res, err := s.Send(t.Context(), clearancePush("t1"))
	if err != nil || res[0].Status != StatusAccepted {
		t.Fatalf("send: %+v, %v", res, err)
	}
	m := fake.MessagesTo("t1")[0]
	if m.Project != "hq-from-key" || m.Authorization != "Bearer "+fcmfake.AccessToken {
		t.Errorf("project %q, authorization %q", m.Project, m.Authorization)
	}
	if res, err := s.SubscribeToTopic(t.Context(), []string{"t1"}, "notices-all"); err != nil || res[0].Err != nil {
		t.Errorf("subscribe: %+v, %v", res, err)
	}

	if _, err := NewFCMSender(t.Context(), Config{CredentialsFile: filepath.Join(t.TempDir(), "missing.json")}); err == nil {
		t.Error("a missing credentials file was accepted")
	}
}

// BenchmarkFCMSender100kTokens hands one push for 100,000 tokens to the fake through the SDK
// (design target: < 10 s against FCM).
func BenchmarkFCMSender100kTokens(b *testing.B) {
	fake := fcmfake.New()
	fake.SetKeepMessages(false)
	ts := httptest.NewServer(fake)
	defer ts.Close()
	s, err := NewFCMSender(b.Context(), Config{ProjectID: testProject, Endpoint: ts.URL})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	p := clearancePush(tokens("bench", 100_000)...)
	for b.Loop() {
		res, err := s.Send(b.Context(), p)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Status != StatusAccepted {
				b.Fatalf("%+v", r)
			}
		}
	}
	b.ReportMetric(float64(len(p.Tokens)*b.N)/b.Elapsed().Seconds(), "tokens/s")
}
