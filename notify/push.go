package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"hqconnect/internal/outbox"
	"hqconnect/internal/scheduler"
	"hqconnect/internal/store"
	"hqconnect/notify/devices"
	"hqconnect/notify/fcm"
	"hqconnect/notify/inbox"
	"hqconnect/notify/prefs"
)

// target is one push_deliveries key to push to: a user's devices or a topic.
type target struct {
	key     string // push_deliveries.user_id: the user id or "topic:<name>"
	userID  string // personal push
	topic   string // topic push
	locale  string // the topic's language
	inboxID string
	attempt int      // this attempt's number, 1 for the first
	tokens  []string // a retry: only these tokens (nil: every device)
}

func (t target) isTopic() bool { return t.topic != "" }

// jobPayload is what a "notify.push" job carries.
type jobPayload struct {
	EventID string   `json:"event_id"`
	Key     string   `json:"user_id"` // a user id or "topic:<name>"
	InboxID string   `json:"inbox_id,omitempty"`
	Locale  string   `json:"locale,omitempty"` // topic pushes
	Tokens  []string `json:"tokens,omitempty"` // a retry: the tokens that failed
	// Attempt is the number of the attempt the job makes. It travels with
	// the job because the job may run before the attempt that scheduled it
	// has recorded its outcome.
	Attempt int `json:"attempt"`
}

// JobKey is the scheduler key of the held or retried push of eventID to a
// user (or "topic:<name>").
func JobKey(eventID, key string) string { return JobPush + ":" + eventID + ":" + key }

// unit is one fcm.Send: one user's devices in one language, or one topic.
type unit struct {
	target int // index into targets
	push   fcm.Push
}

// tally sums a target's results.
type tally struct {
	sent       int
	accepted   int
	gone       []string
	failed     []string // tokens to retry (or the topic)
	retryAfter time.Duration
	failErr    error // the last retryable error
	rejectErr  error // the last error a retry cannot fix
}

