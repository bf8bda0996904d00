package inbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"hqconnect/internal/ids"
	"hqconnect/internal/store"
	"hqconnect/internal/store/storetest"
)

// addUser inserts an active user (tables of 00001_identity.sql).
func addUser(t *testing.T, db *store.DB, kind string) string {
	t.Helper()
	id := ids.New()
	now := store.Now()
	if _, err := db.ExecContext(context.Background(), `INSERT INTO users (id, kind, email, full_name, password_hash, status, create_time, update_time)
VALUES ($1, $2, $3, 'Test User', 'x', 'ACTIVE', $4, $4)`, id, kind, id+"@example.test", now); err != nil {
		t.Fatalf("add user: %v", err)
	}
	return id
}

// fixture is an inbox with personal items and broadcasts in a known order.
type fixture struct {
	s        *Store
	db       *store.DB
	ent      Viewer            // an enterprise user of enterprise E1
	ent2     Viewer            // another user of E1
	officer  Viewer            // an officer of unit U1
	ids      map[string]string // label → item id
	labelOf  map[string]string // item id → label
	nextIDs  []string
	eventSeq int
}

func newFixture(t *testing.T, db *store.DB) *fixture {
	f := &fixture{s: NewStore(db), db: db, ids: map[string]string{}, labelOf: map[string]string{}}
	f.ent = Viewer{UserID: addUser(t, db, "enterprise_user"), Kind: "enterprise_user", EnterpriseID: "E1"}
	f.ent2 = Viewer{UserID: addUser(t, db, "enterprise_user"), Kind: "enterprise_user", EnterpriseID: "E1"}
	f.officer = Viewer{UserID: addUser(t, db, "officer"), Kind: "officer", UnitID: "U1"}
	// Time-ordered ids, sorted so the order is certain.
	for range 40 {
		f.nextIDs = append(f.nextIDs, ids.New())
	}
	slices.Sort(f.nextIDs)
	return f
}

func (f *fixture) take() string {
	id := f.nextIDs[0]
	f.nextIDs = f.nextIDs[1:]
	return id
}

func (f *fixture) event() string {
	f.eventSeq++
	return fmt.Sprintf("ev-%03d-%s", f.eventSeq, ids.New())
}

func (f *fixture) personal(t *testing.T, label, userID string) {
	t.Helper()
	id := f.take()
	got, err := f.s.AddPersonal(t.Context(), nil, []Item{{ID: id, UserID: userID, EventID: f.event(), Category: "issue",
		TitleVI: "Tiêu đề " + label, TitleEN: "Title " + label, BodyVI: "nội dung", BodyEN: "body"}})
	if err != nil || len(got) != 1 || got[0].ID != id {
		t.Fatalf("AddPersonal %s = %v, %v", label, got, err)
	}
	f.ids[label], f.labelOf[id] = id, label
}

func (f *fixture) broadcast(t *testing.T, label, audience, audienceID string) {
	t.Helper()
	id := f.take()
	got, err := f.s.AddBroadcast(t.Context(), nil, Item{ID: id, EventID: f.event(), Category: "notice",
		TitleVI: "Thông báo " + label, TitleEN: "Notice " + label, Audience: audience, AudienceID: audienceID})
	if err != nil || got.ID != id || !got.Broadcast {
		t.Fatalf("AddBroadcast %s = %+v, %v", label, got, err)
	}
	f.ids[label], f.labelOf[id] = id, label
}

func (f *fixture) labels(items []Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = f.labelOf[it.ID]
	}
	return out
}

// build makes the standard inbox, oldest first.
func (f *fixture) build(t *testing.T) {
	other := addUser(t, f.db, "enterprise_user")
	f.personal(t, "p1", f.ent.UserID)
	f.broadcast(t, "b-all-2", "all", "")
	f.broadcast(t, "b-entusers-3", "enterprise_users", "")
	f.broadcast(t, "b-officers-4", "officers", "")
	f.personal(t, "p-other-5", other)
	f.broadcast(t, "b-e1-6", "enterprise", "E1")
	f.broadcast(t, "b-e2-7", "enterprise", "E2")
	f.personal(t, "p8", f.ent.UserID)
	f.personal(t, "p9", f.ent.UserID)
	f.broadcast(t, "b-u1-10", "unit", "U1")
	f.broadcast(t, "b-all-11", "all", "")
	f.personal(t, "p12", f.ent.UserID)
	f.personal(t, "p-officer-13", f.officer.UserID)
	f.ids["other"] = other
}

