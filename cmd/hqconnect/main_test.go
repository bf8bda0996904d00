package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpcreflect"

	identityv1 "hqconnect/gen/hqconnect/identity/v1"
	"hqconnect/gen/hqconnect/identity/v1/identityv1connect"
	notifyv1 "hqconnect/gen/hqconnect/notify/v1"
	"hqconnect/gen/hqconnect/notify/v1/notifyv1connect"
)

// startMain runs the whole program as `serve --demo` would, on port 0, with
// the embedded defaults under a temporary directory.
func startMain(t *testing.T) (*Main, string) {
	t.Helper()
	return startMainEnv(t, map[string]string{"HQ_VAR_DIR": t.TempDir(), "HQ_ADDR": "127.0.0.1:0", "HQ_DEMO": "true"})
}

func startMainEnv(t *testing.T, env map[string]string) (*Main, string) {
	t.Helper()
	c, err := parseConfig("serve", nil, func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &Main{Config: c, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Serve: true}
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
		m.Close()
	})
	return m, "http://" + m.Addr()
}

func postJSON(t *testing.T, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("decode %s: %v", url, err)
	}
	return resp.StatusCode, out
}

// TestServeEndToEnd is the README's walk-through: log in with a seeded
// account over plain JSON, call GetMe with and without the token, list the
// services through reflection.
func TestServeEndToEnd(t *testing.T) {
	m, base := startMain(t)
	if len(m.DemoAccounts) == 0 {
		t.Fatal("serve --demo on an empty embedded database seeded nothing")
	}
	login := m.DemoAccounts[0].Login

	code, out := postJSON(t, base+"/hqconnect.identity.v1.IdentityService/Login", "",
		`{"identifier":"`+login+`","password":"`+DefaultDemoPassword+`"}`)
	if code != http.StatusOK {
		t.Fatalf("Login: %d %v", code, out)
	}
	tokens, _ := out["tokens"].(map[string]any)
	access, _ := tokens["accessToken"].(string)
	if access == "" || tokens["refreshToken"] == "" {
		t.Fatalf("Login returned no tokens: %v", out)
	}

	code, out = postJSON(t, base+"/hqconnect.identity.v1.IdentityService/GetMe", access, `{}`)
	if code != http.StatusOK {
		t.Fatalf("GetMe: %d %v", code, out)
	}
	if user, _ := out["user"].(map[string]any); user["email"] != login {
		t.Fatalf("GetMe user = %v, want %s", out["user"], login)
	}

	code, out = postJSON(t, base+"/hqconnect.identity.v1.IdentityService/GetMe", "", `{}`)
	if code != http.StatusUnauthorized || out["code"] != "unauthenticated" {
		t.Fatalf("GetMe without token: %d %v, want 401 unauthenticated", code, out)
	}

	// gRPC over h2c through the generated client.
	h2c := &http.Client{Transport: &http.Transport{Protocols: h2cOnly()}}
	client := identityv1connect.NewIdentityServiceClient(h2c, base, connect.WithGRPC())
	req := connect.NewRequest(&identityv1.GetMeRequest{})
	req.Header().Set("Authorization", "Bearer "+access)
	if _, err := client.GetMe(context.Background(), req); err != nil {
		t.Fatalf("GetMe over gRPC: %v", err)
	}
	_, err := client.GetMe(context.Background(), connect.NewRequest(&identityv1.GetMeRequest{}))
	if connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("GetMe over gRPC without token: %v", err)
	}

	// Reflection lists the services (what `grpcurl -plaintext … list` does).
	stream := grpcreflect.NewClient(h2c, base).NewStream(context.Background())
	defer stream.Close()
	names, err := stream.ListServices()
	if err != nil {
		t.Fatalf("reflection: %v", err)
	}
	var got []string
	for _, n := range names {
		got = append(got, string(n))
	}
	for _, want := range []string{identityv1connect.IdentityServiceName, "grpc.health.v1.Health"} {
		if !strings.Contains(strings.Join(got, " "), want) {
			t.Errorf("reflection lists %v, missing %s", got, want)
		}
	}

	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
	}
}

func h2cOnly() *http.Protocols {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return p
}

// TestSeedTwice: `seed --demo` prints one JSON object per account and a
// second run is harmless (same accounts, nothing duplicated).
func TestSeedTwice(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HQ_VAR_DIR": dir}
	getenv := func(k string) string { return env[k] }
	args := []string{"seed", "--demo", "--password", "seed-password-1", "--log-level", "error"}
	var first, second bytes.Buffer
	if err := run(context.Background(), args, getenv, &first, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), args, getenv, &second, io.Discard); err != nil {
		t.Fatal(err)
	}
	if first.String() != second.String() {
		t.Fatalf("second seed printed something else:\n%s\nvs\n%s", first.String(), second.String())
	}
	kinds := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(first.String()), "\n") {
		var a struct {
			Login   string   `json:"login"`
			Kind    string   `json:"kind"`
			Roles   []string `json:"roles"`
			Unit    string   `json:"unit"`
			TaxCode string   `json:"tax_code"`
		}
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if a.Login == "" || len(a.Roles) == 0 {
			t.Fatalf("incomplete account line %q", line)
		}
		if a.Kind == "enterprise_user" && a.TaxCode == "" || a.Kind == "officer" && a.Unit == "" {
			t.Fatalf("account line %q lacks its unit or tax code", line)
		}
		kinds[a.Kind]++
	}
	if kinds["officer"] < 5 || kinds["enterprise_user"] < 4 {
		t.Fatalf("seeded %v, want at least 5 officers and 4 enterprise users", kinds)
	}
}