// push sends e's notification to targets, honouring preferences and quiet
// hours for personal targets, and records each target's outcome. It returns
// an error only for database and Redis failures.
func (d *Deliverer) push(ctx context.Context, e outbox.Event, targets []target) error {
	if len(targets) == 0 {
		return nil
	}
	n := e.Notification
	critical := prefs.IsCritical(n.Category, n.Critical)
	now := d.now()
	var errs []error
	outs := make([]delivery, 0, len(targets))

	// Preferences (not needed for critical pushes: they always go, at once).
	var personal []string
	for _, t := range targets {
		if !t.isTopic() {
			personal = append(personal, t.userID)
		}
	}
	var pm map[string]prefs.Prefs
	if !critical && len(personal) > 0 {
		var err error
		if pm, err = d.prefs.ForUsers(ctx, personal); err != nil {
			return err
		}
	}
	sendable := make([]bool, len(targets))
	var sendUsers []string
	for i, t := range targets {
		if t.isTopic() {
			sendable[i] = true
			continue
		}
		p := pm[t.userID]
		if !p.PushAllowed(n.Category, n.Critical) {
			outs = append(outs, delivery{key: t.key, status: StatusSkipped, attempts: t.attempt - 1,
				detail: "category " + n.Category + " switched off"})
			continue
		}
		if !critical {
			if held, until := p.Quiet.HeldUntil(now); held {
				if err := d.schedule(ctx, e, t, t.attempt, until, nil); err != nil {
					errs = append(errs, err)
					continue // no row: handling the event again holds it again
				}
				outs = append(outs, delivery{key: t.key, status: StatusHeld, attempts: t.attempt - 1,
					detail: "quiet hours until " + until.UTC().Format(time.RFC3339)})
				continue
			}
		}
		sendable[i] = true
		sendUsers = append(sendUsers, t.userID)
	}

	// Devices, and one push per user and language (or per topic).
	byUser := map[string][]devices.Device{}
	if len(sendUsers) > 0 {
		ds, err := d.devices.ForUsers(ctx, sendUsers)
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		for _, dev := range ds {
			if n.ExceptSessionID != "" && dev.SessionID == n.ExceptSessionID {
				continue
			}
			byUser[dev.UserID] = append(byUser[dev.UserID], dev)
		}
	}
	var units []unit
	for i, t := range targets {
		if !sendable[i] {
			continue
		}
		if t.isTopic() {
			units = append(units, unit{target: i, push: BuildPush(e, t.inboxID, t.locale, nil, t.topic)})
			continue
		}
		tokens := map[string][]string{} // locale → tokens
		for _, dev := range byUser[t.userID] {
			if t.tokens != nil && !slices.Contains(t.tokens, dev.Token) {
				continue
			}
			loc := devices.LocaleVI
			if dev.Locale == devices.LocaleEN {
				loc = devices.LocaleEN
			}
			tokens[loc] = append(tokens[loc], dev.Token)
		}
		if len(tokens) == 0 {
			detail := "no registered device"
			if t.tokens != nil {
				detail = "the devices to retry are no longer registered"
			}
			outs = append(outs, delivery{key: t.key, status: StatusNoDevice, attempts: t.attempt - 1, detail: detail})
			sendable[i] = false
			continue
		}
		for _, loc := range devices.Locales {
			if len(tokens[loc]) > 0 {
				units = append(units, unit{target: i, push: BuildPush(e, t.inboxID, loc, tokens[loc], "")})
			}
		}
	}

	tallies := d.send(ctx, units, len(targets))

	// Outcomes: retries scheduled first, so a row never says "failed,
	// retrying" without a job behind it.
	var gone []string
	for i, t := range targets {
		if !sendable[i] {
			continue
		}
		tl := tallies[i]
		gone = append(gone, tl.gone...)
		out := delivery{key: t.key, attempts: t.attempt}
		switch {
		case len(tl.failed) > 0 && t.attempt >= MaxPushAttempts:
			out.status = StatusFailed
			out.detail = fmt.Sprintf("gave up after %d attempts: %v", t.attempt, tl.failErr)
			d.log.Error("notify: push given up", "event_id", e.ID, "to", t.key, "attempts", t.attempt, "err", tl.failErr)
		case len(tl.failed) > 0:
			due := now.Add(fcm.Backoff(t.attempt, tl.retryAfter))
			var retry []string
			if !t.isTopic() {
				retry = tl.failed
			}
			if err := d.schedule(ctx, e, t, t.attempt+1, due, retry); err != nil {
				errs = append(errs, err)
				continue
			}
			out.status = StatusFailed
			out.detail = fmt.Sprintf("attempt %d: %d of %d failed (%v); retry at %s",
				t.attempt, len(tl.failed), tl.sent, tl.failErr, due.UTC().Format(time.RFC3339))
		case tl.accepted > 0:
			out.status = StatusAccepted
			out.detail = fmt.Sprintf("%d of %d accepted", tl.accepted, tl.sent)
			if tl.rejectErr != nil {
				out.detail += fmt.Sprintf("; rejected: %v", tl.rejectErr)
			}
		case tl.rejectErr != nil:
			out.status = StatusFailed
			out.detail = fmt.Sprintf("rejected: %v", tl.rejectErr)
			d.log.Error("notify: push rejected by FCM", "event_id", e.ID, "to", t.key, "err", tl.rejectErr)
		default:
			out.status = StatusGone
			out.detail = fmt.Sprintf("%d dead tokens deleted", len(tl.gone))
		}
		outs = append(outs, out)
	}
	if len(gone) > 0 {
		if _, err := d.devices.DeleteTokens(ctx, gone); err != nil {
			errs = append(errs, err)
		}
	}
	if err := d.record(ctx, e.ID, outs, now); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// send runs the units, up to sendConcurrency at once, and sums the results
// per target.
func (d *Deliverer) send(ctx context.Context, units []unit, targets int) []tally {
	tallies := make([]tally, targets)
	var mu sync.Mutex
	sem := make(chan struct{}, sendConcurrency)
	var wg sync.WaitGroup
	for _, u := range units {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			res, err := d.sender.Send(ctx, u.push)
			mu.Lock()
			defer mu.Unlock()
			tl := &tallies[u.target]
			if err != nil {
				tl.sent += max(len(u.push.Tokens), 1)
				tl.rejectErr = err
				return
			}
			for _, r := range res {
				tl.sent++
				switch r.Status {
				case fcm.StatusAccepted:
					tl.accepted++
				case fcm.StatusGone:
					tl.gone = append(tl.gone, r.Token)
				case fcm.StatusFailed:
					tl.failed = append(tl.failed, r.Token)
					tl.retryAfter = max(tl.retryAfter, r.RetryAfter)
					tl.failErr = r.Err
				default:
					tl.rejectErr = r.Err
				}
			}
		})
	}
	wg.Wait()
	return tallies
}

