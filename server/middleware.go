package server

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"

	"hqconnect/internal/reqinfo"
)

// middleware wraps the mux, outermost first: panic recovery, request facts
// (client IP, locale), CORS, then per-RPC state or a body limit.
func (s *Server) middleware(next http.Handler) http.Handler {
	h := s.rpcOrLimit(next)
	if len(s.cfg.CORSOrigins) > 0 {
		h = newCORS(s.cfg.CORSOrigins).wrap(h)
	}
	h = s.withReqInfo(h)
	return s.recoverHTTP(h)
}

// recoverHTTP turns a panic outside the Connect interceptors (plain HTTP
// endpoints, codecs) into a 500 and logs it with its stack.
func (s *Server) recoverHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "panic serving HTTP request",
				"method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		}()
		next.ServeHTTP(w, r)
	})
}

// withReqInfo puts the client IP, locale and user agent in the context.
func (s *Server) withReqInfo(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := reqinfo.Info{
			ClientIP:  clientIP(r, s.cfg.TrustProxy),
			Locale:    localeOf(r.Header.Get("Accept-Language")),
			UserAgent: r.UserAgent(),
		}
		next.ServeHTTP(w, r.WithContext(reqinfo.With(r.Context(), info)))
	})
}

// clientIP is the peer's address, or the first X-Forwarded-For hop when the
// proxy in front is trusted.
func clientIP(r *http.Request, trustProxy bool) string {
	if trustProxy {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			first = strings.TrimSpace(first)
			if ap, err := netip.ParseAddrPort(first); err == nil {
				return ap.Addr().String()
			}
			if a, err := netip.ParseAddr(first); err == nil {
				return a.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// localeOf picks "en" when the caller's first preference (highest q, first
// listed on a tie) is an English language tag, "vi" otherwise.
func localeOf(acceptLanguage string) string {
	best, bestQ := "", -1.0
	for part := range strings.SplitSeq(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag = strings.TrimSpace(tag)
		if tag == "" {
			continue
		}
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		if q > 0 && q > bestQ {
			best, bestQ = tag, q
		}
	}
	if lower := strings.ToLower(best); lower == "en" || strings.HasPrefix(lower, "en-") {
		return "en"
	}
	return "vi"
}

// rpcOrLimit prepares an RPC (a path under a mounted service) for the
// interceptors, and logs and counts those that never reach them (a request
// refused while decoding: too large, malformed). Other requests get their
// body limited to MaxRequestBytes; RPCs are limited per message by Connect,
// so a long stream is not cut off.
func (s *Server) rpcOrLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.isRPCPath(r.URL.Path) {
			if r.Body != nil {
				r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxRequestBytes)
			}
			next.ServeHTTP(w, r)
			return
		}
		st := &callState{}
		if r.ProtoMajor == 2 && r.Body != nil {
			// Closing an HTTP/2 request body wakes a handler blocked in
			// Receive, so a stream can be ended at shutdown.
			st.closeBody = r.Body.Close
		}
		sw := &statusWriter{ResponseWriter: w}
		start := time.Now()
		next.ServeHTTP(sw, r.WithContext(withCallState(r.Context(), st)))
		if st.seen {
			return
		}
		// Refused before any interceptor ran.
		procedure := r.URL.Path
		code := sw.code()
		level := slog.LevelInfo
		if c, ok := codeByName[code]; ok && !clientSide(c) {
			level = slog.LevelError
		}
		d := time.Since(start)
		s.metrics.observe(s.procedureLabel(procedure), code, d)
		s.log.LogAttrs(r.Context(), level, "rpc",
			slog.String("procedure", procedure),
			slog.String("protocol", protocolOf(r.Header.Get("Content-Type"))),
			slog.String("code", code),
			slog.Duration("duration", d),
			slog.String("client_ip", reqinfo.From(r.Context()).ClientIP),
			slog.Int("http_status", sw.status),
			slog.String("error", "refused before reaching the handler"),
		)
	})
}

func (s *Server) isRPCPath(path string) bool {
	if len(path) < 2 || path[0] != '/' {
		return false
	}
	i := strings.IndexByte(path[1:], '/')
	return i >= 0 && s.rpcPrefixes[path[:i+2]]
}

