package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hqconnect/internal/redisx/redistest"
)

// clock is a settable clock for Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().Truncate(time.Millisecond)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// run is one handler invocation as a recorder saw it.
type run struct {
	job Job
	at  time.Time
}

// recorder counts handler runs per key.
type recorder struct {
	mu   sync.Mutex
	runs map[string][]run
}

func newRecorder() *recorder { return &recorder{runs: map[string][]run{}} }

func (r *recorder) add(j Job, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs[j.Key] = append(r.runs[j.Key], run{j, at})
}

func (r *recorder) get(key string) []run {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]run(nil), r.runs[key]...)
}

func (r *recorder) count(key string) int { return len(r.get(key)) }

func (r *recorder) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rs := range r.runs {
		n += len(rs)
	}
	return n
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// newScheduler returns a Scheduler whose keys are those of t alone (subtests
// share a backend), with a short poll.
func newScheduler(t *testing.T, b redistest.Backend, cfg Config) *Scheduler {
	cfg.Prefix = b.Prefix + t.Name() + ":"
	if cfg.Poll == 0 {
		cfg.Poll = 20 * time.Millisecond
	}
	cfg.Log = slog.New(slog.DiscardHandler)
	return New(b.Client, cfg)
}

// start runs s in the background; stop cancels it and waits for Run to
// return (so every handler has finished and recorded its outcome).
func start(t *testing.T, s *Scheduler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v, want nil", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return after its context was cancelled")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func mustSchedule(t *testing.T, s *Scheduler, j Job) {
	t.Helper()
	if err := s.Schedule(context.Background(), j); err != nil {
		t.Fatal(err)
	}
}

