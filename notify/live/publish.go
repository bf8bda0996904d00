// Package live carries new inbox items to the WatchUpdates streams of every
// instance through Redis pub/sub: whichever instance processes an event
// publishes its items (Publisher), and each instance's Hub holds one Redis
// subscription for all of its local streams and hands them what they watch.
//
// Channels, for a key prefix P: "P live:u:<user id>" carries a user's
// personal items; "P live:b:<audience>:<audience id>" carries broadcasts to
// an audience (inbox.Viewer.Audiences). Messages are the item as JSON, in
// both languages; each stream picks its caller's.
//
// Pub/sub is fire and forget: an item published while nobody listens is not
// kept. The inbox is the record; a stream replays from it on resume (after
// id) and after the hub lost its Redis connection (Subscription.Resync).
package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"hqconnect/notify/inbox"
)

// userChannel is where a user's personal items are published.
func userChannel(prefix, userID string) string { return prefix + "live:u:" + userID }

// broadcastChannel is where broadcasts to one audience are published.
func broadcastChannel(prefix, audience, audienceID string) string {
	return prefix + "live:b:" + audience + ":" + audienceID
}

// channelsOf lists the channels a viewer listens to: its own and those of
// every broadcast audience it belongs to.
func channelsOf(prefix string, v inbox.Viewer) []string {
	auds := v.Audiences()
	out := make([]string, 0, len(auds)+1)
	if v.UserID != "" {
		out = append(out, userChannel(prefix, v.UserID))
	}
	for _, a := range auds {
		out = append(out, broadcastChannel(prefix, a[0], a[1]))
	}
	return out
}

// wireItem is the JSON of an inbox.Item on a channel. Its own type keeps the
// wire format apart from the Go field names.
type wireItem struct {
	ID         string    `json:"id"`
	UserID     string    `json:"user_id,omitempty"`
	EventID    string    `json:"event_id,omitempty"`
	Category   string    `json:"category"`
	TitleVI    string    `json:"title_vi"`
	TitleEN    string    `json:"title_en"`
	BodyVI     string    `json:"body_vi,omitempty"`
	BodyEN     string    `json:"body_en,omitempty"`
	EntityKind string    `json:"entity_kind,omitempty"`
	EntityID   string    `json:"entity_id,omitempty"`
	CreateTime time.Time `json:"create_time"`
	ReadTime   time.Time `json:"read_time,omitzero"`
	Broadcast  bool      `json:"broadcast,omitempty"`
	Audience   string    `json:"audience,omitempty"`
	AudienceID string    `json:"audience_id,omitempty"`
}

func encodeItem(it inbox.Item) ([]byte, error) {
	return json.Marshal(wireItem{
		ID: it.ID, UserID: it.UserID, EventID: it.EventID, Category: it.Category,
		TitleVI: it.TitleVI, TitleEN: it.TitleEN, BodyVI: it.BodyVI, BodyEN: it.BodyEN,
		EntityKind: it.EntityKind, EntityID: it.EntityID, CreateTime: it.CreateTime, ReadTime: it.ReadTime,
		Broadcast: it.Broadcast, Audience: it.Audience, AudienceID: it.AudienceID,
	})
}

func decodeItem(payload string) (inbox.Item, error) {
	var w wireItem
	if err := json.Unmarshal([]byte(payload), &w); err != nil {
		return inbox.Item{}, fmt.Errorf("decode live item: %w", err)
	}
	if w.ID == "" {
		return inbox.Item{}, errors.New("decode live item: no id")
	}
	return inbox.Item{
		ID: w.ID, UserID: w.UserID, EventID: w.EventID, Category: w.Category,
		TitleVI: w.TitleVI, TitleEN: w.TitleEN, BodyVI: w.BodyVI, BodyEN: w.BodyEN,
		EntityKind: w.EntityKind, EntityID: w.EntityID, CreateTime: w.CreateTime, ReadTime: w.ReadTime,
		Broadcast: w.Broadcast, Audience: w.Audience, AudienceID: w.AudienceID,
	}, nil
}

// Publisher publishes new inbox items for the hubs of every instance.
type Publisher struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewPublisher returns a Publisher on rdb; prefix starts every channel name
// and must be the hubs' prefix.
func NewPublisher(rdb redis.UniversalClient, prefix string) *Publisher {
	return &Publisher{rdb: rdb, prefix: prefix}
}

// PublishUser sends a personal item to the streams of userID.
func (p *Publisher) PublishUser(ctx context.Context, userID string, it inbox.Item) error {
	if userID == "" {
		return errors.New("live: publish a personal item without a user id")
	}
	return p.publish(ctx, userChannel(p.prefix, userID), it)
}

// PublishBroadcast sends a broadcast item to the streams of everyone in its
// audience (it.Audience, it.AudienceID).
func (p *Publisher) PublishBroadcast(ctx context.Context, it inbox.Item) error {
	if it.Audience == "" {
		return errors.New("live: publish a broadcast without an audience")
	}
	return p.publish(ctx, broadcastChannel(p.prefix, it.Audience, it.AudienceID), it)
}

func (p *Publisher) publish(ctx context.Context, channel string, it inbox.Item) error {
	if it.ID == "" {
		return errors.New("live: publish an item without an id")
	}
	b, err := encodeItem(it)
	if err != nil {
		return fmt.Errorf("encode live item: %w", err)
	}
	if err := p.rdb.Publish(ctx, channel, b).Err(); err != nil {
		return fmt.Errorf("publish live item: %w", err)
	}
	return nil
}
