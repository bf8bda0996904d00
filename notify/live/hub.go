package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"hqconnect/notify/inbox"
)

// DefaultBuffer is how many items a subscription holds for a consumer that
// has not taken them yet. One more and the consumer is dropped as too slow.
const DefaultBuffer = 16

const (
	// pubsubIdle is how long a quiet connection waits before pinging, so
	// that a dead one is noticed.
	pubsubIdle = 30 * time.Second
	// batchChannels bounds the channels of one SUBSCRIBE or UNSUBSCRIBE.
	batchChannels = 500
	// Reconnect backoff.
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Why a subscription ended (Subscription.Err).
var (
	// ErrSlowConsumer: the subscription's buffer was full when an item came;
	// it was dropped so that one stalled client cannot hold the others up.
	ErrSlowConsumer = errors.New("live: subscriber too slow, dropped")
	// ErrHubStopped: the hub's Run returned (the instance is stopping).
	ErrHubStopped = errors.New("live: hub stopped")
)

// Option configures a Hub.
type Option func(*Hub)

// WithBuffer sets each subscription's buffer (default DefaultBuffer).
func WithBuffer(n int) Option {
	return func(h *Hub) {
		if n > 0 {
			h.buffer = n
		}
	}
}

// Hub is one instance's end of the live channels: a single Redis pub/sub
// connection shared by every local subscription. A Redis channel is
// subscribed while at least one local subscription needs it and unsubscribed
// when the last one leaves; after a reconnect every needed channel is
// subscribed again. Messages are handed out by the one goroutine reading the
// connection, without blocking: there is no goroutine per subscription.
type Hub struct {
	rdb    redis.UniversalClient
	prefix string
	log    *slog.Logger
	buffer int
	// control is subscribed first on every connection: its confirmation says
	// the connection is up.
	control string

	// wake tells the session's sync loop that dirty has entries.
	wake chan struct{}

	mu      sync.Mutex
	chans   map[string]*chanState
	dirty   map[string]struct{} // channels whose Redis state may need a command
	nsubs   int
	running bool
	stopped bool
}

// chanState is one Redis channel's local state; guarded by Hub.mu.
type chanState struct {
	subs map[*Subscription]struct{}
	// sent: the last command sent for this channel on the current
	// connection was SUBSCRIBE.
	sent bool
	// inflight counts commands sent for it whose reply has not come yet.
	inflight int
	// confirmed: Redis has confirmed the subscription and no later command
	// is in flight, so every message published from now on reaches us.
	confirmed bool
}

// NewHub returns a Hub on rdb; prefix starts every channel name (the
// publishers' prefix). Nothing is received until Run runs.
func NewHub(rdb redis.UniversalClient, prefix string, log *slog.Logger, opts ...Option) *Hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Hub{
		rdb:     rdb,
		prefix:  prefix,
		log:     log,
		buffer:  DefaultBuffer,
		control: prefix + "live:hub",
		wake:    make(chan struct{}, 1),
		chans:   make(map[string]*chanState),
		dirty:   make(map[string]struct{}),
	}
	for _, o := range opts {
		o(h)
	}
	return h
}

// Subscription receives the live items of one viewer: its personal items
// and the broadcasts to its audiences.
type Subscription struct {
	// C delivers the items, in the order this instance received them. It is
	// closed when the subscription ends: by Close, by the hub dropping a slow
	// consumer or by the hub stopping (see Err). Items still buffered are
	// delivered before the close.
	C <-chan inbox.Item

	c        chan inbox.Item
	hub      *Hub
	channels []string
	ready    chan struct{}
	resync   chan struct{}

	// Guarded by hub.mu.
	pending int  // channels not confirmed yet
	isReady bool // ready is closed
	stale   bool // was ready, then the connection was lost: resync when back
	closed  bool
	err     error
}

// Subscribe starts receiving v's items. The Redis subscription is confirmed
// asynchronously: wait for Ready before reading anything that must not be
// missed from the store. Close the subscription when done.
func (h *Hub) Subscribe(v inbox.Viewer) *Subscription {
	c := make(chan inbox.Item, h.buffer)
	s := &Subscription{
		C: c, c: c, hub: h,
		channels: channelsOf(h.prefix, v),
		ready:    make(chan struct{}),
		resync:   make(chan struct{}, 1),
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		s.closed, s.err, s.isReady = true, ErrHubStopped, true
		close(c)
		close(s.ready)
		return s
	}
	h.nsubs++
	for _, ch := range s.channels {
		st := h.chans[ch]
		if st == nil {
			st = &chanState{subs: make(map[*Subscription]struct{}, 1)}
			h.chans[ch] = st
		}
		st.subs[s] = struct{}{}
		if !st.confirmed {
			s.pending++
		}
		if !st.sent {
			h.dirty[ch] = struct{}{}
		}
	}
	if s.pending == 0 {
		s.isReady = true
		close(s.ready)
	}
	h.signal()
	return s
}

