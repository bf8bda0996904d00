package fcm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"strconv"
	"sync/atomic"
)

// LogSender is the development default when no FCM credentials are set: it logs each push
// and answers StatusAccepted for everything. Tokens are logged as short hashes only.
type LogSender struct {
	log *slog.Logger
	seq atomic.Int64
}

var _ Sender = (*LogSender)(nil)

// maxLoggedTokens bounds the token hashes listed on one log line.
const maxLoggedTokens = 5

// NewLogSender logs to log (slog.Default() when nil).
func NewLogSender(log *slog.Logger) *LogSender {
	if log == nil {
		log = slog.Default()
	}
	return &LogSender{log: log}
}

// TokenHash is a short, stable, non-reversible name for a token in logs.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:4])
}

func tokenHashes(tokens []string) []string {
	n := min(len(tokens), maxLoggedTokens)
	out := make([]string, n)
	for i := range n {
		out[i] = TokenHash(tokens[i])
	}
	return out
}

// Send implements Sender.
func (s *LogSender) Send(ctx context.Context, p Push) ([]Result, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	p = FitPayload(p)
	attrs := []slog.Attr{
		slog.String("title", p.Title),
		slog.String("collapse_key", p.CollapseKey),
		slog.Bool("critical", p.Critical),
		slog.Any("data", p.Data),
	}
	var results []Result
	if p.Topic != "" {
		attrs = append(attrs, slog.String("topic", bareTopic(p.Topic)))
		results = []Result{{Topic: bareTopic(p.Topic), Status: StatusAccepted, MessageID: s.nextID()}}
	} else {
		tokens := dedupe(p.Tokens)
		attrs = append(attrs, slog.Int("tokens", len(tokens)), slog.Any("token_hashes", tokenHashes(tokens)))
		results = make([]Result, len(tokens))
		for i, t := range tokens {
			results[i] = Result{Token: t, Status: StatusAccepted, MessageID: s.nextID()}
		}
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "push (log only: no FCM credentials)", attrs...)
	return results, nil
}

func (s *LogSender) nextID() string { return "log/" + strconv.FormatInt(s.seq.Add(1), 10) }

// SubscribeToTopic implements Sender.
func (s *LogSender) SubscribeToTopic(ctx context.Context, tokens []string, topic string) ([]TopicResult, error) {
	return s.topic(ctx, "subscribe", tokens, topic)
}

// UnsubscribeFromTopic implements Sender.
func (s *LogSender) UnsubscribeFromTopic(ctx context.Context, tokens []string, topic string) ([]TopicResult, error) {
	return s.topic(ctx, "unsubscribe", tokens, topic)
}

func (s *LogSender) topic(ctx context.Context, op string, tokens []string, topic string) ([]TopicResult, error) {
	if err := validateTopicRequest(tokens, topic); err != nil {
		return nil, err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "topic "+op+" (log only: no FCM credentials)",
		slog.String("topic", bareTopic(topic)), slog.Int("tokens", len(tokens)),
		slog.Any("token_hashes", tokenHashes(tokens)))
	results := make([]TopicResult, len(tokens))
	for i, t := range tokens {
		results[i].Token = t
	}
	return results, nil
}
