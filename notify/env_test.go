package notify

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"hqconnect/internal/ids"
	"hqconnect/internal/outbox"
	"hqconnect/internal/redisx/redistest"
	"hqconnect/internal/scheduler"
	"hqconnect/internal/store"
	"hqconnect/internal/store/storetest"
	"hqconnect/notify/devices"
	"hqconnect/notify/fcm"
	"hqconnect/notify/fcmfake"
	"hqconnect/notify/inbox"
)

// clock is a settable clock shared by the Deliverer and the scheduler.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

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

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// fakeLive records what would go to WatchUpdates streams.
type fakeLive struct {
	mu         sync.Mutex
	users      map[string][]inbox.Item
	broadcasts []inbox.Item
}

func (l *fakeLive) PublishUser(_ context.Context, userID string, it inbox.Item) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.users == nil {
		l.users = map[string][]inbox.Item{}
	}
	l.users[userID] = append(l.users[userID], it)
	return nil
}

func (l *fakeLive) PublishBroadcast(_ context.Context, it inbox.Item) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.broadcasts = append(l.broadcasts, it)
	return nil
}

func (l *fakeLive) forUser(userID string) []inbox.Item {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.users[userID])
}

func (l *fakeLive) allBroadcasts() []inbox.Item {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.broadcasts)
}

// env is one Deliverer wired to a database, a Redis, a running scheduler and
// the fake FCM server through the real SDK.
type env struct {
	db      *store.DB
	fake    *fcmfake.Server
	clock   *clock
	live    *fakeLive
	sched   *scheduler.Scheduler
	d       *Deliverer
	inbox   *inbox.Store
	devices *devices.Store
	sender  fcm.Sender
}

// each runs fn on SQLite with miniredis and, when TEST_DATABASE_URL or
// TEST_REDIS_URL is set, on PostgreSQL with the real Redis (whichever are
// set).
func each(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	t.Run("sqlite+miniredis", func(t *testing.T) {
		fn(t, newEnv(t, storetest.SQLite(t), redistest.Mini(t)))
	})
	if os.Getenv("TEST_DATABASE_URL") == "" && os.Getenv("TEST_REDIS_URL") == "" {
		return
	}
	name := "sqlite"
	if os.Getenv("TEST_DATABASE_URL") != "" {
		name = "postgres"
	}
	if os.Getenv("TEST_REDIS_URL") != "" {
		name += "+redis"
	} else {
		name += "+miniredis"
	}
	t.Run(name, func(t *testing.T) {
		db, ok := storetest.Postgres(t)
		if !ok {
			db = storetest.SQLite(t)
		}
		rb, ok := redistest.Real(t)
		if !ok {
			rb = redistest.Mini(t)
		}
		fn(t, newEnv(t, db, rb))
	})
}