// Ready is closed once Redis has confirmed every channel of the
// subscription: from then on nothing published to them is missed (unless
// the connection is lost, which Resync reports). It is closed too when the
// subscription ends first (C is closed then; see Err).
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Resync receives a value when the hub has re-established its Redis
// subscription after losing its connection: items published meanwhile were
// lost, so the consumer should re-read what it may have missed from the
// store.
func (s *Subscription) Resync() <-chan struct{} { return s.resync }

// Close ends the subscription and closes C. It is safe to call more than
// once and after the hub dropped the subscription.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.removeLocked(s, nil)
}

// Err says why C was closed: nil after Close (or while open),
// ErrSlowConsumer or ErrHubStopped.
func (s *Subscription) Err() error {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.err
}

// removeLocked ends s with err, releasing channels nobody needs any more.
func (h *Hub) removeLocked(s *Subscription, err error) {
	if s.closed {
		return
	}
	s.closed, s.err = true, err
	h.nsubs--
	for _, ch := range s.channels {
		st := h.chans[ch]
		if st == nil {
			continue
		}
		delete(st.subs, s)
		if len(st.subs) > 0 {
			continue
		}
		switch {
		case st.sent:
			h.dirty[ch] = struct{}{} // to unsubscribe
		case st.inflight == 0:
			delete(h.chans, ch)
		}
	}
	close(s.c)
	if !s.isReady {
		s.isReady = true
		close(s.ready)
	}
	h.signal()
}

// signal wakes the sync loop (non-blocking).
func (h *Hub) signal() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Stats describe a hub at one moment.
type Stats struct {
	Subscriptions int // open local subscriptions
	Channels      int // Redis channels they need (or still being released)
	Confirmed     int // Redis channels confirmed subscribed
}

// Stats returns the hub's current figures.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := Stats{Subscriptions: h.nsubs, Channels: len(h.chans)}
	for _, c := range h.chans {
		if c.confirmed {
			st.Confirmed++
		}
	}
	return st
}

// Run holds the hub's Redis subscription until ctx is done, reconnecting
// with backoff when the connection fails. When it returns, every open
// subscription ends with ErrHubStopped and new ones start closed. Run must
// be called once.
func (h *Hub) Run(ctx context.Context) error {
	h.mu.Lock()
	if h.running || h.stopped {
		h.mu.Unlock()
		return errors.New("live: Hub.Run called twice")
	}
	h.running = true
	h.mu.Unlock()
	defer h.stop()

	backoff := minBackoff
	for ctx.Err() == nil {
		connected, err := h.session(ctx)
		if ctx.Err() != nil {
			break
		}
		if connected {
			backoff = minBackoff
		}
		h.log.WarnContext(ctx, "live updates: redis subscription lost; reconnecting",
			"error", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
			backoff = min(2*backoff, maxBackoff)
		}
	}
	return nil
}

// stop ends every subscription: the instance is going away.
func (h *Hub) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	for _, st := range h.chans {
		for s := range st.subs {
			h.removeLocked(s, ErrHubStopped)
		}
	}
}

// session runs one Redis connection: subscribe the control channel, then
// every needed channel, then dispatch until the connection fails or ctx is
// done. connected reports whether the connection came up.
func (h *Hub) session(ctx context.Context) (connected bool, err error) {
	ps := h.rdb.Subscribe(ctx, h.control)
	// go-redis does not interrupt a blocked read when ctx is done; closing
	// the connection does.
	closeOnce := sync.OnceFunc(func() { _ = ps.Close() })
	defer closeOnce()
	stop := context.AfterFunc(ctx, closeOnce)
	defer stop()

	for !connected {
		msg, err := ps.ReceiveTimeout(ctx, pubsubIdle)
		if err != nil {
			return false, fmt.Errorf("subscribe: %w", err)
		}
		if m, ok := msg.(*redis.Subscription); ok && m.Kind == "subscribe" && m.Channel == h.control {
			connected = true
		}
	}
	defer h.disconnected()
	h.connected()

	sctx, cancel := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := h.syncLoop(sctx, ps); err != nil {
			cancel(err)
			closeOnce() // wakes the receive loop
		}
	})
	err = h.receiveLoop(sctx, ps)
	if cerr := context.Cause(sctx); cerr != nil && !errors.Is(cerr, context.Canceled) {
		err = cerr // the sync loop failed first
	}
	cancel(err)
	closeOnce()
	wg.Wait()
	return true, err
}