func gone(t *testing.T, s *Scheduler, key string) func() bool {
	return func() bool {
		_, ok, err := s.Get(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		return !ok
	}
}

func attemptIs(t *testing.T, s *Scheduler, key string, n int) func() bool {
	return func() bool {
		j, ok, err := s.Get(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		return ok && j.Attempt == n
	}
}

func TestScheduler(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()

		t.Run("runs a job once at or after its due time", func(t *testing.T) {
			clk := newClock()
			s := newScheduler(t, b, Config{Now: clk.Now})
			rec := newRecorder()
			s.Handle("k", func(ctx context.Context, j Job) error { rec.add(j, clk.Now()); return nil })
			later := Job{Key: "later", Kind: "k", Due: clk.Now().Add(10 * time.Second), Payload: []byte("p")}
			mustSchedule(t, s, later)
			mustSchedule(t, s, Job{Key: "now", Kind: "k"})
			start(t, s)

			eventually(t, "the due job to run", func() bool { return rec.count("now") == 1 })
			// The claim that took "now" would have taken "later" were it due.
			if n := rec.count("later"); n != 0 {
				t.Fatalf("job ran %d times before its due time", n)
			}
			clk.Add(10 * time.Second)
			eventually(t, "the later job to run", func() bool { return rec.count("later") == 1 })
			eventually(t, "the job to be removed after its run", gone(t, s, "later"))
			r := rec.get("later")[0]
			if r.at.Before(later.Due) {
				t.Fatalf("ran at %v, before its due time %v", r.at, later.Due)
			}
			if string(r.job.Payload) != "p" || r.job.Attempt != 0 || !r.job.Due.Equal(later.Due) {
				t.Fatalf("handler got %+v", r.job)
			}
			if n := rec.count("later"); n != 1 {
				t.Fatalf("ran %d times, want once", n)
			}
		})

		t.Run("scheduling a key again replaces its due time and payload", func(t *testing.T) {
			clk := newClock()
			s := newScheduler(t, b, Config{Now: clk.Now})
			rec := newRecorder()
			s.Handle("k", func(ctx context.Context, j Job) error { rec.add(j, clk.Now()); return nil })
			t0 := clk.Now()
			mustSchedule(t, s, Job{Key: "k1", Kind: "k", Due: t0.Add(5 * time.Second), Payload: []byte("v1")})
			mustSchedule(t, s, Job{Key: "k1", Kind: "k", Due: t0.Add(20 * time.Second), Payload: []byte("v2")})
			mustSchedule(t, s, Job{Key: "marker", Kind: "k", Due: t0.Add(5 * time.Second)})
			j, ok, err := s.Get(ctx, "k1")
			if err != nil || !ok || string(j.Payload) != "v2" || !j.Due.Equal(t0.Add(20*time.Second)) {
				t.Fatalf("Get = %+v, %v, %v; want the v2 version", j, ok, err)
			}
			start(t, s)

			clk.Add(5 * time.Second)
			eventually(t, "the marker to run", func() bool { return rec.count("marker") == 1 })
			if n := rec.count("k1"); n != 0 {
				t.Fatalf("rescheduled job ran %d times at its old due time", n)
			}
			clk.Add(15 * time.Second)
			eventually(t, "the rescheduled job to run", func() bool { return rec.count("k1") == 1 })
			mustSchedule(t, s, Job{Key: "marker2", Kind: "k"})
			eventually(t, "a later marker to run", func() bool { return rec.count("marker2") == 1 })
			rs := rec.get("k1")
			if len(rs) != 1 || string(rs[0].job.Payload) != "v2" {
				t.Fatalf("runs = %+v; want one run with v2", rs)
			}
		})

		t.Run("cancel prevents the run", func(t *testing.T) {
			clk := newClock()
			s := newScheduler(t, b, Config{Now: clk.Now})
			rec := newRecorder()
			s.Handle("k", func(ctx context.Context, j Job) error { rec.add(j, clk.Now()); return nil })
			due := clk.Now().Add(10 * time.Second)
			mustSchedule(t, s, Job{Key: "doomed", Kind: "k", Due: due})
			mustSchedule(t, s, Job{Key: "kept", Kind: "k", Due: due})
			if ok, err := s.Cancel(ctx, "doomed"); err != nil || !ok {
				t.Fatalf("Cancel = %v, %v; want true", ok, err)
			}
			if ok, err := s.Cancel(ctx, "doomed"); err != nil || ok {
				t.Fatalf("second Cancel = %v, %v; want false", ok, err)
			}
			if _, ok, err := s.Get(ctx, "doomed"); err != nil || ok {
				t.Fatalf("Get after Cancel = %v, %v; want not found", ok, err)
			}
			start(t, s)
			clk.Add(10 * time.Second)
			eventually(t, "the other job to run", func() bool { return rec.count("kept") == 1 })
			if n := rec.count("doomed"); n != 0 {
				t.Fatalf("cancelled job ran %d times", n)
			}
		})

		t.Run("two instances run each of 200 jobs exactly once", func(t *testing.T) {
			rec := newRecorder()
			var running sync.Map
			var overlaps atomic.Int32
			handler := func(ctx context.Context, j Job) error {
				if _, busy := running.LoadOrStore(j.Key, true); busy {
					overlaps.Add(1)
				}
				defer running.Delete(j.Key)
				rec.add(j, time.Now())
				return nil
			}
			var ss []*Scheduler
			for range 2 {
				s := newScheduler(t, b, Config{Batch: 16})
				s.Handle("k", handler)
				start(t, s)
				ss = append(ss, s)
			}
			var wg sync.WaitGroup
			for i := range 200 {
				wg.Go(func() {
					if err := ss[i%2].Schedule(ctx, Job{Key: fmt.Sprintf("job:%d", i), Kind: "k"}); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			eventually(t, "all jobs to run and be removed", func() bool {
				n, err := b.Client.HLen(ctx, ss[0].data).Result()
				if err != nil {
					t.Fatal(err)
				}
				return rec.total() >= 200 && n == 0
			})
			for i := range 200 {
				if n := rec.count(fmt.Sprintf("job:%d", i)); n != 1 {
					t.Errorf("job:%d ran %d times", i, n)
				}
			}
			if n := rec.total(); n != 200 {
				t.Errorf("%d runs in total, want 200", n)
			}
			if n := overlaps.Load(); n != 0 {
				t.Errorf("%d jobs ran on two instances at once", n)
			}
		})

		t.Run("a failing job is retried with backoff until it succeeds", func(t *testing.T) {
			clk := newClock()
			s := newScheduler(t, b, Config{Now: clk.Now})
			var calls atomic.Int32
			s.Handle("flaky", func(ctx context.Context, j Job) error {
				if n := calls.Add(1); n <= 2 {
					if j.Attempt != int(n)-1 {
						t.Errorf("call %d saw Attempt %d", n, j.Attempt)
					}
					return errors.New("temporarily broken")
				}
				return nil
			})
			mustSchedule(t, s, Job{Key: "flaky", Kind: "flaky"})
			start(t, s)

			eventually(t, "the first failure to be recorded", attemptIs(t, s, "flaky", 1))
			j, _, _ := s.Get(ctx, "flaky")
			if wait := j.Due.Sub(clk.Now()); wait < time.Second || wait > 1500*time.Millisecond {
				t.Fatalf("first retry in %v, want 1s–1.5s", wait)
			}
			if j.LastError != "temporarily broken" {
				t.Fatalf("LastError = %q", j.LastError)
			}
			clk.Add(1500 * time.Millisecond)
			eventually(t, "the second failure to be recorded", attemptIs(t, s, "flaky", 2))
			j, _, _ = s.Get(ctx, "flaky")
			if wait := j.Due.Sub(clk.Now()); wait < 2*time.Second || wait > 3*time.Second {
				t.Fatalf("second retry in %v, want 2s–3s", wait)
			}
			clk.Add(3 * time.Second)
			eventually(t, "the job to succeed and be removed", gone(t, s, "flaky"))
			if n := calls.Load(); n != 3 {
				t.Fatalf("handler ran %d times, want 3", n)
			}
		})

		t.Run("unknown kinds and panics count as failures", func(t *testing.T) {
			clk := newClock()
			s := newScheduler(t, b, Config{Now: clk.Now})
			s.Handle("panics", func(ctx context.Context, j Job) error { panic("boom") })
			mustSchedule(t, s, Job{Key: "unknown", Kind: "nobody-handles-this"})
			mustSchedule(t, s, Job{Key: "panics", Kind: "panics"})
			start(t, s)
			eventually(t, "the unknown kind to fail", attemptIs(t, s, "unknown", 1))
			eventually(t, "the panic to fail", attemptIs(t, s, "panics", 1))
			for key, want := range map[string]string{"unknown": "no handler", "panics": "panicked: boom"} {
				j, _, _ := s.Get(ctx, key)
				if !strings.Contains(j.LastError, want) {
					t.Errorf("%s: LastError = %q, want it to mention %q", key, j.LastError, want)
				}
			}
		})

		t.Run("after MaxAttempts a job is dead until replayed", func(t *testing.T) {
			clk := newClock()
			s := newScheduler(t, b, Config{Now: clk.Now, MaxAttempts: 2})
			var fixed atomic.Bool
			var calls atomic.Int32
			s.Handle("k", func(ctx context.Context, j Job) error {
				calls.Add(1)
				if !fixed.Load() {
					return errors.New("broken")
				}
				return nil
			})
			mustSchedule(t, s, Job{Key: "doomed", Kind: "k", Payload: []byte("p")})
			start(t, s)
			eventually(t, "the first failure", attemptIs(t, s, "doomed", 1))
			clk.Add(2 * time.Second)
			var dead []Job
			eventually(t, "the job to be dead", func() bool {
				var err error
				dead, err = s.ListDead(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return len(dead) == 1
			})
			if d := dead[0]; d.Key != "doomed" || d.Attempt != 2 || d.LastError != "broken" || string(d.Payload) != "p" {
				t.Fatalf("dead job = %+v", d)
			}
			if _, ok, _ := s.Get(ctx, "doomed"); ok {
				t.Fatal("a dead job is still scheduled")
			}
			if n := calls.Load(); n != 2 {
				t.Fatalf("handler ran %d times before the job died, want 2", n)
			}

			fixed.Store(true)
			if err := s.Replay(ctx, "doomed"); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the replayed job to run", func() bool { return calls.Load() == 3 })
			eventually(t, "the replayed job to be removed", gone(t, s, "doomed"))
			if dead, err := s.ListDead(ctx); err != nil || len(dead) != 0 {
				t.Fatalf("ListDead after replay = %v, %v", dead, err)
			}
			if err := s.Replay(ctx, "doomed"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Replay of a missing job = %v, want ErrNotFound", err)
			}
		})

		t.Run("a dead runner's job is run by another instance after the lease", func(t *testing.T) {
			const lease = 300 * time.Millisecond
			entered := make(chan Job, 1)
			a := newScheduler(t, b, Config{Lease: lease})
			a.Handle("k", func(ctx context.Context, j Job) error {
				select {
				case entered <- j:
				default:
				}
				<-ctx.Done()
				return ctx.Err()
			})
			stopA := start(t, a)
			mustSchedule(t, a, Job{Key: "stuck", Kind: "k"})
			select {
			case <-entered:
			case <-time.After(10 * time.Second):
				t.Fatal("runner A never started the job")
			}
			leaseEnd := func() float64 {
				v, err := b.Client.ZScore(ctx, a.due, "stuck").Result()
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
			// While A lives it keeps extending the lease.
			first := leaseEnd()
			eventually(t, "A to extend the lease past the first one", func() bool {
				return leaseEnd()-first >= float64(lease.Milliseconds())
			})

			leased := leaseEnd()
			stopA() // A dies: its handler stops, the job stays leased
			rec := newRecorder()
			bb := newScheduler(t, b, Config{Lease: lease})
			bb.Handle("k", func(ctx context.Context, j Job) error { rec.add(j, time.Now()); return nil })
			start(t, bb)
			eventually(t, "B to run the job after the lease", func() bool { return rec.count("stuck") == 1 })
			r := rec.get("stuck")[0]
			if r.job.Attempt != 0 {
				t.Fatalf("the interrupted run counted as a failure: Attempt = %d", r.job.Attempt)
			}
			if r.at.Before(time.UnixMilli(int64(leased))) {
				t.Fatalf("B ran the job at %v, before A's lease ended at %v", r.at, time.UnixMilli(int64(leased)))
			}
			eventually(t, "the job to be removed", gone(t, bb, "stuck"))
		})

		t.Run("a reschedule made while the job runs is not lost", func(t *testing.T) {
			clk := newClock()
			s := newScheduler(t, b, Config{Now: clk.Now})
			rec := newRecorder()
			entered := make(chan string, 2)
			release := make(chan struct{})
			var recorded sync.WaitGroup
			recorded.Add(2)
			s.afterRun = func(j Job, err error) {
				if string(j.Payload) == "v1" {
					recorded.Done()
				}
			}
			handler := func(ctx context.Context, j Job) error {
				rec.add(j, clk.Now())
				if string(j.Payload) != "v1" {
					return nil
				}
				entered <- j.Key
				<-release
				if j.Key == "fails" {
					return errors.New("old version failed")
				}
				return nil
			}
			s.Handle("k", handler)
			stop := start(t, s)
			mustSchedule(t, s, Job{Key: "ok", Kind: "k", Payload: []byte("v1")})
			mustSchedule(t, s, Job{Key: "fails", Kind: "k", Payload: []byte("v1")})
			for range 2 {
				select {
				case <-entered:
				case <-time.After(10 * time.Second):
					t.Fatal("handlers never started")
				}
			}
			due := clk.Now().Add(time.Minute)
			mustSchedule(t, s, Job{Key: "ok", Kind: "k", Due: due, Payload: []byte("v2")})
			mustSchedule(t, s, Job{Key: "fails", Kind: "k", Due: due, Payload: []byte("v2")})
			close(release)
			recorded.Wait() // both old runs have stored their outcome
			stop()

			for _, key := range []string{"ok", "fails"} {
				j, ok, err := s.Get(ctx, key)
				if err != nil || !ok || string(j.Payload) != "v2" || !j.Due.Equal(due) || j.Attempt != 0 {
					t.Fatalf("%s after the old run finished: Get = %+v, %v, %v; want the v2 version untouched", key, j, ok, err)
				}
			}

			// A fresh instance (a restart) runs the new versions when due.
			s2 := newScheduler(t, b, Config{Now: clk.Now})
			s2.Handle("k", handler)
			start(t, s2)
			clk.Add(time.Minute)
			eventually(t, "the new versions to run", func() bool { return rec.count("ok") == 2 && rec.count("fails") == 2 })
			for _, key := range []string{"ok", "fails"} {
				if rs := rec.get(key); string(rs[1].job.Payload) != "v2" {
					t.Fatalf("%s: second run had payload %q", key, rs[1].job.Payload)
				}
				eventually(t, "the job to be removed", gone(t, s2, key))
			}
		})

		t.Run("a job scheduled soon wakes an idle runner", func(t *testing.T) {
			s := newScheduler(t, b, Config{Poll: time.Minute})
			rec := newRecorder()
			s.Handle("k", func(ctx context.Context, j Job) error { rec.add(j, time.Now()); return nil })
			mustSchedule(t, s, Job{Key: "first", Kind: "k"})
			start(t, s)
			// Once "first" ran, the runner is subscribed and idles for a minute.
			eventually(t, "the first job to run", func() bool { return rec.count("first") == 1 })
			due := time.Now().Add(300 * time.Millisecond)
			mustSchedule(t, s, Job{Key: "soon", Kind: "k", Due: due})
			eventually(t, "the nudged job to run", func() bool { return rec.count("soon") == 1 })
			if at := rec.get("soon")[0].at; at.Before(due.Truncate(time.Millisecond)) {
				t.Fatalf("ran at %v, before its due time %v", at, due)
			}
		})
	})
}

func TestScheduleRejectsIncompleteJobs(t *testing.T) {
	b := redistest.Mini(t)
	s := newScheduler(t, b, Config{})
	for _, j := range []Job{{Kind: "k"}, {Key: "x"}} {
		if err := s.Schedule(context.Background(), j); !errors.Is(err, ErrInvalidJob) {
			t.Errorf("Schedule(%+v) = %v, want ErrInvalidJob", j, err)
		}
	}
}

func TestBackoff(t *testing.T) {
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 10: 512 * time.Second, 11: maxBackoff, 50: maxBackoff} {
		for range 100 {
			got := backoff(attempt)
			if got < want || got > min(want+want/2, maxBackoff) {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", attempt, got, want, min(want+want/2, maxBackoff))
			}
		}
	}
}
