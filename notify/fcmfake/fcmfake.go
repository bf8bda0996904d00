// Package fcmfake is a fake Firebase Cloud Messaging HTTP server for tests and staging. It
// speaks the two wire formats the Admin SDK uses — FCM v1 `messages:send` and the Instance ID
// topic management `batchAdd`/`batchRemove` — validates what FCM would refuse in the parts
// hqconnect uses, records what it accepted, and answers programmed per-token failures with the
// exact error bodies FCM sends, so that the SDK's messaging.IsUnregistered & co. classify them.
//
//	srv := fcmfake.New()
//	ts := httptest.NewServer(srv) // fcm.Config{Endpoint: ts.URL}
//
// It also serves a fake OAuth2 token endpoint (POST /token) for service-account keys whose
// token_uri points at it.
package fcmfake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Failure is an error FCM can answer for a token.
type Failure int

const (
	// Unregistered: 404 NOT_FOUND, errorCode UNREGISTERED (the app was uninstalled).
	Unregistered Failure = iota + 1
	// QuotaExceeded: 429 RESOURCE_EXHAUSTED, errorCode QUOTA_EXCEEDED, with Retry-After.
	QuotaExceeded
	// Unavailable: 503 UNAVAILABLE (the SDK retries these itself).
	Unavailable
	// Internal: 500 INTERNAL.
	Internal
	// SenderMismatch: 403 PERMISSION_DENIED, errorCode SENDER_ID_MISMATCH.
	SenderMismatch
	// InvalidArgument: 400 INVALID_ARGUMENT, "The registration token is not a valid FCM
	// registration token".
	InvalidArgument
	// ThirdPartyAuth: 401 UNAUTHENTICATED, errorCode THIRD_PARTY_AUTH_ERROR (APNs/web push auth).
	ThirdPartyAuth
	// InvalidMessage: 400 INVALID_ARGUMENT about the message itself (a field other than the
	// token), as FCM answers a payload it refuses.
	InvalidMessage
)

func (f Failure) String() string {
	if a, ok := answers[f]; ok {
		return a.errorCode
	}
	return "Failure(" + strconv.Itoa(int(f)) + ")"
}

// answer is how FCM v1 answers one kind of failure.
type answer struct {
	status    int
	grpc      string // error.status
	message   string
	errorCode string // FcmError.errorCode
	field     string // a google.rpc.BadRequest field violation, if any
	iidReason string // the per-token reason the topic management API gives instead
}

var answers = map[Failure]answer{
	Unregistered:   {404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED", "", "NOT_FOUND"},
	QuotaExceeded:  {429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Send requests' and limit 'Send requests per minute' of service 'fcm.googleapis.com'.", "QUOTA_EXCEEDED", "", "RESOURCE_EXHAUSTED"},
	Unavailable:    {503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE", "", "INTERNAL"},
	Internal:       {500, "INTERNAL", "Internal error encountered.", "INTERNAL", "", "INTERNAL"},
	SenderMismatch: {403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH", "", "INVALID_ARGUMENT"},
	InvalidArgument: {400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token",
		"INVALID_ARGUMENT", "message.token", "INVALID_ARGUMENT"},
	ThirdPartyAuth: {401, "UNAUTHENTICATED", "Auth error from APNS or Web Push Service", "THIRD_PARTY_AUTH_ERROR", "", "INTERNAL"},
	InvalidMessage: {400, "INVALID_ARGUMENT", "Request contains an invalid argument.", "INVALID_ARGUMENT", "message.data", "INVALID_ARGUMENT"},
}

// AccessToken is what the fake OAuth2 token endpoint hands out.
const AccessToken = "fcmfake-access-token"

// PayloadLimit is FCM's limit on data + notification, JSON-encoded; TopicPayloadLimit is
// its limit for messages to a topic.
const (
	PayloadLimit      = 4096
	TopicPayloadLimit = 2048
)

// maxTTL is FCM's longest TTL: 4 weeks.
const maxTTL = 28 * 24 * time.Hour

// Message is one accepted messages:send request.
type Message struct {
	// ID is the name the fake answered: "projects/<project>/messages/<n>".
	ID            string
	Project       string
	Authorization string          // the request's Authorization header
	Raw           json.RawMessage // the request body as received: {"message":{…}}
	Token         string
	Topic         string
	Condition     string
	Title, Body   string
	Data          map[string]string
	// Android: priority ("normal"/"high"), collapse key, TTL as sent ("86400s") and parsed,
	// and the notification tag.
	AndroidPriority    string
	AndroidCollapseKey string
	AndroidTTL         string
	AndroidTTLDuration time.Duration
	AndroidTag         string
	APNSHeaders        map[string]string
	WebpushHeaders     map[string]string
	Received           time.Time
}

type failure struct {
	kind       Failure
	left       int // -1: always
	retryAfter time.Duration
}

// Server is the fake; an http.Handler, safe for concurrent use.
type Server struct {
	mux     *http.ServeMux
	latency atomic.Int64
	reqs    atomic.Int64

	mu           sync.Mutex
	keepMessages bool
	messages     []Message
	count        int
	seq          int64
	byToken      map[string][]int // token → indexes into messages
	attempts     map[string]int   // token or "/topics/x" → messages:send requests
	failures     map[string]*failure
	subs         map[string]map[string]struct{} // topic → tokens
	changed      chan struct{}                  // closed on every accepted message when waited on
}

// New returns an empty fake.
func New() *Server {
	s := &Server{mux: http.NewServeMux(), keepMessages: true}
	s.resetLocked()
	s.mux.HandleFunc("POST /v1/projects/{project}/messages:send", s.handleSend)
	s.mux.HandleFunc("POST /iid/v1:batchAdd", func(w http.ResponseWriter, r *http.Request) { s.handleTopics(w, r, true) })
	s.mux.HandleFunc("POST /iid/v1:batchRemove", func(w http.ResponseWriter, r *http.Request) { s.handleTopics(w, r, false) })
	s.mux.HandleFunc("POST /token", handleToken)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "The requested URL "+r.URL.Path+" was not found on this server.", "", "")
	})
	return s
}

func (s *Server) resetLocked() {
	s.messages = nil
	s.count = 0
	s.byToken = map[string][]int{}
	s.attempts = map[string]int{}
	s.failures = map[string]*failure{}
	s.subs = map[string]map[string]struct{}{}
	s.wakeLocked()
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// ListenAndServe serves on addr until ctx ends (staging); nil after a clean shutdown.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends; nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 1 << 20}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		<-errc
		return err
	}
}

