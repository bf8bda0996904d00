package fcm

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"firebase.google.com/go/v4/messaging"
)

const (
	// MaxTokensPerCall is the most tokens one SendEachForMulticast call accepts.
	MaxTokensPerCall = 500
	// MaxTokensPerTopicCall is the most tokens one batchAdd/batchRemove call accepts.
	MaxTokensPerTopicCall = 1000

	// FCMPayloadLimit is FCM's limit on a message's payload (data + notification), and
	// FCMTopicPayloadLimit its limit for messages to a topic.
	FCMPayloadLimit      = 4096
	FCMTopicPayloadLimit = 2048
	// PayloadLimit and TopicPayloadLimit are our budgets, kept under FCM's because FCM counts
	// the payload a little differently from our JSON measure (see PayloadSize).
	PayloadLimit      = 4000
	TopicPayloadLimit = 2000
	// MaxDataBytes (MaxTopicDataBytes for a topic push) bounds data + collapse key alone, so
	// that ~900 bytes stay for the title and body. Data values are ids and are never
	// truncated: a larger Data map is an error from Validate.
	MaxDataBytes      = 3072
	MaxTopicDataBytes = 1024

	// DefaultTTL is how long FCM keeps a push for an offline device when Push.TTL is 0.
	DefaultTTL = 24 * time.Hour
	// MaxTTL is FCM's longest TTL (4 weeks).
	MaxTTL = 28 * 24 * time.Hour

	// maxAPNSCollapseID is APNs' limit on apns-collapse-id, in bytes.
	maxAPNSCollapseID = 64

	ellipsis = "…"
)

// Push is one notification to a set of device tokens or to one topic (exactly one of the two).
type Push struct {
	Tokens []string
	// Topic is a bare topic name ("notices-all"); a "/topics/" prefix is accepted.
	Topic string
	// Title and Body are already in the recipient's locale.
	Title, Body string
	// Data carries the deep link (entity kind and id). Values are never truncated.
	Data map[string]string
	// CollapseKey is one per entity: a newer status replaces an older one, both while FCM
	// holds the push for an offline device and in the device's notification tray.
	CollapseKey string
	// Critical pushes go out at high priority (wake the device); others at normal priority.
	Critical bool
	// TTL is how long FCM keeps the push for an offline device: 0 means DefaultTTL.
	TTL time.Duration
}

// ErrInvalidPush is wrapped by every error Validate returns.
var ErrInvalidPush = errors.New("invalid push")

var (
	bareTopicPattern = regexp.MustCompile(`^[a-zA-Z0-9\-_.~%]+$`)
	// reservedDataKeys are refused by FCM in the data payload.
	reservedDataKeys = map[string]bool{"from": true, "notification": true, "message_type": true}
)

// Validate reports what FCM (or our payload budget) would refuse, before anything is sent.
func (p Push) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidPush, fmt.Sprintf(format, a...))
	}
	switch {
	case p.Topic == "" && len(p.Tokens) == 0:
		return bad("no tokens and no topic")
	case p.Topic != "" && len(p.Tokens) > 0:
		return bad("both tokens and a topic: send them as two pushes")
	}
	if p.Topic != "" && !bareTopicPattern.MatchString(bareTopic(p.Topic)) {
		return bad("topic %q: only letters, digits and -_.~%% are allowed", p.Topic)
	}
	for i, t := range p.Tokens {
		if t == "" {
			return bad("token %d is empty", i)
		}
	}
	if p.TTL < 0 || p.TTL > MaxTTL {
		return bad("ttl %s: must be between 0 and %s", p.TTL, MaxTTL)
	}
	for k := range p.Data {
		lk := strings.ToLower(k)
		if k == "" || reservedDataKeys[lk] || strings.HasPrefix(lk, "google") || strings.HasPrefix(lk, "gcm") {
			return bad("data key %q is reserved by FCM", k)
		}
	}
	maxData := MaxDataBytes
	if p.Topic != "" {
		maxData = MaxTopicDataBytes
	}
	if n := PayloadSize(Push{Data: p.Data, CollapseKey: p.CollapseKey}); n > maxData {
		return bad("data and collapse key take %d bytes: at most %d (values are ids, keep them short)", n, maxData)
	}
	if !utf8.ValidString(p.Title) || !utf8.ValidString(p.Body) {
		return bad("title and body must be valid UTF-8")
	}
	return nil
}

func bareTopic(t string) string { return strings.TrimPrefix(t, "/topics/") }

func (p Push) ttl() time.Duration {
	if p.TTL == 0 {
		return DefaultTTL
	}
	return p.TTL
}

// BuildMessage builds the FCM message for one token.
func BuildMessage(p Push, token string) *messaging.Message {
	return buildMessage(p, token, "", time.Now())
}

// BuildTopicMessage builds the FCM message for p.Topic.
func BuildTopicMessage(p Push) *messaging.Message {
	return buildMessage(p, "", bareTopic(p.Topic), time.Now())
}

// BuildMulticast builds the FCM multicast message for a chunk of at most MaxTokensPerCall tokens.
func BuildMulticast(p Push, tokens []string) *messaging.MulticastMessage {
	m := buildMessage(p, "", "", time.Now())
	return &messaging.MulticastMessage{
		Tokens:       tokens,
		Data:         m.Data,
		Notification: m.Notification,
		Android:      m.Android,
		Webpush:      m.Webpush,
		APNS:         m.APNS,
	}
}

