package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	notifyv1 "hqconnect/gen/hqconnect/notify/v1"
	"hqconnect/gen/hqconnect/notify/v1/notifyv1connect"
	"hqconnect/internal/testkit"
	"hqconnect/notify/live"
)

// watcher reads a WatchUpdates stream in the background.
type watcher struct {
	msgs   chan *notifyv1.WatchUpdatesResponse
	done   chan error
	cancel context.CancelFunc
}

func watch(t *testing.T, c notifyv1connect.NotificationServiceClient, afterID string) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{msgs: make(chan *notifyv1.WatchUpdatesResponse, 1000), done: make(chan error, 1), cancel: cancel}
	finished := make(chan struct{})
	// The call itself waits for the response headers, which come with the
	// first message: it runs in the background too.
	go func() {
		defer close(finished)
		defer close(w.msgs)
		stream, err := c.WatchUpdates(ctx, req(&notifyv1.WatchUpdatesRequest{AfterId: afterID}))
		if err != nil {
			w.done <- err
			return
		}
		defer stream.Close()
		for stream.Receive() {
			w.msgs <- stream.Msg()
		}
		w.done <- stream.Err()
	}()
	t.Cleanup(func() {
		cancel()
		<-finished
	})
	return w
}

// next returns the next message, or fails at the deadline or the stream's
// end.
func (w *watcher) next(t *testing.T) *notifyv1.WatchUpdatesResponse {
	t.Helper()
	select {
	case m, ok := <-w.msgs:
		if !ok {
			t.Fatalf("stream ended: %v", <-w.done)
		}
		return m
	case <-time.After(wait):
		t.Fatal("nothing arrived")
	}
	return nil
}

// live waits for the first heartbeat: the stream is live. It fails on a
// notification before it.
func (w *watcher) live(t *testing.T) {
	t.Helper()
	if m := w.next(t); m.GetHeartbeat() == nil {
		t.Fatalf("got %v before the first heartbeat", m)
	}
}

// notification returns the next notification, skipping heartbeats.
func (w *watcher) notification(t *testing.T) *notifyv1.Notification {
	t.Helper()
	for {
		if n := w.next(t).GetNotification(); n != nil {
			return n
		}
	}
}

// titles reads notifications until one titled last and returns their
// titles, last included.
func (w *watcher) titles(t *testing.T, last string) []string {
	t.Helper()
	var out []string
	for {
		n := w.notification(t)
		out = append(out, n.Title)
		if n.Title == last {
			return out
		}
		if len(out) > 100 {
			t.Fatalf("no %q in %v", last, out)
		}
	}
}

// end waits for the stream to end and returns its error, after any
// messages still queued.
func (w *watcher) end(t *testing.T) error {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case _, ok := <-w.msgs:
			if !ok {
				return <-w.done
			}
		case <-deadline:
			t.Fatal("the stream did not end")
		}
	}
}