// FailToken makes the next times requests for token (messages:send and topic management)
// fail with kind; times -1 means always, 0 clears. retryAfter > 0 adds a Retry-After header
// (whole seconds, rounded up) to 429 and 503 answers.
func (s *Server) FailToken(token string, kind Failure, times int, retryAfter time.Duration) {
	s.setFailure(token, kind, times, retryAfter)
}

// FailTopic is FailToken for sends to a topic.
func (s *Server) FailTopic(topic string, kind Failure, times int, retryAfter time.Duration) {
	s.setFailure(topicKey(topic), kind, times, retryAfter)
}

func (s *Server) setFailure(key string, kind Failure, times int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if times == 0 {
		delete(s.failures, key)
		return
	}
	s.failures[key] = &failure{kind: kind, left: times, retryAfter: retryAfter}
}

// takeFailureLocked consumes one programmed failure for key, if any.
func (s *Server) takeFailureLocked(key string) (failure, bool) {
	f, ok := s.failures[key]
	if !ok {
		return failure{}, false
	}
	out := *f
	if f.left > 0 {
		f.left--
		if f.left == 0 {
			delete(s.failures, key)
		}
	}
	return out, true
}

// SetLatency delays every request by d (benchmarks: FCM is not on localhost).
func (s *Server) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// SetKeepMessages(false) stops storing accepted messages (Count and WaitForCount still work):
// for benchmarks that send hundreds of thousands.
func (s *Server) SetKeepMessages(keep bool) {
	s.mu.Lock()
	s.keepMessages = keep
	s.mu.Unlock()
}

// Messages returns the accepted messages, in arrival order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.messages)
}

// MessagesTo returns the accepted messages for token, in arrival order.
func (s *Server) MessagesTo(token string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	idx := s.byToken[token]
	out := make([]Message, len(idx))
	for i, j := range idx {
		out[i] = s.messages[j]
	}
	return out
}

// Count is the number of accepted messages.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// Requests is the number of messages:send requests, failed ones included.
func (s *Server) Requests() int { return int(s.reqs.Load()) }

// Attempts is the number of messages:send requests for token (failed ones included).
func (s *Server) Attempts(token string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[token]
}

// TopicAttempts is Attempts for sends to topic.
func (s *Server) TopicAttempts(topic string) int { return s.Attempts(topicKey(topic)) }

// Subscribers returns the tokens subscribed to topic, sorted.
func (s *Server) Subscribers(topic string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for t := range s.subs[strings.TrimPrefix(topic, "/topics/")] {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Reset forgets messages, counters, subscriptions and programmed failures (not the latency).
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs.Store(0)
	s.resetLocked()
}

// WaitForCount blocks until at least n messages were accepted or ctx ends.
func (s *Server) WaitForCount(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		if s.count >= n {
			s.mu.Unlock()
			return nil
		}
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("fcmfake: %d of %d messages: %w", s.Count(), n, ctx.Err())
		}
	}
}

