package leader

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"hqconnect/internal/redisx/redistest"
)

const ttl = 300 * time.Millisecond

func testConfig(b redistest.Backend, name string) Config {
	return Config{Prefix: b.Prefix, Name: name, TTL: ttl, Log: slog.New(slog.DiscardHandler)}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// start runs Run in the background; the returned stop cancels it and waits
// for it to return nil.
func start(t *testing.T, b redistest.Backend, cfg Config, work func(ctx context.Context, fence int64) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, b.Client, cfg, work) }()
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

// lead is one acquisition as the work saw it.
type lead struct {
	who   string
	fence int64
	ctx   context.Context
}

// requireCurrent checks that l's fence is valid. A lease lock cannot promise
// that under arbitrary process pauses (a starved test binary under -race), so
// an invalid fence is accepted only if l's context is then cancelled for the
// lost lease, which is the guarantee: a deposed holder learns it.
func requireCurrent(t *testing.T, rdb redis.UniversalClient, cfg Config, l lead) {
	t.Helper()
	ok, err := ValidFence(context.Background(), rdb, cfg, l.fence)
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		return
	}
	select {
	case <-l.ctx.Done():
		if !errors.Is(context.Cause(l.ctx), ErrLeaseLost) {
			t.Fatalf("fence %d invalid while its holder's context ended with %v", l.fence, context.Cause(l.ctx))
		}
		t.Logf("fence %d: lease lost (process starved?); its holder was told", l.fence)
	case <-time.After(5 * time.Second):
		t.Fatalf("fence %d is not valid, yet its holder's context stays live", l.fence)
	}
}

