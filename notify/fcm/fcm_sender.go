package fcm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"
	htransport "google.golang.org/api/transport/http"
)

// Config configures FCMSender.
type Config struct {
	// ProjectID is the Firebase project; when empty it is read from CredentialsFile.
	ProjectID string
	// CredentialsFile is a service-account JSON key (FCM_CREDENTIALS_FILE): real Google auth.
	CredentialsFile string
	// Endpoint (FCM_ENDPOINT) is a base URL such as "http://127.0.0.1:9099": the SDK sends to
	// Endpoint + "/v1/projects/<id>/messages:send". Without CredentialsFile the requests go
	// unauthenticated (tests and staging against fcmfake).
	Endpoint string
	// TopicEndpoint is a base URL that topic management requests are rewritten to (the SDK's
	// topic host, iid.googleapis.com, is fixed). Empty: Endpoint when Endpoint is set and
	// CredentialsFile is not (the fake serves both), else the real host.
	TopicEndpoint string
	// HTTPClient is optional; its Transport carries the requests (auth is layered on top when
	// CredentialsFile is set). The default keeps enough idle connections for
	// MaxConcurrentCalls × 50 requests in flight.
	HTTPClient *http.Client
	// MaxConcurrentCalls bounds the SendEachForMulticast calls in flight for one Send (each
	// runs up to 50 requests at once). Default 4.
	MaxConcurrentCalls int
}

// iidHost is the topic management host the SDK hard-codes.
const iidHost = "iid.googleapis.com"

// firebaseMessagingScopes are enough for messages:send and the topic management API.
var firebaseMessagingScopes = []string{
	"https://www.googleapis.com/auth/cloud-platform",
	"https://www.googleapis.com/auth/firebase.messaging",
}

// FCMSender sends through firebase.google.com/go/v4/messaging.
type FCMSender struct {
	client      *messaging.Client
	httpClient  *http.Client
	concurrency int
	onChunk     func(tokens int) // test hook: one call per SendEachForMulticast
}

var _ Sender = (*FCMSender)(nil)

// NewFCMSender builds the SDK client: CredentialsFile → service-account auth; else Endpoint →
// no auth (the fake); else Application Default Credentials.
func NewFCMSender(ctx context.Context, cfg Config) (*FCMSender, error) {
	projectID := cfg.ProjectID
	if projectID == "" && cfg.CredentialsFile != "" {
		var err error
		if projectID, err = projectIDFromFile(cfg.CredentialsFile); err != nil {
			return nil, err
		}
	}
	if projectID == "" {
		return nil, errors.New("fcm: a project id is required (set it or use a credentials file that has project_id)")
	}

	var base http.RoundTripper
	var timeout time.Duration
	if cfg.HTTPClient != nil {
		base, timeout = cfg.HTTPClient.Transport, cfg.HTTPClient.Timeout
		if base == nil {
			base = http.DefaultTransport
		}
	} else {
		base, timeout = defaultTransport(), 30*time.Second
	}

	rt := base
	var err error
	switch {
	case cfg.CredentialsFile != "":
		// WithAuthCredentialsFile only accepts a service-account key; the older
		// WithCredentialsFile is deprecated because it loads any credential type.
		rt, err = htransport.NewTransport(ctx, base,
			option.WithAuthCredentialsFile(option.ServiceAccount, cfg.CredentialsFile),
			option.WithScopes(firebaseMessagingScopes...))
	case cfg.Endpoint != "":
		// Unauthenticated: tests and staging against the fake.
	default:
		rt, err = htransport.NewTransport(ctx, base, option.WithScopes(firebaseMessagingScopes...))
	}
	if err != nil {
		return nil, fmt.Errorf("fcm credentials: %w", err)
	}

	topicEndpoint := cfg.TopicEndpoint
	if topicEndpoint == "" && cfg.Endpoint != "" && cfg.CredentialsFile == "" {
		topicEndpoint = cfg.Endpoint
	}
	if topicEndpoint != "" {
		target, err := url.Parse(strings.TrimRight(topicEndpoint, "/"))
		if err != nil || target.Scheme == "" || target.Host == "" {
			return nil, fmt.Errorf("fcm: topic endpoint %q is not a base URL", topicEndpoint)
		}
		rt = &hostRewriter{base: rt, host: iidHost, target: target}
	}
	hc := &http.Client{Transport: rt, Timeout: timeout}

	// The SDK uses this client as is: auth is already in its transport.
	opts := []option.ClientOption{option.WithHTTPClient(hc)}
	if cfg.Endpoint != "" {
		if u, err := url.Parse(cfg.Endpoint); err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("fcm: endpoint %q is not a base URL", cfg.Endpoint)
		}
		opts = append(opts, option.WithEndpoint(strings.TrimRight(cfg.Endpoint, "/")+"/v1"))
		if cfg.CredentialsFile == "" {
			opts = append(opts, option.WithoutAuthentication())
		}
	}
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: projectID}, opts...)
	if err != nil {
		return nil, fmt.Errorf("fcm app: %w", err)
	}
	client, err := app.Messaging(ctx)
	if err != nil {
		return nil, fmt.Errorf("fcm messaging client: %w", err)
	}
	concurrency := cfg.MaxConcurrentCalls
	if concurrency <= 0 {
		concurrency = 4
	}
	return &FCMSender{client: client, httpClient: hc, concurrency: concurrency}, nil
}

// Close releases idle connections.
func (s *FCMSender) Close() { s.httpClient.CloseIdleConnections() }

func defaultTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// Default MaxConcurrentCalls (4) × the SDK's 50 workers per call: without enough idle
	// connections a large send keeps opening new ones.
	t.MaxIdleConns = 512
	t.MaxIdleConnsPerHost = 256
	return t
}

func projectIDFromFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("fcm credentials: %w", err)
	}
	var f struct {
		ProjectID string `json:"project_id"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return "", fmt.Errorf("fcm credentials %s: %w", path, err)
	}
	return f.ProjectID, nil
}

// hostRewriter sends requests for host to target instead (scheme, host and a path prefix).
type hostRewriter struct {
	base   http.RoundTripper
	host   string
	target *url.URL
}

func (h *hostRewriter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != h.host {
		return h.base.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	r.URL.Scheme = h.target.Scheme
	r.URL.Host = h.target.Host
	r.URL.Path = h.target.Path + req.URL.Path
	r.URL.RawPath = ""
	r.Host = ""
	return h.base.RoundTrip(r)
}

// Send implements Sender. Tokens go in chunks of MaxTokensPerCall, up to MaxConcurrentCalls
// chunks at once; the SDK sends one HTTP request per token and retries 503s and network
// errors itself (up to 4 times, honouring Retry-After).
func (s *FCMSender) Send(ctx context.Context, p Push) ([]Result, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	p = FitPayload(p)
	if p.Topic != "" {
		id, err := s.client.Send(ctx, BuildTopicMessage(p))
		st, ra := classify(err)
		return []Result{{Topic: bareTopic(p.Topic), Status: st, MessageID: id, Err: err, RetryAfter: ra}}, nil
	}

	tokens := dedupe(p.Tokens)
	results := make([]Result, len(tokens))
	for i, t := range tokens {
		results[i].Token = t
	}
	// One message for all chunks: they share apns-expiration and the maps.
	mm := BuildMulticast(p, nil)
	sem := make(chan struct{}, s.concurrency)
	var wg sync.WaitGroup
	for start := 0; start < len(tokens); start += MaxTokensPerCall {
		end := min(start+MaxTokensPerCall, len(tokens))
		acquired := false
		if ctx.Err() == nil {
			select {
			case sem <- struct{}{}:
				acquired = true
			case <-ctx.Done():
			}
		}
		if !acquired {
			for i := start; i < len(tokens); i++ {
				results[i].Status, results[i].Err = StatusFailed, fmt.Errorf("%w: %w", errNotSent, ctx.Err())
			}
			break
		}
		chunk := *mm
		chunk.Tokens = tokens[start:end]
		wg.Go(func() {
			defer func() { <-sem }()
			s.sendChunk(ctx, &chunk, results[start:end])
		})
	}
	wg.Wait()
	return results, nil
}

func (s *FCMSender) sendChunk(ctx context.Context, mm *messaging.MulticastMessage, out []Result) {
	if s.onChunk != nil {
		s.onChunk(len(mm.Tokens))
	}
	br, err := s.client.SendEachForMulticast(ctx, mm)
	if err != nil {
		// Only the SDK's own validation fails a whole call, and Validate ran first: whatever
		// it found is wrong with the message, not with a token.
		for i := range out {
			out[i].Status, out[i].Err = StatusRejected, err
		}
		return
	}
	for i, r := range br.Responses {
		if r.Success {
			out[i].Status, out[i].MessageID = StatusAccepted, r.MessageID
			continue
		}
		out[i].Err = r.Error
		out[i].Status, out[i].RetryAfter = classify(r.Error)
	}
}

// SubscribeToTopic implements Sender, in calls of MaxTokensPerTopicCall tokens. The error
// joins whole-call failures (each of that call's tokens also carries it in Err); tokens the
// API refused one by one only carry their Err.
func (s *FCMSender) SubscribeToTopic(ctx context.Context, tokens []string, topic string) ([]TopicResult, error) {
	return manageTopic(ctx, tokens, topic, "subscribe", s.client.SubscribeToTopic)
}

// UnsubscribeFromTopic implements Sender like SubscribeToTopic.
func (s *FCMSender) UnsubscribeFromTopic(ctx context.Context, tokens []string, topic string) ([]TopicResult, error) {
	return manageTopic(ctx, tokens, topic, "unsubscribe", s.client.UnsubscribeFromTopic)
}

type topicCall func(context.Context, []string, string) (*messaging.TopicManagementResponse, error)

func manageTopic(ctx context.Context, tokens []string, topic, op string, call topicCall) ([]TopicResult, error) {
	if err := validateTopicRequest(tokens, topic); err != nil {
		return nil, err
	}
	results := make([]TopicResult, len(tokens))
	for i, t := range tokens {
		results[i].Token = t
	}
	var errs []error
	for start := 0; start < len(tokens); start += MaxTokensPerTopicCall {
		end := min(start+MaxTokensPerTopicCall, len(tokens))
		resp, err := call(ctx, tokens[start:end], bareTopic(topic))
		if err != nil {
			for i := start; i < end; i++ {
				results[i].Err = err
			}
			errs = append(errs, fmt.Errorf("fcm %s %d tokens to topic %q: %w", op, end-start, topic, err))
			continue
		}
		for _, e := range resp.Errors {
			if e == nil || e.Index < 0 || start+e.Index >= end {
				continue
			}
			r := &results[start+e.Index]
			r.Err = &TopicError{Op: op, Reason: e.Reason}
			r.Gone = topicReasonGone(e.Reason)
		}
	}
	return results, errors.Join(errs...)
}