func (s *Server) wakeLocked() {
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

func topicKey(topic string) string { return "/topics/" + strings.TrimPrefix(topic, "/topics/") }

func (s *Server) delay(r *http.Request) {
	d := time.Duration(s.latency.Load())
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// --- messages:send ---

type sendRequest struct {
	ValidateOnly bool         `json:"validate_only"`
	Message      *wireMessage `json:"message"`
}

// wireMessage covers what firebase-admin-go v4 sends; unknown fields are refused like FCM does.
type wireMessage struct {
	Name         string            `json:"name"`
	Data         map[string]string `json:"data"`
	Notification *wireNotification `json:"notification"`
	Android      *struct {
		CollapseKey           string            `json:"collapse_key"`
		Priority              string            `json:"priority"`
		TTL                   string            `json:"ttl"`
		RestrictedPackageName string            `json:"restricted_package_name"`
		Data                  map[string]string `json:"data"`
		Notification          json.RawMessage   `json:"notification"`
		FCMOptions            json.RawMessage   `json:"fcm_options"`
		DirectBootOK          bool              `json:"direct_boot_ok"`
	} `json:"android"`
	Webpush *struct {
		Headers      map[string]string `json:"headers"`
		Data         map[string]string `json:"data"`
		Notification json.RawMessage   `json:"notification"`
		FCMOptions   json.RawMessage   `json:"fcm_options"`
	} `json:"webpush"`
	APNS *struct {
		Headers           map[string]string `json:"headers"`
		Payload           json.RawMessage   `json:"payload"`
		FCMOptions        json.RawMessage   `json:"fcm_options"`
		LiveActivityToken string            `json:"live_activity_token"`
	} `json:"apns"`
	FCMOptions json.RawMessage `json:"fcm_options"`
	Token      string          `json:"token"`
	Topic      string          `json:"topic"`
	Condition  string          `json:"condition"`
}

type wireNotification struct {
	Title string `json:"title,omitempty"`
	Body  string `json:"body,omitempty"`
	Image string `json:"image,omitempty"`
}

// badRequest is a 400 INVALID_ARGUMENT with the field at fault.
type badRequest struct{ field, msg string }

func (e *badRequest) Error() string { return e.msg }

func invalid(field, format string, a ...any) error {
	return &badRequest{field: field, msg: fmt.Sprintf(format, a...)}
}

var (
	topicPattern  = regexp.MustCompile(`^[a-zA-Z0-9\-_.~%]+$`)
	ttlPattern    = regexp.MustCompile(`^([0-9]+)(\.[0-9]{1,9})?s$`)
	numberPattern = regexp.MustCompile(`^[0-9]+$`)
)

func (s *Server) handleSend(w http.ResponseWriter, r *http.Request) {
	s.reqs.Add(1)
	s.delay(r)
	project := r.PathValue("project")
	body, err := readBody(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "could not read the request body", "", "")
		return
	}
	var req sendRequest
	if err := decodeStrict(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received. "+err.Error(), "", "")
		return
	}
	if req.Message == nil {
		writeBadRequest(w, &badRequest{field: "message", msg: "Request contains an invalid argument: message is required."})
		return
	}
	msg, err := validate(req.Message)
	if err != nil {
		br := &badRequest{field: "message", msg: err.Error()}
		errors.As(err, &br)
		writeBadRequest(w, br)
		return
	}
	msg.Project = project
	msg.Authorization = r.Header.Get("Authorization")
	msg.Raw = body
	msg.Received = time.Now()

	key := msg.Token
	if msg.Topic != "" {
		key = topicKey(msg.Topic)
	}
	s.mu.Lock()
	if key != "" {
		s.attempts[key]++
		if f, ok := s.takeFailureLocked(key); ok {
			s.mu.Unlock()
			writeFailure(w, f)
			return
		}
	}
	if req.ValidateOnly {
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]string{"name": "projects/" + project + "/messages/fake_message_id"})
		return
	}
	s.seq++
	msg.ID = "projects/" + project + "/messages/" + strconv.FormatInt(s.seq, 10)
	s.count++
	if s.keepMessages {
		s.messages = append(s.messages, msg)
		if msg.Token != "" {
			s.byToken[msg.Token] = append(s.byToken[msg.Token], len(s.messages)-1)
		}
	}
	s.wakeLocked()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"name": msg.ID})
}

