package fcm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
)

// Sender hands pushes to FCM. Implementations: FCMSender (the real SDK) and LogSender.
type Sender interface {
	// Send pushes p to each of p.Tokens (one Result per distinct token, in input order) or to
	// p.Topic (one Result with Token ""). The error is for a push that could not be attempted
	// at all (invalid: wraps ErrInvalidPush); per-token outcomes are in the Results.
	Send(ctx context.Context, p Push) ([]Result, error)
	// SubscribeToTopic subscribes tokens to topic server side (one TopicResult per token).
	SubscribeToTopic(ctx context.Context, tokens []string, topic string) ([]TopicResult, error)
	// UnsubscribeFromTopic undoes SubscribeToTopic.
	UnsubscribeFromTopic(ctx context.Context, tokens []string, topic string) ([]TopicResult, error)
}

// Status is the outcome of one push attempt to one token or topic.
type Status int

const (
	// StatusAccepted: FCM took the push.
	StatusAccepted Status = iota + 1
	// StatusFailed: retry later with Backoff (429 QUOTA_EXCEEDED, 500 INTERNAL, 503 UNAVAILABLE
	// after the SDK's own retries, network errors, and our own auth/config errors).
	StatusFailed
	// StatusGone: the token is dead (UNREGISTERED, an invalid token, SENDER_ID_MISMATCH): the
	// caller deletes it and does not retry.
	StatusGone
	// StatusRejected: FCM refused the message itself (INVALID_ARGUMENT not about the token):
	// retrying the same push cannot succeed.
	StatusRejected
)

func (s Status) String() string {
	switch s {
	case StatusAccepted:
		return "accepted"
	case StatusFailed:
		return "failed"
	case StatusGone:
		return "gone"
	case StatusRejected:
		return "rejected"
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}

// Result is the outcome for one token (or, for a topic push, the topic).
type Result struct {
	Token string // "" for a topic push
	Topic string // set for a topic push
	// Status classifies Err.
	Status Status
	// MessageID is FCM's name for the accepted message ("projects/p/messages/…").
	MessageID string
	Err       error
	// RetryAfter is the server's Retry-After (429/503) when it sent one.
	RetryAfter time.Duration
}

// TopicResult is the outcome of a topic subscription change for one token.
type TopicResult struct {
	Token string
	Err   error
	// Gone: the token is dead (NOT_FOUND, INVALID_ARGUMENT): the caller deletes it.
	Gone bool
}

// TopicError is a per-token error reason from the topic management API.
type TopicError struct {
	Op     string // "subscribe" or "unsubscribe"
	Reason string // NOT_FOUND, INVALID_ARGUMENT, INTERNAL, TOO_MANY_TOPICS, RESOURCE_EXHAUSTED
}

func (e *TopicError) Error() string { return "fcm topic " + e.Op + ": " + e.Reason }

// topicReasonGone says which topic management reasons mean the token is dead.
func topicReasonGone(reason string) bool {
	return reason == "NOT_FOUND" || reason == "INVALID_ARGUMENT"
}

// classify maps an SDK send error to a Status, with the server's Retry-After if any.
func classify(err error) (Status, time.Duration) {
	if err == nil {
		return StatusAccepted, 0
	}
	// The SDK's error helpers inspect the error's own type: never wrap err before asking.
	var body []byte
	var retryAfter time.Duration
	if resp := errorutils.HTTPResponse(err); resp != nil {
		retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		if resp.Body != nil {
			body, _ = io.ReadAll(resp.Body)
			// HTTPResponse hands out the same buffered copy each time: put the bytes back.
			resp.Body = io.NopCloser(bytes.NewReader(body))
		}
	}
	switch {
	case messaging.IsUnregistered(err), messaging.IsSenderIDMismatch(err):
		return StatusGone, 0
	case messaging.IsInvalidArgument(err):
		if aboutToken(err, body) {
			return StatusGone, 0
		}
		return StatusRejected, 0
	case messaging.IsQuotaExceeded(err), messaging.IsUnavailable(err), messaging.IsInternal(err):
		return StatusFailed, retryAfter
	}
	// Anything else (network errors, 401/403 from our own credentials, unexpected answers)
	// is retried: a push is only dropped when FCM says the token or the message is bad.
	return StatusFailed, retryAfter
}

// aboutToken tells an invalid token from an invalid message: FCM answers INVALID_ARGUMENT for
// both, and says which through the message text and, sometimes, a BadRequest field violation.
func aboutToken(err error, body []byte) bool {
	if strings.Contains(strings.ToLower(err.Error()), "registration token") {
		return true
	}
	var e struct {
		Error struct {
			Details []struct {
				Type            string `json:"@type"`
				FieldViolations []struct {
					Field string `json:"field"`
				} `json:"fieldViolations"`
			} `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return false
	}
	for _, d := range e.Error.Details {
		if d.Type != "type.googleapis.com/google.rpc.BadRequest" {
			continue
		}
		for _, v := range d.FieldViolations {
			if v.Field == "message.token" {
				return true
			}
		}
	}
	return false
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(MaxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, MaxRetryAfter)
		}
	}
	return 0
}

// dedupe keeps the first occurrence of each token, in order.
func dedupe(tokens []string) []string {
	seen := make(map[string]struct{}, len(tokens))
	out := make([]string, 0, len(tokens))
	for _, t := range tokens {
		if _, ok := seen[t]; ok {
			continue
		}
		seen[t] = struct{}{}
		out = append(out, t)
	}
	return out
}

func validateTopicRequest(tokens []string, topic string) error {
	if len(tokens) == 0 {
		return fmt.Errorf("%w: no tokens", ErrInvalidPush)
	}
	for i, t := range tokens {
		if t == "" {
			return fmt.Errorf("%w: token %d is empty", ErrInvalidPush, i)
		}
	}
	if !bareTopicPattern.MatchString(bareTopic(topic)) {
		return fmt.Errorf("%w: topic %q: only letters, digits and -_.~%% are allowed", ErrInvalidPush, topic)
	}
	return nil
}

var errNotSent = errors.New("fcm: not sent")