func newEnv(t *testing.T, db *store.DB, rb redistest.Backend) *env {
	t.Helper()
	fake := fcmfake.New()
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)
	sender, err := fcm.NewFCMSender(context.Background(), fcm.Config{ProjectID: "p", Endpoint: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sender.Close)
	clk := &clock{t: time.Now().Truncate(time.Millisecond)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	// A lease far beyond the clock jumps of a test, so a job is never
	// claimed twice because the test moved the clock while it ran.
	sched := scheduler.New(rb.Client, scheduler.Config{Prefix: rb.Prefix, Poll: 10 * time.Millisecond, Lease: 72 * time.Hour, Now: clk.Now, Log: log})
	live := &fakeLive{}
	d := NewDeliverer(Deps{DB: db, Sender: sender, Live: live, Sched: sched, Log: log, Now: clk.Now})
	d.RegisterJobs()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = sched.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return &env{db: db, fake: fake, clock: clk, live: live, sched: sched, d: d,
		inbox: inbox.NewStore(db), devices: devices.NewStore(db), sender: sender}
}

// --- identity fixtures: plain inserts into the tables of 00001_identity.sql ---

func (e *env) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := e.db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

var taxSeq struct {
	sync.Mutex
	n int
}

func (e *env) addEnterprise(t *testing.T) string {
	t.Helper()
	taxSeq.Lock()
	taxSeq.n++
	tax := fmt.Sprintf("%010d", taxSeq.n)
	taxSeq.Unlock()
	id := ids.New()
	e.exec(t, `INSERT INTO enterprises (id, tax_code, name, status, create_time) VALUES ($1, $2, $3, 'VERIFIED', $4)`,
		id, tax+"-"+id[len(id)-3:], "Công ty "+id[:8], store.Now())
	return id
}

func (e *env) addUnit(t *testing.T) string {
	t.Helper()
	id := ids.New()
	now := store.Now()
	e.exec(t, `INSERT INTO org_units (id, kind, code, name_vi, name_en, effective_from, create_time) VALUES ($1, 'BRANCH', $2, 'Chi cục', 'Branch', $3, $3)`,
		id, "C"+id, now)
	return id
}

// user describes a user to insert.
type user struct {
	kind       string // "officer" (default) or "enterprise_user"
	disabled   bool
	enterprise string
	unit       string
	roles      []string
}

func (e *env) addUser(t *testing.T, u user) string {
	t.Helper()
	id := ids.New()
	now := store.Now()
	kind := u.kind
	if kind == "" {
		kind = "officer"
		if u.enterprise != "" {
			kind = "enterprise_user"
		}
	}
	status := "ACTIVE"
	if u.disabled {
		status = "DISABLED"
	}
	var ent, unit any
	if u.enterprise != "" {
		ent = u.enterprise
	}
	if u.unit != "" {
		unit = u.unit
	}
	e.exec(t, `INSERT INTO users (id, kind, email, full_name, password_hash, status, enterprise_id, unit_id, create_time, update_time)
VALUES ($1, $2, $3, 'Nguyễn Văn A', 'x', $4, $5, $6, $7, $7)`, id, kind, id+"@example.test", status, ent, unit, now)
	for _, r := range u.roles {
		e.exec(t, `INSERT INTO user_roles (user_id, role) VALUES ($1, $2)`, id, r)
	}
	return id
}

func (e *env) addDevice(t *testing.T, userID, token, session, locale string) devices.Device {
	t.Helper()
	d := devices.Device{Token: token, UserID: userID, SessionID: session, Platform: devices.PlatformAndroid, Locale: locale}
	if err := e.devices.Register(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	return d
}

// emit stores ev in the outbox (so push jobs can read it back) and returns
// it as the pipeline delivers it.
func (e *env) emit(t *testing.T, ev outbox.Event) outbox.Event {
	t.Helper()
	id, err := outbox.Add(context.Background(), e.db, ev)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := e.d.loadEvent(context.Background(), id)
	if err != nil || !ok {
		t.Fatalf("load event %s: %v %v", id, ok, err)
	}
	return got
}

func (e *env) handle(t *testing.T, ev outbox.Event) {
	t.Helper()
	if err := e.d.Handle(t.Context(), ev); err != nil {
		t.Fatalf("Handle: %v", err)
	}
}

// delivery returns the push_deliveries row of (event, key).
func (e *env) delivery(t *testing.T, eventID, key string) deliveryState {
	t.Helper()
	m, err := e.d.deliveryStates(context.Background(), eventID, []string{key})
	if err != nil {
		t.Fatal(err)
	}
	return m[key]
}

func (e *env) items(t *testing.T, userID string) []inbox.Item {
	t.Helper()
	its, err := e.inbox.List(context.Background(), inbox.Viewer{UserID: userID}, false, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []inbox.Item
	for _, it := range its {
		if !it.Broadcast {
			out = append(out, it)
		}
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// notification is a personal issue notification to a.
func notification(a outbox.Audience) *outbox.Notification {
	return &outbox.Notification{
		Audience: a, Category: outbox.CategoryIssue,
		TitleVI: "Vướng mắc đã được trả lời", TitleEN: "Your issue was answered",
		BodyVI: "Cán bộ hải quan đã trả lời vướng mắc của bạn.", BodyEN: "A customs officer answered your issue.",
		EntityKind: "issue", EntityID: "01ISSUE",
	}
}
