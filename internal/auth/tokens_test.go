package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"hqconnect/internal/errs"
)

func newTestKeyring(t testing.TB, pems ...[]byte) *Keyring {
	t.Helper()
	if len(pems) == 0 {
		pems = [][]byte{newKeyPEM(t)}
	}
	kr, err := LoadKeyring(writeFile(t, "keys.pem", slices.Concat(pems...)))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func testPrincipal() Principal {
	return Principal{
		UserID:             "0190a5c0-0000-7000-8000-000000000001",
		SessionID:          "0190a5c0-0000-7000-8000-0000000000aa",
		Kind:               KindEnterpriseUser,
		Roles:              []string{RoleEnterpriseAdmin, RoleStaff},
		EnterpriseID:       "ent-1",
		EnterpriseVerified: true,
	}
}

func headerKID(t *testing.T, token string) string {
	t.Helper()
	jt, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := jt.Header["kid"].(string)
	return kid
}

// wantUnauthenticated fails t unless err is an *errs.Error with code
// Unauthenticated whose English text contains want.
func wantUnauthenticated(t *testing.T, err error, want string) {
	t.Helper()
	e, ok := errs.As(err)
	if !ok || e.Code != errs.Unauthenticated {
		t.Fatalf("err = %v, want an Unauthenticated *errs.Error", err)
	}
	if e.VI == "" || !strings.Contains(e.EN, want) {
		t.Fatalf("err EN=%q VI=%q, want EN containing %q and a VI text", e.EN, e.VI, want)
	}
}

func TestTokensRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  []byte
		p    Principal
	}{
		{"EdDSA enterprise user", nil, testPrincipal()},
		{"ES256 officer", ecKeyPEM(t, elliptic.P256()), Principal{
			UserID: "u-2", SessionID: "s-2", Kind: KindOfficer,
			Roles: []string{RoleOfficer, RoleUnitHead}, UnitID: "unit-9",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var kr *Keyring
			if tc.key != nil {
				kr = newTestKeyring(t, tc.key)
			} else {
				kr = newTestKeyring(t)
			}
			tok := NewTokens(kr, TokenConfig{})
			now := time.Now()
			s, exp, err := tok.Issue(tc.p, now)
			if err != nil {
				t.Fatal(err)
			}
			if d := exp.Sub(now); d < 14*time.Minute || d > 15*time.Minute {
				t.Errorf("expires in %v, want the 15 min default", d)
			}
			if tok.AccessTTL() != 15*time.Minute {
				t.Errorf("AccessTTL() = %v", tok.AccessTTL())
			}
			if kid := headerKID(t, s); kid != kr.SigningKID() {
				t.Errorf("header kid = %q, want %q", kid, kr.SigningKID())
			}
			got, err := tok.Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			if got.UserID != tc.p.UserID || got.SessionID != tc.p.SessionID || got.Kind != tc.p.Kind ||
				!slices.Equal(got.Roles, tc.p.Roles) || got.EnterpriseID != tc.p.EnterpriseID ||
				got.EnterpriseVerified != tc.p.EnterpriseVerified || got.UnitID != tc.p.UnitID {
				t.Fatalf("Parse = %+v, want %+v", *got, tc.p)
			}
		})
	}

	t.Run("every token has its own jti", func(t *testing.T) {
		tok := NewTokens(newTestKeyring(t), TokenConfig{})
		a, _, _ := tok.Issue(testPrincipal(), time.Now())
		b, _, _ := tok.Issue(testPrincipal(), time.Now())
		ca, cb := jwt.MapClaims{}, jwt.MapClaims{}
		_, _, _ = jwt.NewParser().ParseUnverified(a, ca)
		_, _, _ = jwt.NewParser().ParseUnverified(b, cb)
		if ca["jti"] == nil || ca["jti"] == cb["jti"] {
			t.Fatalf("jti %v and %v, want two different ids", ca["jti"], cb["jti"])
		}
	})

	t.Run("issue refuses a principal without session", func(t *testing.T) {
		p := testPrincipal()
		p.SessionID = ""
		if _, _, err := NewTokens(newTestKeyring(t), TokenConfig{}).Issue(p, time.Now()); err == nil {
			t.Fatal("Issue succeeded, want an error")
		}
	})
}

