// Package redisx opens the Redis client every part of hqconnect shares:
// always a redis.UniversalClient, so a single node and a Redis Cluster are
// used the same way, or an in-process miniredis as the development default.
package redisx

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Client is an open Redis connection and how to close it.
type Client struct {
	redis.UniversalClient
	// Embedded is true when the client talks to the in-process miniredis.
	Embedded bool
	mini     *miniredis.Miniredis
}

// EmbeddedURL is the redis:// URL of the in-process server, or "" when the
// client talks to a real one. A second instance in a test can share it.
func (c *Client) EmbeddedURL() string {
	if c.mini == nil {
		return ""
	}
	return "redis://" + c.mini.Addr()
}

// Close closes the client and, for the embedded default, the server.
func (c *Client) Close() error {
	err := c.UniversalClient.Close()
	if c.mini != nil {
		c.mini.Close()
	}
	return err
}

// Open connects to rawURL. An empty URL starts an in-process miniredis (a
// development default, announced in the log). "redis://" and "rediss://" open
// a single node; add "?addr=host:port" once or more, or use the
// "redis+cluster://" scheme, for a Redis Cluster.
func Open(ctx context.Context, rawURL string, log *slog.Logger) (*Client, error) {
	if rawURL == "" {
		m := miniredis.NewMiniRedis()
		// Without ClockTTL, keys in miniredis never expire.
		m.ClockTTL(true)
		if err := m.Start(); err != nil {
			return nil, fmt.Errorf("start embedded redis: %w", err)
		}
		log.Warn("development default: in-process Redis (miniredis); set REDIS_URL for a real one", "addr", m.Addr())
		c := &Client{UniversalClient: redis.NewClient(&redis.Options{Addr: m.Addr()}), Embedded: true, mini: m}
		return c, nil
	}
	var rdb redis.UniversalClient
	cluster := strings.HasPrefix(rawURL, "redis+cluster://") || strings.HasPrefix(rawURL, "rediss+cluster://")
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse REDIS_URL: %w", err)
	}
	if u.Query().Has("addr") {
		cluster = true
	}
	if cluster {
		u.Scheme = strings.Replace(u.Scheme, "+cluster", "", 1)
		opts, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("parse REDIS_URL: %w", err)
		}
		rdb = redis.NewClusterClient(opts)
	} else {
		opts, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("parse REDIS_URL: %w", err)
		}
		rdb = redis.NewClient(opts)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("ping redis: %w", err)
	}
	return &Client{UniversalClient: rdb}, nil
}