func TestWatchUpdates(t *testing.T) {
	run(t, options{heartbeat: 150 * time.Millisecond}, func(t *testing.T, e *env) {
		a := e.signIn(t, xnkStaffLogin)
		b := e.signIn(t, logStaffLogin)
		officer := e.signIn(t, officerLogin)

		t.Run("items published after subscribing arrive, and only the caller's", func(t *testing.T) {
			wa, wb, wo := watch(t, a.Notify, ""), watch(t, b.EN, ""), watch(t, officer.Notify, "")
			wa.live(t)
			wb.live(t)
			wo.live(t)
			e.deliver(t, b, "for b")
			it := e.deliver(t, a, "for a")
			n := wa.notification(t)
			if n.Id != it.ID || n.Title != "for a (vi)" || n.Body != "nội dung for a" || n.Broadcast ||
				n.Category != notifyv1.Category_CATEGORY_ISSUE || !n.CreateTime.AsTime().Equal(it.CreateTime) {
				t.Fatalf("a got %v", n)
			}
			if n := wb.notification(t); n.Title != "for b" {
				t.Fatalf("b got %q (in English)", n.Title)
			}
			// Broadcasts reach their audience only.
			e.broadcast(t, "enterprise_users", "", "to enterprises")
			e.broadcast(t, "officers", "", "to officers")
			if n := wa.notification(t); n.Title != "to enterprises (vi)" || !n.Broadcast {
				t.Fatalf("a got %v", n)
			}
			if n := wb.notification(t); n.Title != "to enterprises" {
				t.Fatalf("b got %v", n)
			}
			if n := wo.notification(t); n.Title != "to officers (vi)" {
				t.Fatalf("the officer got %v", n)
			}
		})

		t.Run("after_id replays what was missed, then goes live without a gap or a duplicate", func(t *testing.T) {
			seen := e.personal(t, a, "seen")
			e.personal(t, a, "missed 1")
			e.personal(t, b, "not a's")
			missed2 := e.personal(t, a, "missed 2")
			// A broadcast stored while the app was away.
			bc, err := e.Inbox.AddBroadcast(context.Background(), nil, broadcastItem("enterprise", a.Viewer.EnterpriseID, "missed notice"))
			if err != nil {
				t.Fatal(err)
			}

			w := watch(t, a.EN, seen.ID)
			if got := w.titles(t, "missed notice"); strings.Join(got, "|") != "missed 1|missed 2|missed notice" {
				t.Fatalf("replayed %v", got)
			}
			w.live(t)
			// The pipeline sends an item again (at least once): not shown
			// twice; then a new one.
			if err := e.Publisher.PublishUser(context.Background(), a.ID, missed2); err != nil {
				t.Fatal(err)
			}
			if err := e.Publisher.PublishBroadcast(context.Background(), bc); err != nil {
				t.Fatal(err)
			}
			e.deliver(t, a, "live 1")
			if got := w.titles(t, "live 1"); strings.Join(got, "|") != "live 1" {
				t.Fatalf("after the replay %v", got)
			}
		})

		t.Run("heartbeats", func(t *testing.T) {
			w := watch(t, a.Notify, "")
			var last time.Time
			for range 3 {
				hb := w.next(t).GetHeartbeat()
				if hb == nil || !hb.Time.AsTime().After(last) {
					t.Fatalf("heartbeat %v after %v", hb, last)
				}
				last = hb.Time.AsTime()
			}
		})

		t.Run("a bad after_id is refused", func(t *testing.T) {
			w := watch(t, a.EN, "not-an-id")
			err := w.end(t)
			if ce := testkit.WantField(t, err, connect.CodeInvalidArgument, "after_id"); !strings.Contains(ce.Message(), "not a notification id") {
				t.Fatalf("message %q", ce.Message())
			}
		})

		t.Run("a client that leaves releases its subscription", func(t *testing.T) {
			testkit.Eventually(t, "earlier streams to end", func() bool { return e.Hub.Stats().Subscriptions == 0 })
			w := watch(t, a.Notify, "")
			w.live(t)
			if n := e.Hub.Stats().Subscriptions; n != 1 {
				t.Fatalf("%d subscriptions", n)
			}
			w.cancel()
			testkit.Eventually(t, "the subscription to end", func() bool { return e.Hub.Stats() == live.Stats{} })
		})

		t.Run("anonymous callers are refused", func(t *testing.T) {
			err := watch(t, e.anon(), "").end(t)
			testkit.WantCode(t, err, connect.CodeUnauthenticated)
		})

		if e.Redis.Mini != nil {
			t.Run("items published while Redis was away are replayed when it is back", func(t *testing.T) {
				w := watch(t, a.Notify, "")
				w.live(t)
				e.Redis.Mini.Close()
				e.personal(t, a, "while away") // stored; its publish was lost
				if err := e.Redis.Mini.Restart(); err != nil {
					t.Fatal(err)
				}
				if n := w.notification(t); n.Title != "while away (vi)" {
					t.Fatalf("got %v", n)
				}
				e.deliver(t, a, "after")
				if got := w.titles(t, "after (vi)"); len(got) != 1 {
					t.Fatalf("got %v", got)
				}
			})
		}

		t.Run("the stream ends with Unavailable when the hub stops", func(t *testing.T) {
			w := watch(t, a.Notify, "")
			w.live(t)
			e.stopHub()
			<-e.hubDone
			testkit.WantCode(t, w.end(t), connect.CodeUnavailable)
			// A new stream is told at once.
			testkit.WantCode(t, watch(t, a.Notify, "").end(t), connect.CodeUnavailable)
		})
	})
}

// TestWatchUpdatesRace holds the replay's inbox read to publish items in
// between, deterministically.
func TestWatchUpdatesRace(t *testing.T) {
	run(t, options{heartbeat: time.Hour, gated: true, buffer: 2}, func(t *testing.T, e *env) {
		a := e.signIn(t, xnkStaffLogin)

		t.Run("an item published while the replay reads the inbox comes once", func(t *testing.T) {
			seen := e.personal(t, a, "seen")
			entered, release := e.Gate.arm()
			w := watch(t, a.EN, seen.ID)
			waitFor(t, entered, "the replay to start") // subscribed and confirmed
			// A subscription of the test's on the same hub: the hub hands an
			// item to every subscription of a channel at once, so when this
			// one has it, the stream's has it buffered.
			probe := e.Hub.Subscribe(a.Viewer)
			defer probe.Close()
			waitFor(t, probe.Ready(), "the probe")
			// Stored, then published, so the replay reads it and the live
			// copy waits in the buffer.
			e.deliver(t, a, "during the replay")
			select {
			case <-probe.C:
			case <-time.After(wait):
				t.Fatal("the hub did not dispatch the item")
			}
			close(release)
			if got := w.titles(t, "during the replay"); len(got) != 1 {
				t.Fatalf("got %v", got)
			}
			w.live(t)
			e.deliver(t, a, "then")
			if got := w.titles(t, "then"); len(got) != 1 {
				t.Fatalf("after the replay %v, want only \"then\"", got)
			}
		})

		t.Run("a stream that falls behind ends with ResourceExhausted", func(t *testing.T) {
			seen := e.personal(t, a, "seen 2")
			entered, release := e.Gate.arm()
			w := watch(t, a.EN, seen.ID)
			waitFor(t, entered, "the replay to start")
			// More than the buffer of 2 while the stream is busy.
			for _, title := range []string{"1", "2", "3", "4"} {
				e.deliver(t, a, title)
			}
			testkit.Eventually(t, "the subscription to be dropped", func() bool { return e.Hub.Stats().Subscriptions == 0 })
			close(release)
			// What the replay read still arrives, then the stream ends.
			if got := w.titles(t, "4"); strings.Join(got, "|") != "1|2|3|4" {
				t.Fatalf("got %v", got)
			}
			ce := testkit.WantCode(t, w.end(t), connect.CodeResourceExhausted)
			if !strings.Contains(ce.Message(), "after_id") {
				t.Fatalf("message %q", ce.Message())
			}
		})
	})
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(wait):
		t.Fatalf("timed out waiting for %s", what)
	}
}