// buildMessage is the pure core of the builders: now only feeds apns-expiration.
func buildMessage(p Push, token, topic string, now time.Time) *messaging.Message {
	ttl := p.ttl()
	alert := p.Title != "" || p.Body != ""

	m := &messaging.Message{Token: token, Topic: topic}
	if len(p.Data) > 0 {
		m.Data = make(map[string]string, len(p.Data))
		for k, v := range p.Data {
			m.Data[k] = v
		}
	}
	if alert {
		m.Notification = &messaging.Notification{Title: p.Title, Body: p.Body}
	}

	android := &messaging.AndroidConfig{
		CollapseKey: p.CollapseKey,
		Priority:    "normal",
		TTL:         &ttl,
	}
	if p.Critical {
		android.Priority = "high"
	}
	if alert && p.CollapseKey != "" {
		// collapse_key only collapses pushes FCM still holds; the tag replaces the one shown.
		android.Notification = &messaging.AndroidNotification{Tag: p.CollapseKey}
	}
	m.Android = android

	apnsHeaders := map[string]string{
		"apns-expiration": strconv.FormatInt(now.Add(ttl).Unix(), 10),
	}
	var apnsPayload *messaging.APNSPayload
	switch {
	case !alert:
		// A data-only push wakes the app in the background; Apple requires priority 5 for it.
		apnsHeaders["apns-push-type"] = "background"
		apnsHeaders["apns-priority"] = "5"
		apnsPayload = &messaging.APNSPayload{Aps: &messaging.Aps{ContentAvailable: true}}
	case p.Critical:
		apnsHeaders["apns-push-type"] = "alert"
		apnsHeaders["apns-priority"] = "10"
	default:
		apnsHeaders["apns-push-type"] = "alert"
		apnsHeaders["apns-priority"] = "5"
	}
	if p.CollapseKey != "" {
		apnsHeaders["apns-collapse-id"] = APNSCollapseID(p.CollapseKey)
	}
	m.APNS = &messaging.APNSConfig{Headers: apnsHeaders, Payload: apnsPayload}

	webHeaders := map[string]string{
		"TTL":     strconv.FormatInt(int64(ttl/time.Second), 10),
		"Urgency": "normal",
	}
	if p.Critical {
		webHeaders["Urgency"] = "high"
	}
	m.Webpush = &messaging.WebpushConfig{Headers: webHeaders}
	if alert && p.CollapseKey != "" {
		m.Webpush.Notification = &messaging.WebpushNotification{Tag: p.CollapseKey}
	}
	return m
}

// APNSCollapseID returns key if it fits APNs' 64-byte limit, else a hex digest of it: cutting
// the key could make two entities share a collapse id.
func APNSCollapseID(key string) string {
	if len(key) <= maxAPNSCollapseID {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:]) // 64 hex characters
}

// payloadShape is what PayloadSize measures: what FCM counts against its 4096-byte limit
// (data and notification), plus the collapse key.
type payloadShape struct {
	Data         map[string]string `json:"data,omitempty"`
	Notification *struct {
		Title string `json:"title,omitempty"`
		Body  string `json:"body,omitempty"`
	} `json:"notification,omitempty"`
	CollapseKey string `json:"collapse_key,omitempty"`
}

// PayloadSize is the JSON-encoded size of p's data, notification and collapse key.
func PayloadSize(p Push) int {
	s := payloadShape{Data: p.Data, CollapseKey: p.CollapseKey}
	if p.Title != "" || p.Body != "" {
		s.Notification = &struct {
			Title string `json:"title,omitempty"`
			Body  string `json:"body,omitempty"`
		}{p.Title, p.Body}
	}
	b, err := json.Marshal(s)
	if err != nil { // a map[string]string always marshals
		panic(err)
	}
	return len(b)
}

// Limit is p's payload budget: TopicPayloadLimit for a topic push, else PayloadLimit.
func (p Push) Limit() int {
	if p.Topic != "" {
		return TopicPayloadLimit
	}
	return PayloadLimit
}

// FitPayload shortens the body, then the title, on rune boundaries (never inside a letter
// with its combining marks) and ends them with "…", until PayloadSize(p) ≤ p.Limit().
// Data is never touched: when data alone is too large, Validate reports it.
func FitPayload(p Push) Push {
	limit := p.Limit()
	if PayloadSize(p) <= limit {
		return p
	}
	p.Body = fitField(p, limit, p.Body, func(q *Push, s string) { q.Body = s })
	if PayloadSize(p) <= limit {
		return p
	}
	p.Title = fitField(p, limit, p.Title, func(q *Push, s string) { q.Title = s })
	return p
}

// fitField returns the longest shortening of s (a rune prefix plus "…", or "") that makes p fit.
func fitField(p Push, limit int, s string, set func(*Push, string)) string {
	runes := []rune(s)
	cut := func(k int) string {
		if k >= len(runes) {
			return s
		}
		for k > 0 && unicode.Is(unicode.Mn, runes[k]) {
			k-- // keep a base letter and its combining marks together
		}
		kept := strings.TrimRightFunc(string(runes[:k]), unicode.IsSpace)
		if kept == "" {
			return ""
		}
		return kept + ellipsis
	}
	fits := func(k int) bool {
		q := p
		set(&q, cut(k))
		return PayloadSize(q) <= limit
	}
	// The size grows with k, so search for the largest k that fits.
	lo, hi := 0, len(runes) // fits(lo) is assumed; cut(0) == ""
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if fits(mid) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return cut(lo)
}
