package live

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"hqconnect/internal/ids"
	"hqconnect/internal/redisx/redistest"
	"hqconnect/notify/inbox"
)

const wait = 10 * time.Second

// startHub runs a hub on b until the test ends.
func startHub(t *testing.T, b redistest.Backend, opts ...Option) *Hub {
	t.Helper()
	h := NewHub(b.Client, b.Prefix, nil, opts...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return h
}

// ready subscribes v and waits until Redis has confirmed it.
func ready(t *testing.T, h *Hub, v inbox.Viewer) *Subscription {
	t.Helper()
	s := h.Subscribe(v)
	t.Cleanup(s.Close)
	select {
	case <-s.Ready():
	case <-time.After(wait):
		t.Fatalf("subscription of %+v not ready", v)
	}
	return s
}

func item(title string) inbox.Item {
	return inbox.Item{
		ID: ids.New(), EventID: ids.New(), Category: "issue",
		TitleVI: title + " (vi)", TitleEN: title, BodyVI: "nội dung", BodyEN: "body",
		EntityKind: "issue", EntityID: "i-1", CreateTime: time.Now().UTC().Truncate(time.Microsecond),
	}
}

func broadcast(title, audience, audienceID string) inbox.Item {
	it := item(title)
	it.Broadcast, it.Audience, it.AudienceID = true, audience, audienceID
	return it
}

// next receives one item or fails at the deadline.
func next(t *testing.T, s *Subscription) inbox.Item {
	t.Helper()
	select {
	case it, ok := <-s.C:
		if !ok {
			t.Fatalf("subscription closed: %v", s.Err())
		}
		return it
	case <-time.After(wait):
		t.Fatal("no item arrived")
	}
	return inbox.Item{}
}

// nothingPending fails if s holds an item. Callers first receive a later
// item published on the same connection, so anything earlier has arrived.
func nothingPending(t *testing.T, s *Subscription, who string) {
	t.Helper()
	select {
	case it := <-s.C:
		t.Fatalf("%s received %q", who, it.TitleEN)
	default:
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func numsub(t *testing.T, rdb redis.UniversalClient, channel string) int64 {
	t.Helper()
	m, err := rdb.PubSubNumSub(context.Background(), channel).Result()
	if err != nil {
		t.Fatal(err)
	}
	return m[channel]
}

func officer(unit string) inbox.Viewer {
	return inbox.Viewer{UserID: ids.New(), Kind: "officer", UnitID: unit}
}

func enterpriseUser(ent string) inbox.Viewer {
	return inbox.Viewer{UserID: ids.New(), Kind: "enterprise_user", EnterpriseID: ent}
}

func TestItemRoundTrip(t *testing.T) {
	it := broadcast("Thông báo", "enterprise", "e-1")
	it.UserID, it.ReadTime = "u-1", time.Now().UTC().Truncate(time.Microsecond)
	b, err := encodeItem(it)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeItem(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreateTime.Equal(it.CreateTime) || !got.ReadTime.Equal(it.ReadTime) {
		t.Fatalf("times %v %v, want %v %v", got.CreateTime, got.ReadTime, it.CreateTime, it.ReadTime)
	}
	got.CreateTime, got.ReadTime, it.CreateTime, it.ReadTime = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if got != it {
		t.Fatalf("got %+v, want %+v", got, it)
	}
	if _, err := decodeItem(`{"title_en":"no id"}`); err == nil {
		t.Fatal("an item without an id decoded")
	}
}

func TestChannelsOf(t *testing.T) {
	v := inbox.Viewer{UserID: "u1", Kind: "enterprise_user", EnterpriseID: "e1"}
	got := fmt.Sprint(channelsOf("p:", v))
	want := "[p:live:u:u1 p:live:b:all: p:live:b:enterprise_users: p:live:b:enterprise:e1]"
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestPublishValidates(t *testing.T) {
	p := NewPublisher(redistest.Mini(t).Client, "t:")
	if err := p.PublishUser(t.Context(), "", item("x")); err == nil {
		t.Error("PublishUser without a user id succeeded")
	}
	if err := p.PublishBroadcast(t.Context(), item("x")); err == nil {
		t.Error("PublishBroadcast without an audience succeeded")
	}
	if err := p.PublishUser(t.Context(), "u", inbox.Item{}); err == nil {
		t.Error("PublishUser without an item id succeeded")
	}
}

func TestHub(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		t.Run("a personal item published on one instance reaches a subscriber on another", func(t *testing.T) {
			hubA, hubB := startHub(t, b), startHub(t, b)
			alice, bob := enterpriseUser("e-a"), enterpriseUser("e-a")
			onB := ready(t, hubB, alice)
			bobOnA := ready(t, hubA, bob)
			bobOnB := ready(t, hubB, bob)

			pub := NewPublisher(b.Client, b.Prefix)
			want := item("for alice")
			if err := pub.PublishUser(t.Context(), alice.UserID, want); err != nil {
				t.Fatal(err)
			}
			got := next(t, onB)
			if got.ID != want.ID || got.TitleVI != want.TitleVI || got.BodyEN != want.BodyEN || !got.CreateTime.Equal(want.CreateTime) {
				t.Fatalf("got %+v, want %+v", got, want)
			}
			// A later item to bob, received on both instances, shows bob got
			// nothing of alice's.
			if err := pub.PublishUser(t.Context(), bob.UserID, item("for bob")); err != nil {
				t.Fatal(err)
			}
			for _, s := range []*Subscription{bobOnA, bobOnB} {
				if got := next(t, s); got.TitleEN != "for bob" {
					t.Fatalf("bob got %q", got.TitleEN)
				}
			}
			nothingPending(t, onB, "alice")
		})

		t.Run("broadcasts reach every viewer of their audience", func(t *testing.T) {
			hubA, hubB := startHub(t, b), startHub(t, b)
			entA1, entA2, entB := enterpriseUser("ent-a"), enterpriseUser("ent-a"), enterpriseUser("ent-b")
			offX, offY := officer("unit-x"), officer("unit-y")
			subs := map[string]*Subscription{
				"entA1": ready(t, hubA, entA1),
				"entA2": ready(t, hubB, entA2),
				"entB":  ready(t, hubB, entB),
				"offX":  ready(t, hubA, offX),
				"offY":  ready(t, hubB, offY),
			}
			pub := NewPublisher(b.Client, b.Prefix)
			for _, tc := range []struct {
				audience, id string
				want         []string
			}{
				{"all", "", []string{"entA1", "entA2", "entB", "offX", "offY"}},
				{"enterprise_users", "", []string{"entA1", "entA2", "entB"}},
				{"officers", "", []string{"offX", "offY"}},
				{"enterprise", "ent-a", []string{"entA1", "entA2"}},
				{"unit", "unit-y", []string{"offY"}},
			} {
				it := broadcast(tc.audience+":"+tc.id, tc.audience, tc.id)
				if err := pub.PublishBroadcast(t.Context(), it); err != nil {
					t.Fatal(err)
				}
				// End marker to everyone: whoever did not get it has nothing
				// before the marker.
				if err := pub.PublishBroadcast(t.Context(), broadcast("marker", "all", "")); err != nil {
					t.Fatal(err)
				}
				for name, s := range subs {
					got := next(t, s)
					if contains(tc.want, name) {
						if got.ID != it.ID || !got.Broadcast || got.Audience != tc.audience {
							t.Fatalf("%s: %s got %+v", tc.audience, name, got)
						}
						got = next(t, s)
					}
					if got.TitleEN != "marker" {
						t.Fatalf("%s: %s got %q, want the marker", tc.audience, name, got.TitleEN)
					}
				}
			}
		})

		t.Run("channels are reference-counted and released", func(t *testing.T) {
			h := startHub(t, b)
			v := enterpriseUser("ent-rc")
			ch := userChannel(b.Prefix, v.UserID)
			s1 := ready(t, h, v)
			s2 := ready(t, h, v)
			if n := numsub(t, b.Client, ch); n != 1 {
				t.Fatalf("NUMSUB %d with two local subscriptions, want 1 (one connection)", n)
			}
			s1.Close()
			s1.Close() // twice is fine
			if err := s1.Err(); err != nil {
				t.Fatalf("Err after Close: %v", err)
			}
			if _, ok := <-s1.C; ok {
				t.Fatal("C open after Close")
			}
			// s2 still receives.
			if err := NewPublisher(b.Client, b.Prefix).PublishUser(t.Context(), v.UserID, item("still")); err != nil {
				t.Fatal(err)
			}
			if got := next(t, s2); got.TitleEN != "still" {
				t.Fatalf("got %q", got.TitleEN)
			}
			s2.Close()
			eventually(t, "the channel to be released", func() bool {
				return numsub(t, b.Client, ch) == 0 && h.Stats() == Stats{}
			})
			// And taken again.
			s3 := ready(t, h, v)
			if n := numsub(t, b.Client, ch); n != 1 {
				t.Fatalf("NUMSUB %d after resubscribing", n)
			}
			if err := NewPublisher(b.Client, b.Prefix).PublishUser(t.Context(), v.UserID, item("again")); err != nil {
				t.Fatal(err)
			}
			if got := next(t, s3); got.TitleEN != "again" {
				t.Fatalf("got %q", got.TitleEN)
			}
		})

		t.Run("a slow consumer is dropped, the others go on", func(t *testing.T) {
			h := startHub(t, b, WithBuffer(2))
			v := enterpriseUser("ent-slow")
			slow := ready(t, h, v)
			fast := ready(t, h, v)
			pub := NewPublisher(b.Client, b.Prefix)
			for i := range 5 {
				if err := pub.PublishUser(t.Context(), v.UserID, item(fmt.Sprint(i))); err != nil {
					t.Fatal(err)
				}
				if got := next(t, fast); got.TitleEN != fmt.Sprint(i) {
					t.Fatalf("fast got %q", got.TitleEN)
				}
			}
			// The slow one got the two its buffer holds, then its channel
			// closed.
			var got []string
			for it := range slow.C {
				got = append(got, it.TitleEN)
			}
			if fmt.Sprint(got) != "[0 1]" {
				t.Fatalf("slow got %v", got)
			}
			if !errors.Is(slow.Err(), ErrSlowConsumer) {
				t.Fatalf("Err %v, want ErrSlowConsumer", slow.Err())
			}
			if st := h.Stats(); st.Subscriptions != 1 {
				t.Fatalf("stats %+v", st)
			}
		})

		t.Run("subscriptions end when the hub stops", func(t *testing.T) {
			h := NewHub(b.Client, b.Prefix, nil)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- h.Run(ctx) }()
			s := ready(t, h, officer("u-stop"))
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if _, ok := <-s.C; ok {
				t.Fatal("C open after stop")
			}
			if !errors.Is(s.Err(), ErrHubStopped) {
				t.Fatalf("Err %v", s.Err())
			}
			late := h.Subscribe(officer("u-stop"))
			<-late.Ready() // closed: nothing to wait for
			if _, ok := <-late.C; ok || !errors.Is(late.Err(), ErrHubStopped) {
				t.Fatalf("a subscription after stop: open %v, err %v", ok, late.Err())
			}
			if err := h.Run(context.Background()); err == nil {
				t.Fatal("Run ran twice")
			}
		})

		t.Run("concurrent subscribers come and go", func(t *testing.T) {
			h := startHub(t, b)
			pub := NewPublisher(b.Client, b.Prefix)
			var wg sync.WaitGroup
			for g := range 20 {
				wg.Go(func() {
					v := officer(fmt.Sprint("unit-", g%3))
					for range 20 {
						s := h.Subscribe(v)
						select {
						case <-s.Ready():
						case <-time.After(wait):
							t.Error("not ready")
						}
						if err := pub.PublishUser(context.Background(), v.UserID, item("x")); err != nil {
							t.Error(err)
						}
						select {
						case <-s.C:
						case <-time.After(wait):
							t.Error("own item did not arrive")
						}
						s.Close()
					}
				})
			}
			wg.Wait()
			eventually(t, "every channel to be released", func() bool { return h.Stats() == Stats{} })
		})
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestHubReconnects restarts miniredis under a live subscription: the hub
// subscribes again, tells the subscription to resync, and delivers again.
func TestHubReconnects(t *testing.T) {
	t.Parallel()
	b := redistest.Mini(t)
	h := startHub(t, b)
	v := enterpriseUser("ent-re")
	s := ready(t, h, v)
	b.Mini.Close()
	if err := b.Mini.Restart(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Resync():
	case <-time.After(wait):
		t.Fatal("no resync after the reconnect")
	}
	if err := NewPublisher(b.Client, b.Prefix).PublishUser(t.Context(), v.UserID, item("after")); err != nil {
		t.Fatal(err)
	}
	if got := next(t, s); got.TitleEN != "after" {
		t.Fatalf("got %q", got.TitleEN)
	}
	if st := h.Stats(); st.Subscriptions != 1 || st.Confirmed != st.Channels {
		t.Fatalf("stats %+v", st)
	}
}

// TestHubHoldsManySubscriptions holds 10,000 subscriptions of distinct
// users on one hub: no goroutine per subscription, and one broadcast reaches
// them all.
func TestHubHoldsManySubscriptions(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 subscriptions")
	}
	// Not parallel: it counts goroutines.
	const n = 10_000
	b := redistest.Mini(t)
	h := startHub(t, b)
	goroutines := runtime.NumGoroutine()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	subs := make([]*Subscription, n)
	for i := range subs {
		subs[i] = h.Subscribe(enterpriseUser(fmt.Sprint("ent-", i%100)))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("%d subscriptions: %d bytes each on the heap (buffer %d)", n,
		(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n, DefaultBuffer)
	for _, s := range subs {
		select {
		case <-s.Ready():
		case <-time.After(30 * time.Second):
			t.Fatal("not ready")
		}
	}
	if g := runtime.NumGoroutine(); g > goroutines+n/100 {
		t.Fatalf("%d goroutines for %d subscriptions (%d before)", g, n, goroutines)
	}
	if st := h.Stats(); st.Subscriptions != n || st.Channels != n+2+100 {
		t.Fatalf("stats %+v", st)
	}
	if err := NewPublisher(b.Client, b.Prefix).PublishBroadcast(t.Context(), broadcast("to all", "all", "")); err != nil {
		t.Fatal(err)
	}
	for _, s := range subs {
		if got := next(t, s); got.TitleEN != "to all" {
			t.Fatalf("got %q", got.TitleEN)
		}
	}
	for _, s := range subs {
		s.Close()
	}
	eventually(t, "every channel to be released", func() bool { return h.Stats() == Stats{} })
}

// TestHubStopsPendingSubscriptions: a subscription still waiting for Redis
// (down) ends when the hub stops, and its Ready is closed.
func TestHubStopsPendingSubscriptions(t *testing.T) {
	t.Parallel()
	b := redistest.Mini(t)
	b.Mini.Close()
	h := NewHub(b.Client, b.Prefix, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	s := h.Subscribe(officer("u-down"))
	select {
	case <-s.Ready():
		t.Fatal("ready without Redis")
	default:
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Ready():
	case <-time.After(wait):
		t.Fatal("Ready still open after the hub stopped")
	}
	if _, ok := <-s.C; ok || !errors.Is(s.Err(), ErrHubStopped) {
		t.Fatalf("open %v, err %v", ok, s.Err())
	}
}
