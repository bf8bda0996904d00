// Package service serves hqconnect.notify.v1: NotificationService (devices,
// the inbox, preferences and the WatchUpdates stream) and NotifyAdminService
// (dead letters). Every NotificationService call acts on the caller's own
// data; the server's policies have already let only signed-in callers (and
// only ADMIN officers for NotifyAdminService) through.
package service

import (
	"context"
	"log/slog"
	"time"

	"hqconnect/gen/hqconnect/notify/v1/notifyv1connect"
	"hqconnect/internal/auth"
	"hqconnect/internal/errs"
	"hqconnect/internal/store"
	"hqconnect/notify/devices"
	"hqconnect/notify/fcm"
	"hqconnect/notify/inbox"
	"hqconnect/notify/live"
	"hqconnect/notify/pipeline"
	"hqconnect/notify/prefs"
)

// Defaults for the zero fields of Deps.
const (
	DefaultHeartbeat    = 25 * time.Second
	DefaultReadyTimeout = 10 * time.Second
)

// Inbox is what the service reads and marks: *inbox.Store.
type Inbox interface {
	List(ctx context.Context, v inbox.Viewer, unreadOnly bool, beforeID string, limit int) ([]inbox.Item, error)
	After(ctx context.Context, v inbox.Viewer, afterID string, limit int) ([]inbox.Item, error)
	MarkRead(ctx context.Context, v inbox.Viewer, ids []string, all bool) (int, error)
	UnreadCount(ctx context.Context, v inbox.Viewer) (int, error)
}

// Devices keeps FCM tokens: *devices.Store.
type Devices interface {
	Register(ctx context.Context, d devices.Device) error
	Get(ctx context.Context, token string) (devices.Device, bool, error)
	Unregister(ctx context.Context, userID, token string) (bool, error)
}

// Prefs keeps push preferences: *prefs.Store.
type Prefs interface {
	Get(ctx context.Context, userID string) (prefs.Prefs, error)
	Put(ctx context.Context, q store.Queryer, userID string, p prefs.Prefs) error
}

// Live is the instance's live hub: *live.Hub.
type Live interface {
	Subscribe(v inbox.Viewer) *live.Subscription
}

// DeadLetters lists and replays events whose delivery kept failing;
// PipelineDeadLetters backs it with the pipeline's dead-letter stream.
type DeadLetters interface {
	// List returns up to limit dead letters after the cursor after ("" for
	// the oldest), oldest first, and the cursor of the next page ("" at
	// the end).
	List(ctx context.Context, after string, limit int) ([]pipeline.DeadLetter, string, error)
	// Replay puts one back into the pipeline; pipeline.ErrNotFound (wrapped)
	// when there is no such dead letter.
	Replay(ctx context.Context, id string) error
}

// Deps is what the service needs.
type Deps struct {
	DB          *store.DB // audit rows
	Inbox       Inbox
	Devices     Devices
	Prefs       Prefs
	Hub         Live
	Sender      fcm.Sender // server-side topic subscriptions
	DeadLetters DeadLetters
	Log         *slog.Logger
	// Heartbeat is WatchUpdates' heartbeat period (default 25s).
	Heartbeat time.Duration
	// ReadyTimeout bounds how long WatchUpdates waits for the live
	// subscription before answering Unavailable (default 10s).
	ReadyTimeout time.Duration
	// Now is the clock (UTC, microseconds); store.Now when nil.
	Now func() time.Time
}

// Service implements NotificationService and NotifyAdminService. Mount it
// with notifyv1connect.NewNotificationServiceHandler(svc, opts...) and
// NewNotifyAdminServiceHandler.
type Service struct {
	db           *store.DB
	inbox        Inbox
	devices      Devices
	prefs        Prefs
	hub          Live
	sender       fcm.Sender
	dead         DeadLetters
	log          *slog.Logger
	heartbeat    time.Duration
	readyTimeout time.Duration
	now          func() time.Time
}

var (
	_ notifyv1connect.NotificationServiceHandler = (*Service)(nil)
	_ notifyv1connect.NotifyAdminServiceHandler  = (*Service)(nil)
)

// New returns the service.
func New(d Deps) *Service {
	s := &Service{
		db: d.DB, inbox: d.Inbox, devices: d.Devices, prefs: d.Prefs, hub: d.Hub,
		sender: d.Sender, dead: d.DeadLetters, log: d.Log,
		heartbeat: d.Heartbeat, readyTimeout: d.ReadyTimeout,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.sender == nil {
		s.sender = fcm.NewLogSender(s.log)
	}
	if s.heartbeat <= 0 {
		s.heartbeat = DefaultHeartbeat
	}
	if s.readyTimeout <= 0 {
		s.readyTimeout = DefaultReadyTimeout
	}
	s.now = store.Clock(d.Now)
	return s
}

// viewerOf is whose inbox p reads.
func viewerOf(p *auth.Principal) inbox.Viewer {
	return inbox.Viewer{UserID: p.UserID, Kind: string(p.Kind), EnterpriseID: p.EnterpriseID, UnitID: p.UnitID}
}

func required(field string) *errs.Error {
	return errs.InvalidField(field, "is required", "là bắt buộc")
}