// pageAll reads every page of v's inbox with limit and returns the labels.
func (f *fixture) pageAll(t *testing.T, v Viewer, unread bool, limit int) []string {
	t.Helper()
	var out []string
	before := ""
	for range 100 {
		page, err := f.s.List(t.Context(), v, unread, before, limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > limit {
			t.Fatalf("page of %d items with limit %d", len(page), limit)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, f.labels(page)...)
		before = page[len(page)-1].ID
	}
	t.Fatal("paging did not end")
	return nil
}

func TestListMergesAndPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.build(t)
		entAll := []string{"p12", "b-all-11", "p9", "p8", "b-e1-6", "b-entusers-3", "b-all-2", "p1"}
		officerAll := []string{"p-officer-13", "b-all-11", "b-u1-10", "b-officers-4", "b-all-2"}

		tests := []struct {
			name  string
			v     Viewer
			limit int
			want  []string
		}{
			{"enterprise user, pages of 1", f.ent, 1, entAll},
			{"enterprise user, pages of 2", f.ent, 2, entAll},
			{"enterprise user, pages of 3", f.ent, 3, entAll},
			{"enterprise user, pages of 5", f.ent, 5, entAll},
			{"enterprise user, one page", f.ent, 50, entAll},
			{"another user of the enterprise sees only the broadcasts", f.ent2, 2,
				[]string{"b-all-11", "b-e1-6", "b-entusers-3", "b-all-2"}},
			{"officer, pages of 2", f.officer, 2, officerAll},
			{"officer, one page", f.officer, 10, officerAll},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if got := f.pageAll(t, tt.v, false, tt.limit); !slices.Equal(got, tt.want) {
					t.Errorf("got  %v\nwant %v", got, tt.want)
				}
			})
		}

		t.Run("single pages", func(t *testing.T) {
			cases := []struct {
				before string
				limit  int
				want   []string
			}{
				{"", 3, []string{"p12", "b-all-11", "p9"}},
				{"p9", 2, []string{"p8", "b-e1-6"}},
				{"b-e1-6", 2, []string{"b-entusers-3", "b-all-2"}},        // broadcasts only
				{"b-e1-6", 10, []string{"b-entusers-3", "b-all-2", "p1"}}, // short last page
				{"p1", 5, nil},
				{"b-e2-7", 2, []string{"b-e1-6", "b-entusers-3"}}, // a cursor the viewer cannot see still pages
			}
			for _, c := range cases {
				page, err := f.s.List(t.Context(), f.ent, false, f.ids[c.before], c.limit)
				if err != nil {
					t.Fatal(err)
				}
				if got := f.labels(page); !slices.Equal(got, c.want) {
					t.Errorf("before %q limit %d: got %v, want %v", c.before, c.limit, got, c.want)
				}
			}
		})

		t.Run("item fields", func(t *testing.T) {
			page, err := f.s.List(t.Context(), f.ent, false, "", 2)
			if err != nil {
				t.Fatal(err)
			}
			p, b := page[0], page[1]
			if p.Broadcast || p.UserID != f.ent.UserID || p.TitleVI != "Tiêu đề p12" || p.Title("en") != "Title p12" || p.CreateTime.IsZero() || !p.ReadTime.IsZero() {
				t.Errorf("personal item = %+v", p)
			}
			if !b.Broadcast || b.UserID != "" || b.Audience != "all" || b.TitleEN != "Notice b-all-11" || b.Category != "notice" {
				t.Errorf("broadcast item = %+v", b)
			}
		})

		t.Run("after replays in order", func(t *testing.T) {
			got, err := f.s.After(t.Context(), f.ent, f.ids["b-e1-6"], 3)
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"p8", "p9", "b-all-11"}; !slices.Equal(f.labels(got), want) {
				t.Errorf("After(b-e1-6, 3) = %v, want %v", f.labels(got), want)
			}
			got, _ = f.s.After(t.Context(), f.ent, f.ids["b-all-11"], 10)
			if want := []string{"p12"}; !slices.Equal(f.labels(got), want) {
				t.Errorf("After(b-all-11) = %v, want %v", f.labels(got), want)
			}
			got, _ = f.s.After(t.Context(), f.ent, "", 100)
			want := slices.Clone(entAll)
			slices.Reverse(want)
			if !slices.Equal(f.labels(got), want) {
				t.Errorf("After(\"\") = %v, want %v", f.labels(got), want)
			}
			got, _ = f.s.After(t.Context(), f.ent, f.ids["p12"], 10)
			if len(got) != 0 {
				t.Errorf("After(newest) = %v", f.labels(got))
			}
		})
	})
}

