package fcm

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestLogSenderAcceptsAllAndLogsNoTokens(t *testing.T) {
	var buf bytes.Buffer
	s := NewLogSender(slog.New(slog.NewJSONHandler(&buf, nil)))
	ctx := context.Background()
	tokens := []string{"fcm-token-secret-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "fcm-token-secret-BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"}

	res, err := s.Send(ctx, Push{
		Tokens: tokens, Title: "Tờ khai 305123456789", Body: "Tờ khai 305123456789: đã thông quan",
		CollapseKey: "declaration:305123456789", Data: map[string]string{"kind": "declaration", "id": "305123456789"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 {
		t.Fatalf("%d results, want 2", len(res))
	}
	for i, r := range res {
		if r.Status != StatusAccepted || r.Token != tokens[i] || r.MessageID == "" || r.Err != nil {
			t.Errorf("result %d = %+v", i, r)
		}
	}

	res, err = s.Send(ctx, Push{Topic: "notices-all", Title: "Thông báo mới", Body: "Thông tư 39/2018/TT-BTC"})
	if err != nil || len(res) != 1 || res[0].Status != StatusAccepted || res[0].Topic != "notices-all" {
		t.Fatalf("topic send = %+v, %v", res, err)
	}

	tr, err := s.SubscribeToTopic(ctx, tokens, "notices-all")
	if err != nil || len(tr) != 2 || tr[0].Err != nil || tr[1].Gone {
		t.Fatalf("subscribe = %+v, %v", tr, err)
	}
	if _, err := s.UnsubscribeFromTopic(ctx, tokens, "notices-all"); err != nil {
		t.Fatal(err)
	}

	if _, err := s.Send(ctx, Push{Title: "no target"}); !errors.Is(err, ErrInvalidPush) {
		t.Errorf("invalid push: err = %v, want ErrInvalidPush", err)
	}

	out := buf.String()
	for _, tok := range tokens {
		if strings.Contains(out, tok) {
			t.Errorf("log contains a full token:\n%s", out)
		}
		if !strings.Contains(out, TokenHash(tok)) {
			t.Errorf("log lacks the token hash %s", TokenHash(tok))
		}
	}
	for _, want := range []string{`"level":"INFO"`, "Tờ khai 305123456789", "declaration:305123456789", `"tokens":2`, `"topic":"notices-all"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}
