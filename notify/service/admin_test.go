package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/redis/go-redis/v9"

	notifyv1 "hqconnect/gen/hqconnect/notify/v1"
	"hqconnect/internal/ids"
	"hqconnect/internal/outbox"
	"hqconnect/internal/testkit"
)

// addDeadLetter writes an entry to the pipeline's dead-letter stream the way
// its worker does (its fields are the pipeline's wire format).
func (e *env) addDeadLetter(t *testing.T, kind string, attempts int, lastErr string) (entryID, eventID string) {
	t.Helper()
	ev := outbox.Event{ID: ids.New(), Kind: kind, Time: time.Now().UTC()}
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	id, err := e.Redis.Client.XAdd(context.Background(), &redis.XAddArgs{
		Stream: e.Prefix + "events:dead",
		Values: []any{
			"id", ev.ID, "kind", kind, "event", string(payload), "attempts", attempts,
			"error", lastErr, "time", time.Now().UTC().Format(time.RFC3339Nano), "rt", time.Now().UnixMilli(),
		},
	}).Result()
	if err != nil {
		t.Fatal(err)
	}
	return id, ev.ID
}

func TestDeadLetters(t *testing.T) {
	run(t, options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		admin := e.signIn(t, adminLogin)
		var entries, events []string
		for i := range 3 {
			id, ev := e.addDeadLetter(t, "test.kind", 8, fmt.Sprint("boom ", i))
			entries, events = append(entries, id), append(events, ev)
		}

		t.Run("listed oldest first, in pages", func(t *testing.T) {
			res := testkit.Got(admin.Admin.ListDeadLetters(ctx, req(&notifyv1.ListDeadLettersRequest{PageSize: 2}))).Must(t)
			if len(res.DeadLetters) != 2 || res.NextPageToken == "" {
				t.Fatalf("first page %v", res)
			}
			d := res.DeadLetters[0]
			if d.Id != entries[0] || d.EventId != events[0] || d.EventKind != "test.kind" || d.Attempts != 8 ||
				d.LastError != "boom 0" || d.FailTime == nil {
				t.Fatalf("dead letter %v", d)
			}
			res = testkit.Got(admin.Admin.ListDeadLetters(ctx, req(&notifyv1.ListDeadLettersRequest{PageSize: 2, PageToken: res.NextPageToken}))).Must(t)
			if len(res.DeadLetters) != 1 || res.DeadLetters[0].Id != entries[2] || res.NextPageToken != "" {
				t.Fatalf("second page %v", res)
			}
			_, err := admin.Admin.ListDeadLetters(ctx, req(&notifyv1.ListDeadLettersRequest{PageToken: "garbage"}))
			testkit.WantField(t, err, connect.CodeInvalidArgument, "page_token")
		})

		t.Run("replayed into the events stream", func(t *testing.T) {
			testkit.Got(admin.Admin.ReplayDeadLetter(ctx, req(&notifyv1.ReplayDeadLetterRequest{Id: entries[1]}))).Must(t)
			msgs, err := e.Redis.Client.XRange(ctx, e.Prefix+"events", "-", "+").Result()
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != 1 || msgs[0].Values["id"] != events[1] {
				t.Fatalf("events stream %v", msgs)
			}
			res := testkit.Got(admin.Admin.ListDeadLetters(ctx, req(&notifyv1.ListDeadLettersRequest{}))).Must(t)
			if len(res.DeadLetters) != 2 || res.DeadLetters[0].Id != entries[0] || res.DeadLetters[1].Id != entries[2] {
				t.Fatalf("left %v", res.DeadLetters)
			}
			if n := e.count(t, "audit_events WHERE action = 'dead_letter.replay' AND actor_id = $1 AND target_id = $2", admin.ID, entries[1]); n != 1 {
				t.Fatalf("%d audit rows", n)
			}
			_, err = admin.Admin.ReplayDeadLetter(ctx, req(&notifyv1.ReplayDeadLetterRequest{Id: entries[1]}))
			testkit.WantCode(t, err, connect.CodeNotFound)
			_, err = admin.Admin.ReplayDeadLetter(ctx, req(&notifyv1.ReplayDeadLetterRequest{Id: "not-an-id"}))
			testkit.WantField(t, err, connect.CodeInvalidArgument, "id")
			_, err = admin.Admin.ReplayDeadLetter(ctx, req(&notifyv1.ReplayDeadLetterRequest{}))
			testkit.WantField(t, err, connect.CodeInvalidArgument, "id")
		})

		t.Run("only ADMIN officers may", func(t *testing.T) {
			for _, login := range []string{officerLogin, xnkAdminLogin} {
				u := e.signIn(t, login)
				_, err := u.Admin.ListDeadLetters(ctx, req(&notifyv1.ListDeadLettersRequest{}))
				testkit.WantCode(t, err, connect.CodePermissionDenied)
				_, err = u.Admin.ReplayDeadLetter(ctx, req(&notifyv1.ReplayDeadLetterRequest{Id: entries[0]}))
				testkit.WantCode(t, err, connect.CodePermissionDenied)
			}
			if res := testkit.Got(admin.Admin.ListDeadLetters(ctx, req(&notifyv1.ListDeadLettersRequest{}))).Must(t); len(res.DeadLetters) != 2 {
				t.Fatalf("a refused replay changed the list: %v", res.DeadLetters)
			}
		})
	})
}
