package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"hqconnect/internal/ids"
	"hqconnect/internal/outbox"
	"hqconnect/internal/scheduler"
	"hqconnect/internal/store"
	"hqconnect/notify/devices"
	"hqconnect/notify/fcm"
	"hqconnect/notify/inbox"
	"hqconnect/notify/prefs"
)

// LivePublisher fans new inbox items out to WatchUpdates streams on every
// instance (notify/live's *Publisher).
type LivePublisher interface {
	PublishUser(ctx context.Context, userID string, it inbox.Item) error
	PublishBroadcast(ctx context.Context, it inbox.Item) error
}

// Event kinds the Deliverer acts on beyond their Notification.
const (
	// EventSessionEnded carries {"session_ids": [...]}: their devices are
	// removed (and unsubscribed from their topics).
	EventSessionEnded = "identity.session_ended"
)

// JobPush is the scheduler kind of held and retried pushes.
const JobPush = "notify.push"

// MaxPushAttempts is how many times a push to one user (or topic) is tried
// before it is given up as failed.
const MaxPushAttempts = 8

// Delivery statuses (push_deliveries.status).
const (
	StatusAccepted = "accepted"
	StatusFailed   = "failed"
	StatusGone     = "gone"
	StatusHeld     = "held"
	StatusSkipped  = "skipped"
	StatusNoDevice = "no_device"
)

// topicPrefix starts the push_deliveries.user_id of a topic push.
const topicPrefix = "topic:"

// sendConcurrency bounds the users pushed to at once for one event.
const sendConcurrency = 16

// Deps are what a Deliverer works with. DB, Sender and Sched are required.
type Deps struct {
	DB     *store.DB
	Sender fcm.Sender
	// Live is optional: without it nothing is published live.
	Live  LivePublisher
	Sched *scheduler.Scheduler
	Log   *slog.Logger
	// Now replaces time.Now (tests: quiet hours, retry due times).
	Now func() time.Time
}

// Deliverer handles events: inbox items, live updates and pushes.
type Deliverer struct {
	db      *store.DB
	sender  fcm.Sender
	live    LivePublisher
	sched   *scheduler.Scheduler
	log     *slog.Logger
	now     func() time.Time
	inbox   *inbox.Store
	devices *devices.Store
	prefs   *prefs.Store
}

