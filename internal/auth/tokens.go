package auth

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"hqconnect/internal/errs"
	"hqconnect/internal/ids"
)

// TokenConfig says how access tokens are issued. Zero fields take defaults.
type TokenConfig struct {
	Issuer    string        // default "hqconnect"
	Audience  string        // default "hqconnect-api"
	AccessTTL time.Duration // default 15 minutes
}

// leeway tolerates clock skew between instances and phones.
const leeway = 30 * time.Second

// maxVerified bounds the cache of verified tokens (about 20 MB when full).
const maxVerified = 1 << 15

// Tokens issues and verifies access tokens (JWTs signed by a Keyring).
type Tokens struct {
	kr     *Keyring
	cfg    TokenConfig
	parser *jwt.Parser
	now    func() time.Time // replaced in tests

	// verified remembers tokens that passed every check, keyed by the whole
	// token text: a signature check and JSON decoding cost ~100 µs, far
	// more than the RPC they guard, and a client sends one token many times.
	mu       sync.RWMutex
	verified map[string]verifiedToken
}

type verifiedToken struct {
	p   Principal
	exp int64 // unix seconds
}

// NewTokens returns Tokens signing with kr's newest key.
func NewTokens(kr *Keyring, cfg TokenConfig) *Tokens {
	if cfg.Issuer == "" {
		cfg.Issuer = "hqconnect"
	}
	if cfg.Audience == "" {
		cfg.Audience = "hqconnect-api"
	}
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = 15 * time.Minute
	}
	t := &Tokens{
		kr:       kr,
		cfg:      cfg,
		now:      time.Now,
		verified: make(map[string]verifiedToken),
	}
	// Only the algorithms of our own keys: this refuses "none" and HMAC
	// (the public key used as an HMAC secret) before any key is looked at.
	t.parser = jwt.NewParser(
		jwt.WithValidMethods(kr.methods),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithLeeway(leeway),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return t.now() }),
	)
	return t
}

// AccessTTL is how long an access token lives.
func (t *Tokens) AccessTTL() time.Duration { return t.cfg.AccessTTL }

// claims is the access token's payload.
type claims struct {
	jwt.RegisteredClaims
	SID   string   `json:"sid"`
	Kind  Kind     `json:"kind"`
	Roles []string `json:"roles,omitempty"`
	Ent   string   `json:"ent,omitempty"`
	EV    bool     `json:"ev,omitempty"`
	Unit  string   `json:"unit,omitempty"`
}

// Issue signs an access token for p, valid from now for AccessTTL.
func (t *Tokens) Issue(p Principal, now time.Time) (token string, expires time.Time, err error) {
	if p.UserID == "" || p.SessionID == "" {
		return "", time.Time{}, errors.New("issue access token: principal needs a user id and a session id")
	}
	k := t.kr.signer
	expires = now.Add(t.cfg.AccessTTL).Truncate(time.Second)
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.cfg.Issuer,
			Subject:   p.UserID,
			Audience:  jwt.ClaimStrings{t.cfg.Audience},
			ExpiresAt: jwt.NewNumericDate(expires),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        ids.New(),
		},
		SID:   p.SessionID,
		Kind:  p.Kind,
		Roles: p.Roles,
		Ent:   p.EnterpriseID,
		EV:    p.EnterpriseVerified,
		Unit:  p.UnitID,
	}
	jt := jwt.NewWithClaims(k.method, c)
	jt.Header["kid"] = k.kid
	token, err = jt.SignedString(k.priv)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign access token: %w", err)
	}
	return token, expires, nil
}

var (
	errUnknownKID = errors.New("unknown kid")
	errWrongAlg   = errors.New("alg does not match the key")
)

func (t *Tokens) keyFunc(jt *jwt.Token) (any, error) {
	kid, _ := jt.Header["kid"].(string)
	k, ok := t.kr.byKID[kid]
	if !ok {
		return nil, errUnknownKID
	}
	// A token must use its key's own algorithm: an Ed25519 kid with ES256
	// (or the reverse) is forged.
	if jt.Method.Alg() != k.method.Alg() {
		return nil, errWrongAlg
	}
	return k.pub, nil
}