// schedule stores the "notify.push" job that makes attempt number attempt
// to push e to t at due (a retry: only to those tokens).
func (d *Deliverer) schedule(ctx context.Context, e outbox.Event, t target, attempt int, due time.Time, retry []string) error {
	payload, err := json.Marshal(jobPayload{EventID: e.ID, Key: t.key, InboxID: t.inboxID, Locale: t.locale, Tokens: retry, Attempt: attempt})
	if err != nil {
		return fmt.Errorf("encode push job: %w", err)
	}
	return d.sched.Schedule(ctx, scheduler.Job{Key: JobKey(e.ID, t.key), Kind: JobPush, Due: due, Payload: payload})
}

// runPushJob sends a held or retried push: it reads the event back from the
// outbox and pushes again unless the push is done.
func (d *Deliverer) runPushJob(ctx context.Context, j scheduler.Job) error {
	var p jobPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil || p.EventID == "" || p.Key == "" {
		d.log.Error("notify: unreadable push job dropped", "key", j.Key, "err", err)
		return nil
	}
	e, ok, err := d.loadEvent(ctx, p.EventID)
	if err != nil {
		return err
	}
	if !ok || e.Notification == nil {
		d.log.Warn("notify: push job's event is no longer in the outbox; push dropped", "event_id", p.EventID, "to", p.Key)
		return d.record(ctx, p.EventID, []delivery{{key: p.Key, status: StatusFailed, attempts: max(p.Attempt, MaxPushAttempts),
			detail: "event no longer in the outbox"}}, d.now())
	}
	states, err := d.deliveryStates(ctx, e.ID, []string{p.Key})
	if err != nil {
		return err
	}
	st := states[p.Key]
	switch st.status {
	case StatusAccepted, StatusSkipped, StatusNoDevice, StatusGone:
		return nil // done meanwhile (a duplicate job)
	case StatusFailed:
		if st.attempts >= MaxPushAttempts {
			return nil
		}
	}
	attempt := p.Attempt
	if attempt < st.attempts+1 {
		attempt = st.attempts + 1
	}
	t := target{key: p.Key, inboxID: p.InboxID, attempt: attempt, tokens: p.Tokens}
	if topic, ok := strings.CutPrefix(p.Key, topicPrefix); ok {
		t.topic, t.locale = topic, p.Locale
	} else {
		t.userID = p.Key
		if t.inboxID == "" {
			it, err := d.inbox.ForEvent(ctx, t.userID, e.ID)
			switch {
			case errors.Is(err, inbox.ErrNotFound):
				d.log.Warn("notify: push job without its inbox item", "event_id", e.ID, "user_id", t.userID)
			case err != nil:
				return err
			}
			t.inboxID = it.ID
		}
	}
	return d.push(ctx, e, []target{t})
}

// BuildPush builds the push of e's notification in locale to tokens or to
// topic: the title and body in that language, a data payload for the deep
// link ("kind", "id", "event_id", "category", "inbox_id"), the collapse key
// and the critical flag, shortened to fit FCM's payload limit.
func BuildPush(e outbox.Event, inboxID, locale string, tokens []string, topic string) fcm.Push {
	n := e.Notification
	title, body := n.TitleVI, n.BodyVI
	if locale == devices.LocaleEN {
		if n.TitleEN != "" {
			title = n.TitleEN
		}
		if n.BodyEN != "" {
			body = n.BodyEN
		}
	}
	data := map[string]string{"event_id": e.ID, "category": n.Category}
	if inboxID != "" {
		data["inbox_id"] = inboxID
	}
	if n.EntityKind != "" {
		data["kind"] = n.EntityKind
	}
	if n.EntityID != "" {
		data["id"] = n.EntityID
	}
	collapse := n.CollapseKey
	if collapse == "" && n.EntityKind != "" {
		collapse = n.EntityKind + ":" + n.EntityID
	}
	return fcm.FitPayload(fcm.Push{
		Tokens: tokens, Topic: topic, Title: title, Body: body, Data: data,
		CollapseKey: collapse, Critical: prefs.IsCritical(n.Category, n.Critical),
	})
}

func isNoRows(err error) bool { return store.IsNoRows(err) }