func TestTokensRefused(t *testing.T) {
	edPEM, ecPEM := newKeyPEM(t), ecKeyPEM(t, elliptic.P256())
	kr := newTestKeyring(t, ecPEM, edPEM) // both verify; Ed25519 signs
	tok := NewTokens(kr, TokenConfig{})
	now := time.Now()
	p := testPrincipal()
	good, _, err := tok.Issue(p, now)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(t *testing.T, tk *Tokens, now time.Time) string {
		t.Helper()
		s, _, err := tk.Issue(p, now)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	edKID, ecKID := kr.KIDs()[1], kr.KIDs()[0]
	validClaims := func() jwt.MapClaims {
		return jwt.MapClaims{
			"iss": "hqconnect", "aud": "hqconnect-api", "sub": p.UserID, "sid": p.SessionID,
			"kind": string(p.Kind), "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Minute).Unix(),
		}
	}
	parts := strings.Split(good, ".")

	for _, tc := range []struct {
		name  string
		token func(t *testing.T) string
		want  string
	}{
		{"wrong audience", func(t *testing.T) string {
			return issue(t, NewTokens(kr, TokenConfig{Audience: "other-api"}), now)
		}, "not issued for this service"},
		{"wrong issuer", func(t *testing.T) string {
			return issue(t, NewTokens(kr, TokenConfig{Issuer: "evil"}), now)
		}, "not issued for this service"},
		{"expired", func(t *testing.T) string {
			return issue(t, tok, now.Add(-time.Hour))
		}, "expired: call Refresh"},
		{"not valid yet", func(t *testing.T) string {
			return issue(t, tok, now.Add(time.Hour))
		}, "not valid yet"},
		{"unknown kid", func(t *testing.T) string {
			return issue(t, NewTokens(newTestKeyring(t), TokenConfig{}), now)
		}, "key this server does not know"},
		{"alg none", func(t *testing.T) string {
			jt := jwt.NewWithClaims(jwt.SigningMethodNone, validClaims())
			jt.Header["kid"] = edKID
			s, err := jt.SignedString(jwt.UnsafeAllowNoneSignatureType)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, "signature is invalid"},
		{"HMAC with the public key as secret", func(t *testing.T) string {
			jt := jwt.NewWithClaims(jwt.SigningMethodHS256, validClaims())
			jt.Header["kid"] = edKID
			s, err := jt.SignedString([]byte(kr.byKID[edKID].pub.(ed25519.PublicKey)))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, "signature is invalid"},
		{"ES256 token under the Ed25519 kid", func(t *testing.T) string {
			jt := jwt.NewWithClaims(jwt.SigningMethodES256, validClaims())
			jt.Header["kid"] = edKID
			s, err := jt.SignedString(kr.byKID[ecKID].priv)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, "signature is invalid"},
		{"ES256 token signed by a stranger under our kid", func(t *testing.T) string {
			other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			jt := jwt.NewWithClaims(jwt.SigningMethodES256, validClaims())
			jt.Header["kid"] = ecKID
			s, _ := jt.SignedString(other)
			return s
		}, "signature is invalid"},
		{"tampered claims", func(t *testing.T) string {
			c := validClaims()
			c["roles"] = []string{RoleAdmin}
			body, _ := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c).SigningString()
			return parts[0] + "." + strings.Split(body, ".")[1] + "." + parts[2]
		}, "signature is invalid"},
		{"tampered signature", func(t *testing.T) string {
			sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
			sig[0] ^= 1
			return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
		}, "signature is invalid"},
		{"missing session id", func(t *testing.T) string {
			c := validClaims()
			delete(c, "sid")
			jt := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
			jt.Header["kid"] = edKID
			s, _ := jt.SignedString(kr.byKID[edKID].priv)
			return s
		}, "malformed"},
		{"missing exp", func(t *testing.T) string {
			c := validClaims()
			delete(c, "exp")
			jt := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
			jt.Header["kid"] = edKID
			s, _ := jt.SignedString(kr.byKID[edKID].priv)
			return s
		}, "malformed"},
		{"garbage", func(*testing.T) string { return "not.a.jwt" }, "malformed"},
		{"empty", func(*testing.T) string { return "" }, "sign in required"},
	} {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			got, err := tok.Parse(tc.token(t))
			if got != nil {
				t.Fatalf("Parse = %+v, want nil", got)
			}
			wantUnauthenticated(t, err, tc.want)
		})
	}

	t.Run("accepts a token expired less than the leeway ago", func(t *testing.T) {
		short := NewTokens(kr, TokenConfig{AccessTTL: time.Second})
		if _, err := short.Parse(issue(t, short, now.Add(-10*time.Second))); err != nil {
			t.Fatal(err)
		}
	})
}

func TestKeyRotation(t *testing.T) {
	oldKey, newKey := newKeyPEM(t), newKeyPEM(t)
	oldRing := newTestKeyring(t, oldKey)
	oldToken, _, err := NewTokens(oldRing, TokenConfig{}).Issue(testPrincipal(), time.Now())
	if err != nil {
		t.Fatal(err)
	}

	// Rotation: the new key is appended to the file and the server restarts.
	rotated := NewTokens(newTestKeyring(t, oldKey, newKey), TokenConfig{})

	t.Run("token signed with the old key still verifies", func(t *testing.T) {
		if _, err := rotated.Parse(oldToken); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("new tokens carry the new kid", func(t *testing.T) {
		s, _, err := rotated.Issue(testPrincipal(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		kids := rotated.kr.KIDs()
		if got := headerKID(t, s); got != kids[1] || got == oldRing.KIDs()[0] {
			t.Fatalf("kid = %s, want the new key's %s", got, kids[1])
		}
		if _, err := rotated.Parse(s); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("tokens of a removed key are refused", func(t *testing.T) {
		_, err := NewTokens(newTestKeyring(t, newKey), TokenConfig{}).Parse(oldToken)
		wantUnauthenticated(t, err, "key this server does not know")
	})
}

func TestVerifiedTokenCache(t *testing.T) {
	tok := NewTokens(newTestKeyring(t), TokenConfig{})
	s, _, err := tok.Issue(testPrincipal(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p, err := tok.Parse(s)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("a caller changing its principal does not change the cached one", func(t *testing.T) {
		p.Roles[0] = RoleAdmin
		again, err := tok.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if again.HasRole(RoleAdmin) {
			t.Fatalf("roles = %v, want the token's own", again.Roles)
		}
	})

	t.Run("a cached token still expires", func(t *testing.T) {
		tok.now = func() time.Time { return time.Now().Add(time.Hour) }
		defer func() { tok.now = time.Now }()
		_, err := tok.Parse(s)
		wantUnauthenticated(t, err, "expired: call Refresh")
	})

	t.Run("the cache is bounded", func(t *testing.T) {
		now := time.Now().Unix()
		for i := range maxVerified + 10 {
			tok.remember(strconv.Itoa(i), verifiedToken{exp: now + 60}, now)
		}
		if n := len(tok.verified); n > maxVerified {
			t.Fatalf("%d cached tokens, want at most %d", n, maxVerified)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	tok := NewTokens(newTestKeyring(b), TokenConfig{})
	s, _, _ := tok.Issue(testPrincipal(), time.Now())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tok.Parse(s); err != nil {
			b.Fatal(err)
		}
	}
}
