package outbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"hqconnect/internal/outbox"
	"hqconnect/internal/store"
	"hqconnect/internal/store/storetest"
)

func TestAddAllWritesEveryEventInOrder(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var events []outbox.Event
		for i := range 601 { // three INSERTs: 250 + 250 + 101
			events = append(events, outbox.Event{Kind: "test.happened", Notification: &outbox.Notification{
				Audience: outbox.Audience{UserIDs: []string{fmt.Sprint("u", i)}}, Category: outbox.CategoryIssue,
				TitleVI: "Tiêu đề", TitleEN: "Title", EntityKind: "issue", EntityID: fmt.Sprint(i)}})
		}
		var got []string
		if err := db.Tx(ctx, func(tx *sql.Tx) (err error) {
			got, err = outbox.AddAll(ctx, tx, events)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(events) {
			t.Fatalf("%d ids for %d events", len(got), len(events))
		}
		rows, err := db.QueryContext(ctx, `SELECT id, payload FROM outbox_events ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		i := 0
		for ; rows.Next(); i++ {
			var id, payload string
			if err := rows.Scan(&id, &payload); err != nil {
				t.Fatal(err)
			}
			e, err := outbox.Decode([]byte(payload))
			if err != nil {
				t.Fatal(err)
			}
			if id != got[i] || e.ID != id || e.Notification.EntityID != fmt.Sprint(i) {
				t.Fatalf("row %d: id %s event %+v, want id %s for entity %d", i, id, e, got[i], i)
			}
			if want := "issue:" + fmt.Sprint(i); e.Notification.CollapseKey != want {
				t.Fatalf("row %d: collapse key %q, want %q", i, e.Notification.CollapseKey, want)
			}
		}
		if i != len(events) {
			t.Fatalf("%d rows, want %d", i, len(events))
		}
	})
}

func TestAddAllRefusesABadEventAndWritesNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		events := []outbox.Event{{Kind: "test.ok"}, {Kind: "test.bad", Notification: &outbox.Notification{Category: outbox.CategoryIssue}}}
		if _, err := outbox.AddAll(ctx, db, events); err == nil {
			t.Fatal("AddAll accepted a notification without titles")
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM outbox_events`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("%d rows written by a refused batch", n)
		}
		if _, err := outbox.Add(ctx, db, outbox.Event{}); err == nil {
			t.Fatal("Add accepted an event without a kind")
		}
	})
}