func TestRun(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		t.Run("one holder at a time across handovers", func(t *testing.T) {
			cfg := testConfig(b, "relay")
			var mu sync.Mutex
			active := map[int64]lead{} // by fence
			var overlaps [][2]lead
			var lost []int64
			var fences []int64
			runs := map[string]int{}
			work := func(who string) func(ctx context.Context, fence int64) error {
				return func(ctx context.Context, fence int64) error {
					me := lead{who, fence, ctx}
					mu.Lock()
					for _, other := range active {
						overlaps = append(overlaps, [2]lead{other, me})
					}
					active[fence] = me
					fences = append(fences, fence)
					runs[who]++
					mu.Unlock()
					defer func() {
						mu.Lock()
						delete(active, fence)
						if errors.Is(context.Cause(ctx), ErrLeaseLost) {
							lost = append(lost, fence)
						}
						mu.Unlock()
					}()
					// Hold for up to two TTLs: renewal must keep the lease.
					hold := time.NewTimer(rand.N(2 * ttl))
					defer hold.Stop()
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-hold.C:
						return nil
					}
				}
			}
			stopA := start(t, b, cfg, work("a"))
			stopB := start(t, b, cfg, work("b"))
			eventually(t, 20*time.Second, "both contenders to lead twice", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return runs["a"] >= 2 && runs["b"] >= 2
			})
			stopA()
			stopB()
			mu.Lock()
			defer mu.Unlock()
			for i := 1; i < len(fences); i++ {
				if fences[i] <= fences[i-1] {
					t.Fatalf("fences not increasing: %v", fences)
				}
			}
			// Two holders at once is a failure unless the earlier one lost
			// its lease (only a process pause longer than the TTL does that,
			// and then it is told through its context).
			for _, o := range overlaps {
				if !errors.Is(context.Cause(o[0].ctx), ErrLeaseLost) {
					t.Errorf("fence %d (%s) started while fence %d (%s) held a live lease", o[1].fence, o[1].who, o[0].fence, o[0].who)
				}
			}
			if len(lost) > 0 {
				t.Logf("leases lost under load (process starved?): fences %v; overlaps %d", lost, len(overlaps))
			}
			if n, err := b.Client.Exists(context.Background(), cfg.LockKey()).Result(); err != nil || n != 0 {
				t.Fatalf("lock still held after both stopped: exists=%d err=%v", n, err)
			}
			if ok, err := ValidFence(context.Background(), b.Client, cfg, fences[len(fences)-1]); err != nil || ok {
				t.Fatalf("ValidFence after release = %v, %v; want false", ok, err)
			}
		})

		t.Run("killed holder is replaced after the TTL with a larger fence", func(t *testing.T) {
			ctx := context.Background()
			var dead atomic.Bool
			cfgA := testConfig(b, "killed")
			cfgA.hooks = &hooks{skipRenew: dead.Load, skipRelease: dead.Load}
			cfgB := testConfig(b, "killed")

			fenceA := make(chan int64, 1)
			causeA := make(chan error, 1)
			runCtxA, killA := context.WithCancel(ctx)
			doneA := make(chan error, 1)
			go func() {
				doneA <- Run(runCtxA, b.Client, cfgA, func(ctx context.Context, fence int64) error {
					fenceA <- fence
					<-ctx.Done()
					causeA <- context.Cause(ctx)
					killA() // the process is gone: no more contending
					return ctx.Err()
				})
			}()
			var fA int64
			select {
			case fA = <-fenceA:
			case <-time.After(10 * time.Second):
				t.Fatal("A never led")
			}

			leadB := make(chan lead, 16)
			start(t, b, cfgB, func(ctx context.Context, fence int64) error {
				leadB <- lead{"b", fence, ctx}
				<-ctx.Done()
				return nil
			})
			dead.Store(true)

			select {
			case cause := <-causeA:
				if !errors.Is(cause, ErrLeaseLost) {
					t.Fatalf("A's work context cause = %v, want ErrLeaseLost", cause)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("A's work context was not cancelled after it stopped renewing")
			}
			var lb lead
			select {
			case lb = <-leadB:
			case <-time.After(10 * time.Second):
				t.Fatal("B never took over")
			}
			if lb.fence <= fA {
				t.Fatalf("B's fence %d not larger than A's %d", lb.fence, fA)
			}
			if ok, err := ValidFence(ctx, b.Client, cfgB, fA); err != nil || ok {
				t.Fatalf("ValidFence(A's fence) = %v, %v; want false", ok, err)
			}
			requireCurrent(t, b.Client, cfgB, lb)
			if err := <-doneA; err != nil {
				t.Fatalf("A's Run returned %v", err)
			}
		})

		t.Run("deposed leader's context is cancelled", func(t *testing.T) {
			ctx := context.Background()
			cfg := testConfig(b, "deposed")
			leads := make(chan lead, 16)
			work := func(who string) func(ctx context.Context, fence int64) error {
				return func(ctx context.Context, fence int64) error {
					leads <- lead{who, fence, ctx}
					<-ctx.Done()
					return nil
				}
			}
			start(t, b, cfg, work("a"))
			first := <-leads
			start(t, b, cfg, work("b"))

			// Something outside the protocol (an operator, a failover that
			// lost the key) removes the lock; the other contender takes it.
			if err := b.Client.Del(ctx, cfg.LockKey()).Err(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-first.ctx.Done():
				if !errors.Is(context.Cause(first.ctx), ErrLeaseLost) {
					t.Fatalf("cause = %v, want ErrLeaseLost", context.Cause(first.ctx))
				}
			case <-time.After(10 * time.Second):
				t.Fatal("deposed leader's context was not cancelled")
			}
			var next lead
			select {
			case next = <-leads:
			case <-time.After(10 * time.Second):
				t.Fatal("nobody led after the deposition")
			}
			if next.fence <= first.fence {
				t.Fatalf("new fence %d not larger than the deposed %d", next.fence, first.fence)
			}
			if ok, err := ValidFence(ctx, b.Client, cfg, first.fence); err != nil || ok {
				t.Fatalf("ValidFence(deposed) = %v, %v; want false", ok, err)
			}
			requireCurrent(t, b.Client, cfg, next)
		})

		t.Run("work that returns hands over and Run returns nil when done", func(t *testing.T) {
			cfg := testConfig(b, "returns")
			var n atomic.Int32
			stop := start(t, b, cfg, func(ctx context.Context, fence int64) error {
				if n.Add(1) == 1 {
					return errors.New("boom")
				}
				return nil
			})
			eventually(t, 10*time.Second, "work to be called again after returning", func() bool { return n.Load() >= 3 })
			stop()
			if n, err := b.Client.Exists(context.Background(), cfg.LockKey()).Result(); err != nil || n != 0 {
				t.Fatalf("lock left behind after Run returned: exists=%d err=%v", n, err)
			}
		})
	})
}

func TestRunRejectsEmptyName(t *testing.T) {
	b := redistest.Mini(t)
	if err := Run(context.Background(), b.Client, Config{Prefix: b.Prefix}, nil); err == nil {
		t.Fatal("Run with an empty name returned nil")
	}
}
