package fcmfake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const sendPath = "/v1/projects/hq-test/messages:send"

func post(t *testing.T, url, body string) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("answer is not JSON: %s", b)
	}
	return resp, out
}

func start(t *testing.T) (*Server, string) {
	t.Helper()
	s := New()
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts.URL
}

const validMessage = `{"message":{"token":"tok-1",
	"notification":{"title":"Tờ khai 305123456789","body":"Tờ khai 305123456789: đã thông quan"},
	"data":{"kind":"declaration","id":"305123456789"},
	"android":{"collapse_key":"declaration:305123456789","priority":"high","ttl":"3600s","notification":{"tag":"declaration:305123456789"}},
	"apns":{"headers":{"apns-priority":"10","apns-push-type":"alert","apns-collapse-id":"declaration:305123456789","apns-expiration":"1772443800"}},
	"webpush":{"headers":{"Urgency":"high","TTL":"3600"}}}}`

func TestSendRecordsTheMessage(t *testing.T) {
	s, url := start(t)
	resp, out := post(t, url+sendPath, validMessage)
	if resp.StatusCode != 200 || out["name"] != "projects/hq-test/messages/1" {
		t.Fatalf("answer %d %v", resp.StatusCode, out)
	}
	msgs := s.MessagesTo("tok-1")
	if len(msgs) != 1 || s.Count() != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	if m.ID != "projects/hq-test/messages/1" || m.Project != "hq-test" || m.Title != "Tờ khai 305123456789" ||
		m.Body != "Tờ khai 305123456789: đã thông quan" || m.Data["id"] != "305123456789" ||
		m.AndroidPriority != "high" || m.AndroidCollapseKey != "declaration:305123456789" || m.AndroidTTL != "3600s" ||
		m.AndroidTTLDuration != time.Hour || m.AndroidTag != "declaration:305123456789" ||
		m.APNSHeaders["apns-collapse-id"] != "declaration:305123456789" || m.WebpushHeaders["Urgency"] != "high" {
		t.Errorf("recorded %+v", m)
	}
	if !json.Valid(m.Raw) || !bytes.Contains(m.Raw, []byte(`"token":"tok-1"`)) {
		t.Errorf("raw = %s", m.Raw)
	}
}

func TestWrongShapesAnswer400LikeFCM(t *testing.T) {
	big := strings.Repeat("đ", 2100) // 4200 bytes of UTF-8
	tests := []struct {
		name, body, field string
	}{
		{"not JSON", `{"message":`, ""},
		{"unknown top-level field", `{"msg":{"token":"a"}}`, ""},
		{"unknown message field", `{"message":{"token":"a","priority":"high"}}`, ""},
		{"no message", `{"validate_only":false}`, "message"},
		{"no target", `{"message":{"notification":{"title":"x"}}}`, "message"},
		{"token and topic", `{"message":{"token":"a","topic":"b"}}`, "message"},
		{"topic and condition", `{"message":{"topic":"b","condition":"'b' in topics"}}`, "message"},
		{"bad topic name", `{"message":{"topic":"thông báo"}}`, "message.topic"},
		{"data value not a string", `{"message":{"token":"a","data":{"id":305123456789}}}`, ""},
		{"reserved data key", `{"message":{"token":"a","data":{"from":"x"}}}`, "message.data"},
		{"android priority", `{"message":{"token":"a","android":{"priority":"urgent"}}}`, "message.android.priority"},
		{"ttl without unit", `{"message":{"token":"a","android":{"ttl":"3600"}}}`, "message.android.ttl"},
		{"negative ttl", `{"message":{"token":"a","android":{"ttl":"-5s"}}}`, "message.android.ttl"},
		{"ttl over 4 weeks", `{"message":{"token":"a","android":{"ttl":"2419201s"}}}`, "message.android.ttl"},
		{"payload over 4096 bytes", `{"message":{"token":"a","notification":{"body":"` + big + `"}}}`, "message"},
		{"topic payload over 2048 bytes", `{"message":{"topic":"notices-all","notification":{"body":"` + big[:2200] + `"}}}`, "message"},
		{"apns priority", `{"message":{"token":"a","apns":{"headers":{"apns-priority":"7"}}}}`, "message.apns.headers"},
		{"apns collapse id over 64 bytes", `{"message":{"token":"a","apns":{"headers":{"apns-collapse-id":"` + strings.Repeat("x", 65) + `"}}}}`, "message.apns.headers"},
		{"webpush urgency", `{"message":{"token":"a","webpush":{"headers":{"Urgency":"asap"}}}}`, "message.webpush.headers"},
	}
	s, url := start(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, out := post(t, url+sendPath, tt.body)
			e, _ := out["error"].(map[string]any)
			if resp.StatusCode != 400 || e == nil || e["code"] != float64(400) || e["status"] != "INVALID_ARGUMENT" || e["message"] == "" {
				t.Fatalf("answer %d %v", resp.StatusCode, out)
			}
			if tt.field != "" && !slices.Contains(violatedFields(e), tt.field) {
				t.Errorf("details %v lack a BadRequest violation of %s", e["details"], tt.field)
			}
		})
	}
	if s.Count() != 0 {
		t.Errorf("%d messages recorded from bad requests", s.Count())
	}
	resp, _ := post(t, url+"/v1/projects/hq-test/messages:sendAll", `{}`)
	if resp.StatusCode != 404 {
		t.Errorf("unknown path: %d", resp.StatusCode)
	}
}

