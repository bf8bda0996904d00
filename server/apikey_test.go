package server

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"connectrpc.com/connect"

	clearancev1 "hqconnect/gen/hqconnect/clearance/v1"
	"hqconnect/gen/hqconnect/clearance/v1/clearancev1connect"
	identityv1 "hqconnect/gen/hqconnect/identity/v1"
	"hqconnect/internal/auth"
)

// testKeys accepts one fixed API key.
type testKeys struct{}

const goodKey = auth.APIKeyPrefix + "good"

func (testKeys) Authenticate(_ context.Context, key string) (*auth.Principal, error) {
	if key != goodKey {
		return nil, auth.ErrBadAPIKey
	}
	return &auth.Principal{UserID: "key-1", Kind: auth.KindSystem}, nil
}

// lyingAuth is a user authenticator that claims a system client for a
// token that is not a key.
type lyingAuth struct{ testAuth }

func (a lyingAuth) Authenticate(ctx context.Context, token string) (*auth.Principal, error) {
	if token == "claims-system" {
		return &auth.Principal{UserID: "x", Kind: auth.KindSystem}, nil
	}
	return a.testAuth.Authenticate(ctx, token)
}

// clearanceTestServices mounts the clearance services with unimplemented
// handlers: a call that passes authorization gets CodeUnimplemented.
func clearanceTestServices() []Service {
	return []Service{
		{Name: clearancev1connect.ClearanceIngestServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return clearancev1connect.NewClearanceIngestServiceHandler(clearancev1connect.UnimplementedClearanceIngestServiceHandler{}, o...)
		}},
		{Name: clearancev1connect.ClearanceServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return clearancev1connect.NewClearanceServiceHandler(clearancev1connect.UnimplementedClearanceServiceHandler{}, o...)
		}},
		{Name: clearancev1connect.SystemClientServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return clearancev1connect.NewSystemClientServiceHandler(clearancev1connect.UnimplementedSystemClientServiceHandler{}, o...)
		}},
	}
}

func TestAPIKeys(t *testing.T) {
	withKeys := func(d *Deps) {
		d.APIKeys = testKeys{}
		d.Auth = lyingAuth{}
		d.Services = append(d.Services, clearanceTestServices()...)
	}
	f := newFixture(t, Config{}, withKeys)
	noKeys := newFixture(t, Config{}, func(d *Deps) { d.Services = append(d.Services, clearanceTestServices()...) })
	ctx := t.Context()
	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			ingest := clearancev1connect.NewClearanceIngestServiceClient(f.ts.Client(), f.ts.URL, proto.opts...)
			reads := clearancev1connect.NewClearanceServiceClient(f.ts.Client(), f.ts.URL, proto.opts...)
			keys := clearancev1connect.NewSystemClientServiceClient(f.ts.Client(), f.ts.URL, proto.opts...)
			push := func(token string) error {
				_, err := ingest.PushEvents(ctx, withHeaders(&clearancev1.PushEventsRequest{}, bearer(token)...))
				return err
			}

			t.Run("a key reaches the ingest", func(t *testing.T) {
				wantCode(t, push(goodKey), connect.CodeUnimplemented)
			})
			t.Run("a key cannot call user procedures", func(t *testing.T) {
				_, err := f.identity(proto.opts).GetMe(ctx, withHeaders(&identityv1.GetMeRequest{}, bearer(goodKey)...))
				wantCode(t, err, connect.CodePermissionDenied)
				_, err = reads.ListDeclarations(ctx, withHeaders(&clearancev1.ListDeclarationsRequest{}, bearer(goodKey)...))
				wantCode(t, err, connect.CodePermissionDenied)
				_, err = keys.ListApiKeys(ctx, withHeaders(&clearancev1.ListApiKeysRequest{}, bearer(goodKey)...))
				wantCode(t, err, connect.CodePermissionDenied)
			})
			t.Run("a user token cannot ingest", func(t *testing.T) {
				for _, tok := range []string{"good-officer", "good-admin", "good-enterprise", "good-pending-enterprise"} {
					wantCode(t, push(tok), connect.CodePermissionDenied)
				}
			})
			t.Run("users still reach their procedures", func(t *testing.T) {
				_, err := reads.ListDeclarations(ctx, withHeaders(&clearancev1.ListDeclarationsRequest{}, bearer("good-enterprise")...))
				wantCode(t, err, connect.CodeUnimplemented)
				_, err = keys.ListApiKeys(ctx, withHeaders(&clearancev1.ListApiKeysRequest{}, bearer("good-admin")...))
				wantCode(t, err, connect.CodeUnimplemented)
				_, err = keys.ListApiKeys(ctx, withHeaders(&clearancev1.ListApiKeysRequest{}, bearer("good-officer")...))
				wantCode(t, err, connect.CodePermissionDenied)
			})
			t.Run("an unknown key is unauthenticated", func(t *testing.T) {
				ce := wantCode(t, push(auth.APIKeyPrefix+"nope"), connect.CodeUnauthenticated)
				if ce.Message() != auth.ErrBadAPIKey.VI {
					t.Fatalf("message %q", ce.Message())
				}
			})
			t.Run("a token that is not a key never names a system client", func(t *testing.T) {
				wantCode(t, push("claims-system"), connect.CodeUnauthenticated)
			})
			t.Run("without an API key authenticator keys are refused", func(t *testing.T) {
				c := clearancev1connect.NewClearanceIngestServiceClient(noKeys.ts.Client(), noKeys.ts.URL, proto.opts...)
				_, err := c.PushEvents(ctx, withHeaders(&clearancev1.PushEventsRequest{}, bearer(goodKey)...))
				wantCode(t, err, connect.CodeUnauthenticated)
			})
		})
	}
}

// A system client is never let through a policy that does not name it, even
// one open to every signed-in user.
func TestSystemKindNeedsItsPolicy(t *testing.T) {
	for proc, p := range Policies {
		if p.Public || !slices.Contains(p.Kinds, auth.KindSystem) {
			continue
		}
		for _, k := range p.Kinds {
			if k != auth.KindSystem {
				t.Errorf("%s admits system clients and %s together", proc, k)
			}
		}
	}
}