// connected marks every needed channel for subscription on the new
// connection.
func (h *Hub) connected() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch, st := range h.chans {
		st.sent, st.inflight = false, 0
		if len(st.subs) == 0 {
			delete(h.chans, ch)
			continue
		}
		h.dirty[ch] = struct{}{}
	}
	h.signal()
}

// disconnected forgets what the lost connection had confirmed: messages
// published from now on are missed until the channels are confirmed again,
// after which the subscriptions that were live are told to resync.
func (h *Hub) disconnected() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, st := range h.chans {
		st.sent, st.inflight = false, 0
		if !st.confirmed {
			continue
		}
		st.confirmed = false
		for s := range st.subs {
			s.pending++
			if s.isReady {
				s.stale = true
			}
		}
	}
}

// syncLoop sends the SUBSCRIBE and UNSUBSCRIBE commands that local changes
// call for, batched, until ctx is done or a command fails.
func (h *Hub) syncLoop(ctx context.Context, ps *redis.PubSub) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-h.wake:
		}
		sub, unsub := h.takeDirty()
		for len(sub) > 0 {
			n := min(len(sub), batchChannels)
			if err := ps.Subscribe(ctx, sub[:n]...); err != nil {
				return fmt.Errorf("subscribe channels: %w", err)
			}
			sub = sub[n:]
		}
		for len(unsub) > 0 {
			n := min(len(unsub), batchChannels)
			if err := ps.Unsubscribe(ctx, unsub[:n]...); err != nil {
				return fmt.Errorf("unsubscribe channels: %w", err)
			}
			unsub = unsub[n:]
		}
	}
}

// takeDirty decides the commands to send and records them as in flight.
func (h *Hub) takeDirty() (sub, unsub []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.dirty {
		delete(h.dirty, ch)
		st := h.chans[ch]
		if st == nil {
			continue
		}
		switch want := len(st.subs) > 0; {
		case want && !st.sent:
			st.sent = true
			st.inflight++
			sub = append(sub, ch)
		case !want && st.sent:
			st.sent, st.confirmed = false, false
			st.inflight++
			unsub = append(unsub, ch)
		}
	}
	return sub, unsub
}

// receiveLoop dispatches messages and subscription replies until the
// connection fails or ctx is done.
func (h *Hub) receiveLoop(ctx context.Context, ps *redis.PubSub) error {
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, pubsubIdle)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !pinged {
				if err := ps.Ping(ctx); err != nil {
					return fmt.Errorf("ping: %w", err)
				}
				pinged = true
				continue
			}
			return fmt.Errorf("receive: %w", err)
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Message:
			h.dispatch(ctx, m.Channel, m.Payload)
		case *redis.Subscription:
			if m.Channel != h.control {
				h.replied(m.Kind, m.Channel)
			}
		}
	}
}

// replied records Redis's answer to one channel of a SUBSCRIBE or
// UNSUBSCRIBE. Redis answers each channel of each command once, in order, so
// a channel is confirmed when its last command was a SUBSCRIBE and every
// command sent for it has been answered.
func (h *Hub) replied(kind, ch string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.chans[ch]
	if st == nil || st.inflight == 0 {
		return
	}
	st.inflight--
	if st.inflight > 0 {
		return
	}
	switch {
	case st.sent && kind == "subscribe" && !st.confirmed:
		st.confirmed = true
		for s := range st.subs {
			s.pending--
			if s.pending > 0 {
				continue
			}
			switch {
			case !s.isReady:
				s.isReady = true
				close(s.ready)
			case s.stale:
				s.stale = false
				select {
				case s.resync <- struct{}{}:
				default:
				}
			}
		}
	case !st.sent && len(st.subs) == 0:
		delete(h.chans, ch)
	}
}

// dispatch hands a message to the subscriptions of its channel, dropping
// those whose buffer is full.
func (h *Hub) dispatch(ctx context.Context, ch, payload string) {
	it, err := decodeItem(payload)
	if err != nil {
		h.log.WarnContext(ctx, "live updates: bad message ignored", "channel", ch, "error", err)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.chans[ch]
	if st == nil {
		return
	}
	for s := range st.subs {
		select {
		case s.c <- it:
		default:
			h.removeLocked(s, ErrSlowConsumer)
		}
	}
}