// readBody reads a body of at most 1 MiB, in one allocation when the length is known.
func readBody(r *http.Request) ([]byte, error) {
	const limit = 1 << 20
	if n := r.ContentLength; n > 0 && n <= limit {
		b := make([]byte, n)
		_, err := io.ReadFull(r.Body, b)
		return b, err
	}
	return io.ReadAll(io.LimitReader(r.Body, limit))
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

var reservedDataKeys = map[string]bool{"from": true, "notification": true, "message_type": true}

// validate checks what FCM would refuse in the parts hqconnect uses and flattens the message.
func validate(m *wireMessage) (Message, error) {
	var out Message
	targets := 0
	for _, t := range []string{m.Token, m.Topic, m.Condition} {
		if t != "" {
			targets++
		}
	}
	if targets != 1 {
		return out, invalid("message", "Exactly one of token, topic or condition must be specified.")
	}
	if m.Topic != "" && !topicPattern.MatchString(m.Topic) {
		return out, invalid("message.topic", "Invalid topic name %q.", m.Topic)
	}
	for k := range m.Data {
		lk := strings.ToLower(k)
		if k == "" || reservedDataKeys[lk] || strings.HasPrefix(lk, "google") || strings.HasPrefix(lk, "gcm") {
			return out, invalid("message.data", "Invalid data payload key: %q is reserved.", k)
		}
	}
	limit := PayloadLimit
	if m.Topic != "" {
		limit = TopicPayloadLimit
	}
	if n := payloadSize(m); n > limit {
		return out, invalid("message", "Message is too big: the data and notification payload is %d bytes, the limit is %d.", n, limit)
	}
	out.Token, out.Topic, out.Condition = m.Token, m.Topic, m.Condition
	out.Data = m.Data
	if m.Notification != nil {
		out.Title, out.Body = m.Notification.Title, m.Notification.Body
	}
	if a := m.Android; a != nil {
		switch strings.ToLower(a.Priority) {
		case "", "normal", "high":
		default:
			return out, invalid("message.android.priority", "Invalid value at 'message.android.priority' (type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority), %q", a.Priority)
		}
		if a.TTL != "" {
			d, err := parseTTL(a.TTL)
			if err != nil {
				return out, invalid("message.android.ttl", "Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration), %q: %v", a.TTL, err)
			}
			out.AndroidTTLDuration = d
		}
		out.AndroidPriority, out.AndroidCollapseKey, out.AndroidTTL = a.Priority, a.CollapseKey, a.TTL
		if len(a.Notification) > 0 {
			var n struct {
				Tag string `json:"tag"`
			}
			if err := json.Unmarshal(a.Notification, &n); err != nil {
				return out, invalid("message.android.notification", "Invalid value at 'message.android.notification': %v", err)
			}
			out.AndroidTag = n.Tag
		}
	}
	if a := m.APNS; a != nil {
		if err := validateAPNSHeaders(a.Headers); err != nil {
			return out, err
		}
		out.APNSHeaders = a.Headers
	}
	if wp := m.Webpush; wp != nil {
		if err := validateWebpushHeaders(wp.Headers); err != nil {
			return out, err
		}
		out.WebpushHeaders = wp.Headers
	}
	return out, nil
}

func payloadSize(m *wireMessage) int {
	n := 0
	if len(m.Data) > 0 {
		b, _ := json.Marshal(m.Data)
		n += len(b)
	}
	if m.Notification != nil {
		b, _ := json.Marshal(m.Notification)
		n += len(b)
	}
	return n
}

// parseTTL reads a protobuf Duration in JSON form ("3600s", "1.5s"), 0 to 4 weeks.
func parseTTL(s string) (time.Duration, error) {
	g := ttlPattern.FindStringSubmatch(s)
	if g == nil {
		return 0, errors.New(`want seconds with an "s" suffix, like "3600s"`)
	}
	secs, err := strconv.ParseInt(g[1], 10, 64)
	if err != nil || secs > int64(maxTTL/time.Second) {
		return 0, errors.New("must be at most 2419200s (4 weeks)")
	}
	d := time.Duration(secs) * time.Second
	if g[2] != "" {
		frac := g[2][1:] + strings.Repeat("0", 9-len(g[2][1:]))
		nanos, _ := strconv.ParseInt(frac, 10, 64)
		d += time.Duration(nanos)
	}
	if d > maxTTL {
		return 0, errors.New("must be at most 2419200s (4 weeks)")
	}
	return d, nil
}

func validateAPNSHeaders(h map[string]string) error {
	for k, v := range h {
		switch strings.ToLower(k) {
		case "apns-priority":
			if v != "10" && v != "5" && v != "1" {
				return invalid("message.apns.headers", "apns-priority must be 10, 5 or 1, not %q", v)
			}
		case "apns-collapse-id":
			if len(v) > 64 {
				return invalid("message.apns.headers", "apns-collapse-id is %d bytes: at most 64", len(v))
			}
		case "apns-expiration":
			if !numberPattern.MatchString(v) {
				return invalid("message.apns.headers", "apns-expiration must be a UNIX time in seconds, not %q", v)
			}
		case "apns-push-type":
			switch v {
			case "alert", "background", "location", "voip", "complication", "fileprovider", "mdm", "liveactivity", "pushtotalk":
			default:
				return invalid("message.apns.headers", "unknown apns-push-type %q", v)
			}
		}
	}
	return nil
}

func validateWebpushHeaders(h map[string]string) error {
	for k, v := range h {
		switch strings.ToLower(k) {
		case "ttl":
			if !numberPattern.MatchString(v) {
				return invalid("message.webpush.headers", "TTL must be seconds, not %q", v)
			}
		case "urgency":
			switch v {
			case "very-low", "low", "normal", "high":
			default:
				return invalid("message.webpush.headers", "Urgency must be very-low, low, normal or high, not %q", v)
			}
		}
	}
	return nil
}

// --- error bodies ---

type errorBody struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
		Details []any  `json:"details,omitempty"`
	} `json:"error"`
}