func TestMarkReadAndUnread(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		f := newFixture(t, db)
		f.build(t)
		s := f.s
		count := func(v Viewer) int {
			t.Helper()
			n, err := s.UnreadCount(ctx, v)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := count(f.ent); n != 8 {
			t.Fatalf("unread = %d, want 8", n)
		}
		other := Viewer{UserID: f.ids["other"], Kind: "enterprise_user", EnterpriseID: "E9"}
		otherBefore := count(other)

		// Own personal item + visible broadcast count; another user's item and
		// a broadcast to officers do not, and stay untouched.
		n, err := s.MarkRead(ctx, f.ent, []string{f.ids["p12"], f.ids["b-all-11"], f.ids["p-other-5"], f.ids["b-officers-4"], f.ids["p12"], "nope"}, false)
		if err != nil || n != 2 {
			t.Fatalf("MarkRead = %d, %v; want 2", n, err)
		}
		if n, _ := s.MarkRead(ctx, f.ent, []string{f.ids["p12"], f.ids["b-all-11"]}, false); n != 0 {
			t.Errorf("marking read items again = %d, want 0", n)
		}
		if n := count(f.ent); n != 6 {
			t.Errorf("unread after marking 2 = %d, want 6", n)
		}
		if n := count(other); n != otherBefore {
			t.Errorf("the other user's unread count moved: %d → %d", otherBefore, n)
		}
		if it, err := s.Get(ctx, other, f.ids["p-other-5"]); err != nil || !it.ReadTime.IsZero() {
			t.Errorf("the other user's item = %+v, %v; want unread", it, err)
		}
		if n := count(f.officer); n != 5 {
			t.Errorf("officer unread = %d, want 5 (the enterprise user read b-all-11 for themself only)", n)
		}
		if n := count(f.ent2); n != 4 {
			t.Errorf("colleague unread = %d, want 4", n)
		}

		unread := f.pageAll(t, f.ent, true, 2)
		if want := []string{"p9", "p8", "b-e1-6", "b-entusers-3", "b-all-2", "p1"}; !slices.Equal(unread, want) {
			t.Errorf("unread list = %v, want %v", unread, want)
		}
		page, _ := s.List(ctx, f.ent, false, "", 2)
		if page[0].ReadTime.IsZero() || page[1].ReadTime.IsZero() {
			t.Errorf("read items show no read time: %+v", page)
		}

		// Mark all: only this viewer's.
		if n, err := s.MarkRead(ctx, f.ent, nil, true); err != nil || n != 6 {
			t.Errorf("MarkRead(all) = %d, %v; want 6", n, err)
		}
		if n := count(f.ent); n != 0 {
			t.Errorf("unread after all = %d", n)
		}
		if n := count(f.ent2); n != 4 {
			t.Errorf("colleague unread after all = %d, want 4", n)
		}
		if n := count(other); n != otherBefore {
			t.Errorf("other user's unread after all = %d, want %d", n, otherBefore)
		}
		if got := f.pageAll(t, f.ent, true, 5); len(got) != 0 {
			t.Errorf("unread list after all = %v", got)
		}
	})
}