// NewDeliverer returns a Deliverer; call RegisterJobs before the scheduler
// runs.
func NewDeliverer(d Deps) *Deliverer {
	if d.DB == nil || d.Sender == nil || d.Sched == nil {
		panic("notify: NewDeliverer needs a DB, a Sender and a Scheduler")
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Deliverer{
		db: d.DB, sender: d.Sender, live: d.Live, sched: d.Sched, log: d.Log, now: d.Now,
		inbox: inbox.NewStore(d.DB), devices: devices.NewStore(d.DB), prefs: prefs.NewStore(d.DB),
	}
}

// RegisterJobs registers the "notify.push" job kind (held and retried
// pushes) with the scheduler.
func (d *Deliverer) RegisterJobs() {
	d.sched.Handle(JobPush, d.runPushJob)
}

// Handle delivers e. It is idempotent per (event, recipient) and returns an
// error only for failures a retry of the whole event could fix.
func (d *Deliverer) Handle(ctx context.Context, e outbox.Event) error {
	if e.Kind == EventSessionEnded {
		if err := d.endSessions(ctx, e); err != nil {
			return err
		}
	}
	n := e.Notification
	if n == nil {
		return nil
	}
	log := d.log.With("event_id", e.ID, "event_kind", e.Kind)
	if e.ID == "" {
		log.Error("notify: event without an id dropped: it cannot be delivered idempotently")
		return nil
	}
	if n.Audience.Broadcast != "" {
		aud, audID, ok := ParseBroadcast(n.Audience.Broadcast)
		if !ok {
			log.Error("notify: unknown broadcast audience; event dropped", "audience", n.Audience.Broadcast)
			return nil
		}
		return d.broadcast(ctx, e, aud, audID)
	}
	return d.personal(ctx, e)
}

// ParseBroadcast reads Audience.Broadcast: "all", "enterprise_users",
// "officers", "enterprise:<id>" or "unit:<id>", as an (audience,
// audience_id) pair of inbox.Viewer.Audiences.
func ParseBroadcast(s string) (audience, audienceID string, ok bool) {
	switch s {
	case outbox.BroadcastAll, outbox.BroadcastEnterpriseUsers, outbox.BroadcastOfficers:
		return s, "", true
	}
	aud, id, found := strings.Cut(s, ":")
	if found && id != "" && (aud == "enterprise" || aud == "unit") {
		return aud, id, true
	}
	return "", "", false
}

// endSessions removes the devices of the sessions e names and unsubscribes
// them from their broadcast topics (best effort).
func (d *Deliverer) endSessions(ctx context.Context, e outbox.Event) error {
	var data struct {
		SessionIDs []string `json:"session_ids"`
	}
	if len(e.Data) == 0 || json.Unmarshal(e.Data, &data) != nil {
		d.log.Error("notify: session_ended event without readable session ids", "event_id", e.ID)
		return nil
	}
	if len(data.SessionIDs) == 0 {
		return nil
	}
	ds, err := d.devices.ForSessions(ctx, data.SessionIDs)
	if err != nil {
		return err
	}
	if len(ds) == 0 {
		return nil
	}
	if _, err := d.devices.DeleteSessions(ctx, data.SessionIDs); err != nil {
		return err
	}
	d.unsubscribe(ctx, ds)
	return nil
}

// unsubscribe takes removed devices off their topics, grouped by topic. A
// failure is only logged: the token is gone from our tables, and FCM drops
// topic subscriptions of tokens that die.
func (d *Deliverer) unsubscribe(ctx context.Context, ds []devices.Device) {
	userIDs := make([]string, 0, len(ds))
	for _, dev := range ds {
		userIDs = append(userIDs, dev.UserID)
	}
	viewers, err := d.viewers(ctx, userIDs)
	if err != nil {
		d.log.Warn("notify: unsubscribe ended sessions' devices: read users", "err", err)
		return
	}
	byTopic := map[string][]string{}
	var topics []string
	for _, dev := range ds {
		v, ok := viewers[dev.UserID]
		if !ok {
			continue
		}
		for _, t := range devices.Topics(dev, v) {
			if _, seen := byTopic[t]; !seen {
				topics = append(topics, t)
			}
			byTopic[t] = append(byTopic[t], dev.Token)
		}
	}
	for _, t := range topics {
		if _, err := d.sender.UnsubscribeFromTopic(ctx, byTopic[t], t); err != nil {
			d.log.Warn("notify: unsubscribe devices from topic", "topic", t, "tokens", len(byTopic[t]), "err", err)
		}
	}
}

// broadcast stores one broadcast item, publishes it live and pushes it to
// the audience's topics, one per language.
func (d *Deliverer) broadcast(ctx context.Context, e outbox.Event, aud, audID string) error {
	n := e.Notification
	it, err := d.inbox.AddBroadcast(ctx, nil, inbox.Item{
		ID: ids.New(), EventID: e.ID, Category: n.Category,
		TitleVI: n.TitleVI, TitleEN: n.TitleEN, BodyVI: n.BodyVI, BodyEN: n.BodyEN,
		EntityKind: n.EntityKind, EntityID: n.EntityID, CreateTime: d.eventTime(e),
		Broadcast: true, Audience: aud, AudienceID: audID,
	})
	if err != nil {
		return err
	}
	var liveErr error
	if d.live != nil {
		if err := d.live.PublishBroadcast(ctx, it); err != nil {
			liveErr = fmt.Errorf("publish broadcast %s live: %w", it.ID, err)
		}
	}
	keys := make([]string, 0, len(devices.Locales))
	for _, loc := range devices.Locales {
		keys = append(keys, topicPrefix+devices.TopicName(aud, audID, loc))
	}
	prev, err := d.deliveryStates(ctx, e.ID, keys)
	if err != nil {
		return errors.Join(liveErr, err)
	}
	var targets []target
	for i, loc := range devices.Locales {
		if _, done := prev[keys[i]]; done {
			continue
		}
		targets = append(targets, target{key: keys[i], topic: strings.TrimPrefix(keys[i], topicPrefix), locale: loc, inboxID: it.ID, attempt: 1})
	}
	return errors.Join(liveErr, d.push(ctx, e, targets))
}

// personal resolves the recipients, stores their inbox items, publishes them
// live and pushes to those not pushed yet.
func (d *Deliverer) personal(ctx context.Context, e outbox.Event) error {
	n := e.Notification
	recips, err := d.resolve(ctx, e.ID, n.Audience)
	if err != nil {
		return err
	}
	if len(recips) == 0 {
		return nil
	}
	created := d.eventTime(e)
	items := make([]inbox.Item, len(recips))
	for i, r := range recips {
		items[i] = inbox.Item{
			ID: ids.New(), UserID: r.userID, EventID: e.ID, Category: n.Category,
			TitleVI: n.TitleVI, TitleEN: n.TitleEN, BodyVI: n.BodyVI, BodyEN: n.BodyEN,
			EntityKind: n.EntityKind, EntityID: n.EntityID, CreateTime: created,
		}
	}
	stored, err := d.inbox.AddPersonal(ctx, nil, items)
	if err != nil {
		return err
	}
	// A live failure does not hold the pushes back: the event is retried
	// afterwards (inbox rows and pushes done are not repeated; live clients
	// drop an item id they already have).
	var liveErrs []error
	if d.live != nil {
		for _, it := range stored {
			if err := d.live.PublishUser(ctx, it.UserID, it); err != nil {
				liveErrs = append(liveErrs, fmt.Errorf("publish inbox item %s live: %w", it.ID, err))
				if ctx.Err() != nil || len(liveErrs) >= 3 {
					break // Redis is down: stop trying, the retry will do it
				}
			}
		}
	}
	var targets []target
	for i, r := range recips {
		if r.status != "" {
			continue // pushed, held or being retried already
		}
		targets = append(targets, target{key: r.userID, userID: r.userID, inboxID: stored[i].ID, attempt: 1})
	}
	return errors.Join(errors.Join(liveErrs...), d.push(ctx, e, targets))
}

// eventTime is when e happened, for the inbox item.
func (d *Deliverer) eventTime(e outbox.Event) time.Time {
	if !e.Time.IsZero() {
		return e.Time.UTC()
	}
	return d.now().UTC().Truncate(time.Microsecond)
}
