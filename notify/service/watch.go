package service

import (
	"context"
	"errors"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	notifyv1 "hqconnect/gen/hqconnect/notify/v1"
	"hqconnect/internal/auth"
	"hqconnect/internal/errs"
	"hqconnect/internal/ids"
	"hqconnect/internal/reqinfo"
	"hqconnect/notify/inbox"
	"hqconnect/notify/live"
)

const (
	// replayPage is how many items one inbox read of a replay returns.
	replayPage = 200
	// recentIDs is how many sent ids a stream remembers to drop duplicates.
	recentIDs = 64
)

var (
	errSlowStream = errs.New(errs.ResourceExhausted,
		"live updates fell behind and were stopped: reconnect with after_id set to the id of the last notification you received",
		"luồng cập nhật bị chậm nên đã dừng: hãy kết nối lại với after_id là id của thông báo cuối cùng bạn đã nhận")
	errLiveStopped = errs.New(errs.Unavailable,
		"the server is restarting: reconnect with after_id set to the id of the last notification you received",
		"máy chủ đang khởi động lại: hãy kết nối lại với after_id là id của thông báo cuối cùng bạn đã nhận")
	errLiveUnavailable = errs.New(errs.Unavailable,
		"live updates are unavailable right now: try again shortly (the inbox still works)",
		"cập nhật trực tiếp tạm thời không khả dụng: hãy thử lại sau ít phút (hộp thư vẫn hoạt động)")
)

// WatchUpdates subscribes to the hub before anything else, so that nothing
// published from then on is missed; waits until Redis has confirmed the
// subscription; replays the inbox after after_id; sends a first heartbeat
// (the stream is live from there); then forwards live items, skipping those
// already sent, with a heartbeat every period. An item published between the
// subscription and the replay's read comes both ways: it is sent once.
func (s *Service) WatchUpdates(ctx context.Context, req *connect.Request[notifyv1.WatchUpdatesRequest], stream *connect.ServerStream[notifyv1.WatchUpdatesResponse]) error {
	p, err := auth.Caller(ctx)
	if err != nil {
		return err
	}
	// Ids are lower-case UUIDv7: text order is time order.
	after := strings.ToLower(strings.TrimSpace(req.Msg.AfterId))
	if after != "" && !ids.Valid(after) {
		return errs.InvalidField("after_id",
			"is not a notification id: send the id of the last notification received, or nothing",
			"không phải là id của thông báo: hãy gửi id của thông báo cuối cùng đã nhận, hoặc để trống")
	}
	if s.hub == nil {
		return errLiveUnavailable
	}
	v := viewerOf(p)
	w := &watch{s: s, v: v, stream: stream, locale: reqinfo.From(ctx).Locale, after: after}

	sub := s.hub.Subscribe(v)
	defer sub.Close()
	// Items with an id from now on are live; a replay after a lost Redis
	// connection starts here when nothing was sent yet.
	w.start = ids.New()
	ready := time.NewTimer(s.readyTimeout)
	select {
	case <-sub.Ready():
		ready.Stop()
	case <-ctx.Done():
		ready.Stop()
		return ctx.Err()
	case <-ready.C:
		return errLiveUnavailable
	}
	if err := sub.Err(); err != nil {
		return endedBy(err)
	}

	if after != "" {
		if err := w.replay(ctx, after); err != nil {
			return err
		}
	}
	if err := w.heartbeat(); err != nil {
		return err
	}
	tick := time.NewTicker(s.heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			// The client left, or the server is shutting down (the server
			// turns that into Unavailable).
			return ctx.Err()
		case it, ok := <-sub.C:
			if !ok {
				return endedBy(sub.Err())
			}
			if err := w.send(it); err != nil {
				return err
			}
		case <-sub.Resync():
			// The hub lost Redis for a while: what was published meanwhile is
			// in the inbox.
			if err := w.replay(ctx, w.cursor()); err != nil {
				return err
			}
		case <-tick.C:
			if err := w.heartbeat(); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// endedBy is what a stream whose subscription the hub ended answers.
func endedBy(err error) error {
	if errors.Is(err, live.ErrSlowConsumer) {
		return errSlowStream
	}
	return errLiveStopped
}

// watch is one WatchUpdates stream's state.
type watch struct {
	s      *Service
	v      inbox.Viewer
	stream *connect.ServerStream[notifyv1.WatchUpdatesResponse]
	locale string
	// after is the client's after_id: it has everything up to it.
	after string
	// start is an id made when the stream subscribed.
	start string
	// last is the greatest id sent.
	last string
	// recent are the last ids sent (a ring, at most recentIDs), to drop an
	// item that comes both from the replay and live, or twice live.
	recent []string
	next   int
}

// cursor is where a replay after a lost connection starts.
func (w *watch) cursor() string {
	c := w.start
	if w.after > c {
		c = w.after
	}
	if w.last > c {
		c = w.last
	}
	return c
}

// replay sends v's items after from the inbox, in pages, oldest first.
func (w *watch) replay(ctx context.Context, from string) error {
	for {
		items, err := w.s.inbox.After(ctx, w.v, from, replayPage)
		if err != nil {
			return err
		}
		for _, it := range items {
			if err := w.send(it); err != nil {
				return err
			}
		}
		if len(items) < replayPage {
			return nil
		}
		from = items[len(items)-1].ID
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// sent reports whether id must not be sent: the client has it already (not
// after after_id), it was sent recently, or it is older than every id the
// stream remembers while the memory is full (an old item sent again by the
// pipeline). An id older than the last sent but not sent yet (events
// processed out of order by concurrent workers) still goes out.
func (w *watch) sent(id string) bool {
	if w.after != "" && id <= w.after {
		return true
	}
	if w.last == "" || id > w.last {
		return false
	}
	oldest := w.last
	for _, r := range w.recent {
		if r == id {
			return true
		}
		oldest = min(oldest, r)
	}
	return len(w.recent) == recentIDs && id < oldest
}

func (w *watch) send(it inbox.Item) error {
	if w.sent(it.ID) {
		return nil
	}
	err := w.stream.Send(&notifyv1.WatchUpdatesResponse{
		Update: &notifyv1.WatchUpdatesResponse_Notification{Notification: notificationProto(it, w.locale)},
	})
	if err != nil {
		return err
	}
	if it.ID > w.last {
		w.last = it.ID
	}
	if len(w.recent) < recentIDs {
		w.recent = append(w.recent, it.ID)
	} else {
		w.recent[w.next] = it.ID
		w.next = (w.next + 1) % recentIDs
	}
	return nil
}

func (w *watch) heartbeat() error {
	return w.stream.Send(&notifyv1.WatchUpdatesResponse{
		Update: &notifyv1.WatchUpdatesResponse_Heartbeat{Heartbeat: &notifyv1.Heartbeat{Time: timestamppb.New(w.s.now())}},
	})
}