func TestSeedRefusesWeakPassword(t *testing.T) {
	err := run(context.Background(), []string{"seed", "--demo", "--password", "short"},
		func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("seed accepted a 5-character password")
	}
}

func TestBadEnvironmentIsReported(t *testing.T) {
	env := map[string]string{"HQ_ACCESS_TTL": "forever"}
	_, err := parseConfig("serve", nil, func(k string) string { return env[k] }, nil)
	if err == nil || !strings.Contains(err.Error(), "HQ_ACCESS_TTL") {
		t.Fatalf("parseConfig = %v, want an error naming HQ_ACCESS_TTL", err)
	}
}

// TestRevocationSeenBySecondInstance: two instances share the database, the
// signing key and Redis; a session ended on one is refused by the other
// within the 5 s the design allows.
func TestRevocationSeenBySecondInstance(t *testing.T) {
	dir := t.TempDir()
	m1, base1 := startMainEnv(t, map[string]string{"HQ_VAR_DIR": dir, "HQ_ADDR": "127.0.0.1:0", "HQ_DEMO": "true"})
	_, base2 := startMainEnv(t, map[string]string{"HQ_VAR_DIR": dir, "HQ_ADDR": "127.0.0.1:0",
		"REDIS_URL": m1.Redis.EmbeddedURL()})
	login := m1.DemoAccounts[0].Login

	code, out := postJSON(t, base1+"/hqconnect.identity.v1.IdentityService/Login", "",
		`{"identifier":"`+login+`","password":"`+DefaultDemoPassword+`"}`)
	if code != http.StatusOK {
		t.Fatalf("Login: %d %v", code, out)
	}
	access := out["tokens"].(map[string]any)["accessToken"].(string)
	// The second instance accepts the token (and now caches the session).
	if code, out := postJSON(t, base2+"/hqconnect.identity.v1.IdentityService/GetMe", access, `{}`); code != http.StatusOK {
		t.Fatalf("GetMe on instance 2: %d %v", code, out)
	}
	if code, out := postJSON(t, base1+"/hqconnect.identity.v1.IdentityService/Logout", access, `{}`); code != http.StatusOK {
		t.Fatalf("Logout on instance 1: %d %v", code, out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, out := postJSON(t, base2+"/hqconnect.identity.v1.IdentityService/GetMe", access, `{}`)
		if code == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance 2 still accepts a revoked session after 5 s: %d %v", code, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLiveUpdateAcrossInstances: the event of a new sign-in, committed and
// processed by whichever instance's worker takes it, reaches a WatchUpdates
// stream held open on the other instance, through Redis pub/sub.
func TestLiveUpdateAcrossInstances(t *testing.T) {
	dir := t.TempDir()
	m1, base1 := startMainEnv(t, map[string]string{"HQ_VAR_DIR": dir, "HQ_ADDR": "127.0.0.1:0", "HQ_DEMO": "true"})
	_, base2 := startMainEnv(t, map[string]string{"HQ_VAR_DIR": dir, "HQ_ADDR": "127.0.0.1:0",
		"REDIS_URL": m1.Redis.EmbeddedURL()})
	login := m1.DemoAccounts[0].Login
	body := `{"identifier":"` + login + `","password":"` + DefaultDemoPassword + `","deviceName":"Pixel 9"}`

	code, out := postJSON(t, base1+"/hqconnect.identity.v1.IdentityService/Login", "", body)
	if code != http.StatusOK {
		t.Fatalf("Login: %d %v", code, out)
	}
	access := out["tokens"].(map[string]any)["accessToken"].(string)

	h2c := &http.Client{Transport: &http.Transport{Protocols: h2cOnly()}}
	client := notifyv1connect.NewNotificationServiceClient(h2c, base2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Skip what the first sign-in produced: start after the newest item.
	list := connect.NewRequest(&notifyv1.ListNotificationsRequest{})
	list.Header().Set("Authorization", "Bearer "+access)
	var after string
	deadline := time.Now().Add(10 * time.Second)
	for after == "" && time.Now().Before(deadline) {
		res, err := client.ListNotifications(ctx, list)
		if err != nil {
			t.Fatal(err)
		}
		if n := res.Msg.GetNotifications(); len(n) > 0 {
			after = n[0].GetId()
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if after == "" {
		t.Fatal("the first sign-in left no inbox item within 10 s")
	}
	req := connect.NewRequest(&notifyv1.WatchUpdatesRequest{AfterId: after})
	req.Header().Set("Authorization", "Bearer "+access)
	stream, err := client.WatchUpdates(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()

	// A second sign-in on instance 1 warns the first session.
	if code, out := postJSON(t, base1+"/hqconnect.identity.v1.IdentityService/Login", "", body); code != http.StatusOK {
		t.Fatalf("second Login: %d %v", code, out)
	}
	for stream.Receive() {
		n := stream.Msg().GetNotification()
		if n == nil {
			continue // heartbeat
		}
		if n.GetCategory() != notifyv1.Category_CATEGORY_SECURITY || n.GetId() <= after {
			t.Fatalf("unexpected item %v", n)
		}
		if !strings.Contains(n.GetTitle(), "Đăng nhập mới") {
			t.Fatalf("title %q, want the Vietnamese new sign-in warning", n.GetTitle())
		}
		return
	}
	t.Fatalf("stream ended without the new sign-in item: %v", stream.Err())
}