// violatedFields lists the fields of the google.rpc.BadRequest details of an error.
func violatedFields(e map[string]any) []string {
	var out []string
	details, _ := e["details"].([]any)
	for _, d := range details {
		dm, _ := d.(map[string]any)
		if dm["@type"] != "type.googleapis.com/google.rpc.BadRequest" {
			continue
		}
		vs, _ := dm["fieldViolations"].([]any)
		for _, v := range vs {
			vm, _ := v.(map[string]any)
			if f, ok := vm["field"].(string); ok {
				out = append(out, f)
			}
		}
	}
	return out
}

func TestProgrammedFailures(t *testing.T) {
	tests := []struct {
		kind                       Failure
		status                     int
		grpc, errorCode, retryHead string
	}{
		{Unregistered, 404, "NOT_FOUND", "UNREGISTERED", ""},
		{QuotaExceeded, 429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "3"},
		{Unavailable, 503, "UNAVAILABLE", "UNAVAILABLE", "3"},
		{Internal, 500, "INTERNAL", "INTERNAL", ""},
		{SenderMismatch, 403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", ""},
		{InvalidArgument, 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", ""},
		{ThirdPartyAuth, 401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", ""},
		{InvalidMessage, 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", ""},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			s, url := start(t)
			s.FailToken("tok-1", tt.kind, 2, 2500*time.Millisecond)
			for i := range 2 {
				resp, out := post(t, url+sendPath, validMessage)
				e, _ := out["error"].(map[string]any)
				if resp.StatusCode != tt.status || e["code"] != float64(tt.status) || e["status"] != tt.grpc {
					t.Fatalf("attempt %d: %d %v", i, resp.StatusCode, out)
				}
				details, _ := e["details"].([]any)
				d0, _ := details[0].(map[string]any)
				if d0["@type"] != "type.googleapis.com/google.firebase.fcm.v1.FcmError" || d0["errorCode"] != tt.errorCode {
					t.Errorf("details %v", details)
				}
				if got := resp.Header.Get("Retry-After"); got != tt.retryHead {
					t.Errorf("Retry-After %q, want %q", got, tt.retryHead)
				}
			}
			if resp, _ := post(t, url+sendPath, validMessage); resp.StatusCode != 200 {
				t.Fatalf("third attempt: %d, want 200", resp.StatusCode)
			}
			if s.Attempts("tok-1") != 3 || s.Count() != 1 || s.Requests() != 3 {
				t.Errorf("attempts %d count %d requests %d", s.Attempts("tok-1"), s.Count(), s.Requests())
			}
		})
	}
	t.Run("always, and cleared", func(t *testing.T) {
		s, url := start(t)
		s.FailToken("tok-1", Unregistered, -1, 0)
		for range 5 {
			if resp, _ := post(t, url+sendPath, validMessage); resp.StatusCode != 404 {
				t.Fatalf("status %d", resp.StatusCode)
			}
		}
		s.FailToken("tok-1", Unregistered, 0, 0)
		if resp, _ := post(t, url+sendPath, validMessage); resp.StatusCode != 200 {
			t.Fatalf("after clearing: %d", resp.StatusCode)
		}
	})
	t.Run("a bad message is refused before the token's failure", func(t *testing.T) {
		s, url := start(t)
		s.FailToken("a", Unregistered, 1, 0)
		if resp, _ := post(t, url+sendPath, `{"message":{"token":"a","android":{"ttl":"x"}}}`); resp.StatusCode != 400 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if resp, _ := post(t, url+sendPath, `{"message":{"token":"a"}}`); resp.StatusCode != 404 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("topic", func(t *testing.T) {
		s, url := start(t)
		s.FailTopic("notices-all", QuotaExceeded, 1, time.Second)
		if resp, _ := post(t, url+sendPath, `{"message":{"topic":"notices-all"}}`); resp.StatusCode != 429 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if resp, _ := post(t, url+sendPath, `{"message":{"topic":"notices-all"}}`); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if s.TopicAttempts("notices-all") != 2 || s.Messages()[0].Topic != "notices-all" {
			t.Errorf("attempts %d, messages %+v", s.TopicAttempts("notices-all"), s.Messages())
		}
	})
}

func TestValidateOnlyIsNotRecorded(t *testing.T) {
	s, url := start(t)
	resp, out := post(t, url+sendPath, `{"validate_only":true,"message":{"token":"a"}}`)
	if resp.StatusCode != 200 || out["name"] == "" || s.Count() != 0 {
		t.Fatalf("%d %v, count %d", resp.StatusCode, out, s.Count())
	}
}

func TestTopicManagementWireFormat(t *testing.T) {
	s, url := start(t)
	s.FailToken("tok-gone", Unregistered, -1, 0)
	s.FailToken("tok-other-sender", SenderMismatch, -1, 0)
	resp, out := post(t, url+"/iid/v1:batchAdd", `{"to":"/topics/notices-all","registration_tokens":["tok-a","tok-gone","tok-b","tok-other-sender"]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d %v", resp.StatusCode, out)
	}
	got, _ := json.Marshal(out)
	if want := `{"results":[{},{"error":"NOT_FOUND"},{},{"error":"INVALID_ARGUMENT"}]}`; string(got) != want {
		t.Errorf("answer %s, want %s", got, want)
	}
	if subs := s.Subscribers("notices-all"); fmt.Sprint(subs) != "[tok-a tok-b]" {
		t.Errorf("subscribers %v", subs)
	}
	post(t, url+"/iid/v1:batchRemove", `{"to":"/topics/notices-all","registration_tokens":["tok-a"]}`)
	if subs := s.Subscribers("/topics/notices-all"); fmt.Sprint(subs) != "[tok-b]" {
		t.Errorf("after batchRemove: %v", subs)
	}
	for _, bad := range []string{
		`{"to":"notices-all","registration_tokens":["a"]}`,
		`{"to":"/topics/thông báo","registration_tokens":["a"]}`,
		`{"to":"/topics/x","registration_tokens":[]}`,
		`{"to":"/topics/x","tokens":["a"]}`,
	} {
		if resp, out := post(t, url+"/iid/v1:batchAdd", bad); resp.StatusCode != 400 || out["error"] == nil {
			t.Errorf("%s: %d %v", bad, resp.StatusCode, out)
		}
	}
}

func TestTokenEndpoint(t *testing.T) {
	_, url := start(t)
	resp, out := post(t, url+"/token", `grant_type=x`)
	if resp.StatusCode != 200 || out["access_token"] != AccessToken || out["token_type"] != "Bearer" {
		t.Fatalf("%d %v", resp.StatusCode, out)
	}
}

func TestWaitForCountConcurrentAndReset(t *testing.T) {
	s, url := start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	const workers, each = 20, 25
	waited := make(chan error, 1)
	go func() { waited <- s.WaitForCount(ctx, workers*each) }()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				body := fmt.Sprintf(`{"message":{"token":"w%d-%d","notification":{"title":"Tờ khai"}}}`, w, i)
				resp, err := http.Post(url+sendPath, "application/json", strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if s.Count() != workers*each || len(s.Messages()) != workers*each || len(s.MessagesTo("w3-7")) != 1 {
		t.Errorf("count %d", s.Count())
	}

	short, cancelShort := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancelShort()
	if err := s.WaitForCount(short, workers*each+1); err == nil {
		t.Error("WaitForCount returned before the count was reached")
	}

	s.Reset()
	if s.Count() != 0 || len(s.Messages()) != 0 || s.Requests() != 0 || s.Attempts("w3-7") != 0 {
		t.Errorf("after Reset: count %d", s.Count())
	}
	s.SetKeepMessages(false)
	post(t, url+sendPath, validMessage)
	if s.Count() != 1 || len(s.Messages()) != 0 {
		t.Errorf("without keeping: count %d, %d kept", s.Count(), len(s.Messages()))
	}
}

func TestLatency(t *testing.T) {
	s, url := start(t)
	s.SetLatency(50 * time.Millisecond)
	begin := time.Now()
	post(t, url+sendPath, validMessage)
	if d := time.Since(begin); d < 50*time.Millisecond {
		t.Errorf("answered after %s, want ≥ 50ms", d)
	}
}

func TestServeStopsWithContext(t *testing.T) {
	s := New()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	if resp, _ := post(t, "http://"+ln.Addr().String()+sendPath, validMessage); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}

	ctx2, cancel2 := context.WithCancel(t.Context())
	go func() { done <- s.ListenAndServe(ctx2, "127.0.0.1:0") }()
	cancel2()
	if err := <-done; err != nil {
		t.Fatalf("ListenAndServe: %v", err)
	}
}

func BenchmarkSend(b *testing.B) {
	s := New()
	s.SetKeepMessages(false)
	ts := httptest.NewServer(s)
	defer ts.Close()
	body := []byte(validMessage)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := http.Post(ts.URL+sendPath, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}