// Errors Parse returns; the server shows EN or VI to the caller.
var (
	errTokenExpired = errs.New(errs.Unauthenticated,
		"access token expired: call Refresh with your refresh token to get a new one",
		"access token đã hết hạn: hãy gọi Refresh với refresh token để lấy token mới")
	errTokenNotYetValid = errs.New(errs.Unauthenticated,
		"access token is not valid yet: check that the device's clock is correct",
		"access token chưa có hiệu lực: hãy kiểm tra đồng hồ của thiết bị")
	errTokenMalformed = errs.New(errs.Unauthenticated,
		"access token is malformed: send the token exactly as it was issued",
		"access token không đúng định dạng: hãy gửi nguyên token đã được cấp")
	errTokenSignature = errs.New(errs.Unauthenticated,
		"access token signature is invalid: sign in again",
		"chữ ký của access token không hợp lệ: hãy đăng nhập lại")
	errTokenUnknownKey = errs.New(errs.Unauthenticated,
		"access token was signed with a key this server does not know: sign in again",
		"access token được ký bằng khóa mà máy chủ không nhận biết: hãy đăng nhập lại")
	errTokenWrongService = errs.New(errs.Unauthenticated,
		"access token was not issued for this service: sign in again",
		"access token không được cấp cho dịch vụ này: hãy đăng nhập lại")
)

// Parse verifies an access token and returns its principal. Every failure is
// an *errs.Error with code errs.Unauthenticated.
func (t *Tokens) Parse(token string) (*Principal, error) {
	if token == "" {
		return nil, errs.ErrUnauthenticated
	}
	now := t.now()
	t.mu.RLock()
	v, ok := t.verified[token]
	t.mu.RUnlock()
	if ok {
		if now.Unix() > v.exp+int64(leeway/time.Second) {
			return nil, errTokenExpired
		}
		p := v.p
		p.Roles = slices.Clone(p.Roles) // callers may not share our copy
		return &p, nil
	}

	var c claims
	if _, err := t.parser.ParseWithClaims(token, &c, t.keyFunc); err != nil {
		return nil, parseError(err).Wrap(err)
	}
	if c.Subject == "" || c.SID == "" || (c.Kind != KindOfficer && c.Kind != KindEnterpriseUser) {
		return nil, errTokenMalformed.Wrap(errors.New("missing sub, sid or kind"))
	}
	p := Principal{
		UserID:             c.Subject,
		SessionID:          c.SID,
		Kind:               c.Kind,
		Roles:              c.Roles,
		EnterpriseID:       c.Ent,
		EnterpriseVerified: c.EV,
		UnitID:             c.Unit,
	}
	t.remember(token, verifiedToken{p: p, exp: c.ExpiresAt.Unix()}, now.Unix())
	p.Roles = slices.Clone(p.Roles)
	return &p, nil
}

func (t *Tokens) remember(token string, v verifiedToken, now int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.verified) >= maxVerified {
		for k, e := range t.verified {
			if now > e.exp+int64(leeway/time.Second) {
				delete(t.verified, k)
			}
		}
		if len(t.verified) >= maxVerified {
			clear(t.verified)
		}
	}
	t.verified[token] = v
}

func parseError(err error) *errs.Error {
	switch {
	case errors.Is(err, errUnknownKID):
		return errTokenUnknownKey
	case errors.Is(err, jwt.ErrTokenMalformed):
		return errTokenMalformed
	case errors.Is(err, errWrongAlg), errors.Is(err, jwt.ErrTokenSignatureInvalid),
		errors.Is(err, jwt.ErrTokenUnverifiable):
		return errTokenSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		return errTokenExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return errTokenNotYetValid
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), errors.Is(err, jwt.ErrTokenInvalidAudience):
		return errTokenWrongService
	default:
		return errTokenMalformed
	}
}