type fcmErrorDetail struct {
	Type      string `json:"@type"`
	ErrorCode string `json:"errorCode"`
}

type fieldViolation struct {
	Field       string `json:"field,omitempty"`
	Description string `json:"description"`
}

type badRequestDetail struct {
	Type            string           `json:"@type"`
	FieldViolations []fieldViolation `json:"fieldViolations"`
}

// writeError writes a Google API error; errorCode adds an FcmError detail, field a BadRequest.
func writeError(w http.ResponseWriter, code int, status, message, errorCode, field string) {
	var b errorBody
	b.Error.Code, b.Error.Message, b.Error.Status = code, message, status
	if errorCode != "" {
		b.Error.Details = append(b.Error.Details, fcmErrorDetail{Type: "type.googleapis.com/google.firebase.fcm.v1.FcmError", ErrorCode: errorCode})
	}
	if field != "" {
		b.Error.Details = append(b.Error.Details, badRequestDetail{
			Type:            "type.googleapis.com/google.rpc.BadRequest",
			FieldViolations: []fieldViolation{{Field: field, Description: message}},
		})
	}
	writeJSON(w, code, b)
}

func writeBadRequest(w http.ResponseWriter, e *badRequest) {
	writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", e.msg, "INVALID_ARGUMENT", e.field)
}

func writeFailure(w http.ResponseWriter, f failure) {
	a := answers[f.kind]
	if a.status == 0 {
		a = answers[Internal]
	}
	if f.retryAfter > 0 && (a.status == http.StatusTooManyRequests || a.status == http.StatusServiceUnavailable) {
		w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(f.retryAfter.Seconds())), 10))
	}
	writeError(w, a.status, a.grpc, a.message, a.errorCode, a.field)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// --- topic management (Instance ID) ---

type iidRequest struct {
	To     string   `json:"to"`
	Tokens []string `json:"registration_tokens"`
}

func (s *Server) handleTopics(w http.ResponseWriter, r *http.Request, add bool) {
	s.delay(r)
	var req iidRequest
	body, err := readBody(r)
	if err == nil {
		err = decodeStrict(body, &req)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "INVALID_ARGUMENT"})
		return
	}
	topic, ok := strings.CutPrefix(req.To, "/topics/")
	if !ok || !topicPattern.MatchString(topic) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "INVALID_ARGUMENT"})
		return
	}
	if len(req.Tokens) == 0 || len(req.Tokens) > 1000 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "INVALID_ARGUMENT"})
		return
	}
	results := make([]map[string]string, len(req.Tokens))
	s.mu.Lock()
	for i, t := range req.Tokens {
		results[i] = map[string]string{}
		if t == "" {
			results[i]["error"] = "INVALID_ARGUMENT"
			continue
		}
		if f, ok := s.takeFailureLocked(t); ok {
			results[i]["error"] = answers[f.kind].iidReason
			continue
		}
		if add {
			if s.subs[topic] == nil {
				s.subs[topic] = map[string]struct{}{}
			}
			s.subs[topic][t] = struct{}{}
		} else {
			delete(s.subs[topic], t)
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

// --- OAuth2 token endpoint ---

func handleToken(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<16))
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": AccessToken,
		"token_type":   "Bearer",
		"expires_in":   3600,
	})
}