func TestGetAndExpiry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		f := newFixture(t, db)
		f.build(t)
		s := f.s
		if it, err := s.Get(ctx, f.ent, f.ids["p8"]); err != nil || it.ID != f.ids["p8"] || it.Broadcast {
			t.Errorf("own item = %+v, %v", it, err)
		}
		if it, err := s.Get(ctx, f.ent, f.ids["b-e1-6"]); err != nil || !it.Broadcast || it.AudienceID != "E1" {
			t.Errorf("visible broadcast = %+v, %v", it, err)
		}
		for _, label := range []string{"p-other-5", "b-e2-7", "b-officers-4", "p-officer-13"} {
			if _, err := s.Get(ctx, f.ent, f.ids[label]); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get(%s) = %v, want ErrNotFound", label, err)
			}
		}

		// An expired broadcast disappears from lists and counts.
		if _, err := db.ExecContext(ctx, `UPDATE broadcasts SET expire_time = $1 WHERE id = $2`, store.Now().Add(-time.Minute), f.ids["b-all-2"]); err != nil {
			t.Fatal(err)
		}
		if got := f.pageAll(t, f.ent2, false, 10); !slices.Equal(got, []string{"b-all-11", "b-e1-6", "b-entusers-3"}) {
			t.Errorf("after expiry = %v", got)
		}
		if n, _ := s.UnreadCount(ctx, f.ent2); n != 3 {
			t.Errorf("unread after expiry = %d, want 3", n)
		}
	})
}

func TestAddIsIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		s := NewStore(db)
		u1, u2, u3 := addUser(t, db, "officer"), addUser(t, db, "officer"), addUser(t, db, "officer")
		mk := func(users ...string) []Item {
			var items []Item
			for _, u := range users {
				items = append(items, Item{ID: ids.New(), UserID: u, EventID: "ev-1", Category: "issue", TitleVI: "a", TitleEN: "a"})
			}
			return items
		}
		first, err := s.AddPersonal(ctx, nil, mk(u1, u2))
		if err != nil {
			t.Fatal(err)
		}
		again, err := s.AddPersonal(ctx, nil, mk(u2, u3, u1))
		if err != nil {
			t.Fatal(err)
		}
		if again[0].ID != first[1].ID || again[2].ID != first[0].ID || again[1].UserID != u3 || again[1].ID == "" {
			t.Errorf("re-adding did not return the stored ids: first %v, again %v", first, again)
		}
		var n int
		_ = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM inbox_items WHERE event_id = 'ev-1'`).Scan(&n)
		if n != 3 {
			t.Errorf("%d rows, want 3", n)
		}

		b1, err := s.AddBroadcast(ctx, nil, Item{ID: ids.New(), EventID: "ev-b", Category: "notice", TitleVI: "x", TitleEN: "x", Audience: "all"})
		if err != nil {
			t.Fatal(err)
		}
		b2, err := s.AddBroadcast(ctx, db, Item{ID: ids.New(), EventID: "ev-b", Category: "notice", TitleVI: "x", TitleEN: "x", Audience: "all"})
		if err != nil || b2.ID != b1.ID {
			t.Errorf("second AddBroadcast = %+v, %v; want id %s", b2, err, b1.ID)
		}
		_ = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM broadcasts`).Scan(&n)
		if n != 1 {
			t.Errorf("%d broadcasts, want 1", n)
		}

		// Many recipients at once (chunked statements).
		var many []string
		err = db.Tx(ctx, func(tx *sql.Tx) error {
			now := store.Now()
			for range maxIn + 20 {
				id := ids.New()
				many = append(many, id)
				if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, kind, full_name, password_hash, status, create_time, update_time)
VALUES ($1, 'officer', 'Test User', 'x', 'ACTIVE', $2, $2)`, id, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.AddPersonal(ctx, nil, mk(many...))
		if err != nil || len(got) != len(many) {
			t.Fatalf("AddPersonal of %d = %d, %v", len(many), len(got), err)
		}
		for i, it := range got {
			if it.UserID != many[i] {
				t.Fatalf("item %d is for %s, want %s", i, it.UserID, many[i])
			}
		}
	})
}