// procedureLabel keeps the metric labels to the mounted procedures.
func (s *Server) procedureLabel(procedure string) string {
	if s.procedures[procedure] {
		return procedure
	}
	return "unknown"
}

func protocolOf(contentType string) string {
	switch ct := strings.ToLower(contentType); {
	case strings.HasPrefix(ct, "application/grpc-web"):
		return connect.ProtocolGRPCWeb
	case strings.HasPrefix(ct, "application/grpc"):
		return connect.ProtocolGRPC
	default:
		return connect.ProtocolConnect
	}
}

var codeByName = func() map[string]connect.Code {
	m := make(map[string]connect.Code)
	for c := connect.CodeCanceled; c <= connect.CodeUnauthenticated; c++ {
		m[c.String()] = c
	}
	return m
}()

// statusWriter records the HTTP status of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush is required by Connect for streaming responses.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// code is the Connect code of a response refused before the handler: the
// gRPC status when sent as a header (trailers-only), else the Connect
// protocol's HTTP status.
func (w *statusWriter) code() string {
	if v := grpcStatus(w.Header()); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			return connect.CodeUnknown.String()
		case n == 0:
			return "ok"
		default:
			return connect.Code(n).String()
		}
	}
	switch w.status {
	case 0, http.StatusOK:
		return "ok"
	case http.StatusBadRequest:
		return connect.CodeInvalidArgument.String()
	case http.StatusUnauthorized:
		return connect.CodeUnauthenticated.String()
	case http.StatusForbidden:
		return connect.CodePermissionDenied.String()
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return connect.CodeUnimplemented.String()
	case http.StatusRequestTimeout, http.StatusGatewayTimeout:
		return connect.CodeDeadlineExceeded.String()
	case http.StatusConflict:
		return connect.CodeAborted.String()
	case http.StatusPreconditionFailed:
		return connect.CodeFailedPrecondition.String()
	case http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		return connect.CodeResourceExhausted.String()
	case http.StatusUnsupportedMediaType:
		return connect.CodeInvalidArgument.String()
	case 499:
		return connect.CodeCanceled.String()
	case http.StatusBadGateway, http.StatusServiceUnavailable:
		return connect.CodeUnavailable.String()
	default:
		return connect.CodeInternal.String()
	}
}

// grpcStatus finds the gRPC status among the response headers, where it is
// either a header (trailers-only) or an announced trailer.
func grpcStatus(h http.Header) string {
	if v := h.Get("Grpc-Status"); v != "" {
		return v
	}
	for k, vs := range h {
		if len(vs) > 0 && strings.EqualFold(k, http.TrailerPrefix+"Grpc-Status") {
			return vs[0]
		}
	}
	return ""
}

// CORS, by hand: the headers Connect, gRPC-Web and the app's own need.
var (
	corsAllowHeaders = strings.Join([]string{
		"Content-Type", "Connect-Protocol-Version", "Connect-Timeout-Ms",
		"Connect-Accept-Encoding", "Connect-Content-Encoding", "Grpc-Timeout",
		"X-Grpc-Web", "X-User-Agent", "Authorization", "Accept-Language",
	}, ", ")
	corsExposeHeaders = strings.Join([]string{
		"Grpc-Status", "Grpc-Message", "Grpc-Status-Details-Bin",
		"Content-Encoding", "Connect-Content-Encoding",
	}, ", ")
)

const (
	corsAllowMethods = "GET, POST"
	corsMaxAge       = "7200"
)

type cors struct {
	any     bool
	origins []string // lower case, without a trailing slash
}

func newCORS(origins []string) *cors {
	c := &cors{}
	for _, o := range origins {
		o = strings.ToLower(strings.TrimRight(strings.TrimSpace(o), "/"))
		if o == "*" {
			c.any = true
		}
		if o != "" {
			c.origins = append(c.origins, o)
		}
	}
	return c
}

func (c *cors) allowed(origin string) bool {
	if origin == "" {
		return false
	}
	return c.any || slices.Contains(c.origins, strings.ToLower(origin))
}

func (c *cors) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Origin")
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			if c.allowed(origin) {
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Allow-Methods", corsAllowMethods)
				h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
				h.Set("Access-Control-Max-Age", corsMaxAge)
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Add("Vary", "Origin")
		if c.allowed(origin) {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		}
		next.ServeHTTP(w, r)
	})
}
