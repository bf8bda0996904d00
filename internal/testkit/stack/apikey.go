package stack

import (
	"context"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect"

	"hqconnect/internal/auth"
	"hqconnect/internal/ids"
	"hqconnect/internal/store"
	"hqconnect/server"
)

// System is a system client (the customs clearance system) with an API key
// of its own, calling a server that accepts keys.
type System struct {
	KeyID string
	Key   string
	url   string
	env   *Env
}

// KeyServer starts a second server on the Env's database and sessions that
// also authenticates API keys (no cache: a revoked key is refused at once),
// serving services with the real interceptors and authorization table. It
// returns its URL; users reach it too with UserClient.
func (e *Env) KeyServer(t testing.TB, services []server.Service) string {
	t.Helper()
	srv, err := server.New(server.Config{}, server.Deps{Log: e.Log, Auth: e.Sessions,
		APIKeys: auth.NewAPIKeys(e.DB, auth.APIKeyConfig{CacheTTL: -1}), Services: services})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.EnableHTTP2 = true
	hs.StartTLS()
	t.Cleanup(hs.Close)
	return hs.URL
}

// NewSystem creates an API key called name in the database and returns the
// system client using it against url (a KeyServer).
func (e *Env) NewSystem(t testing.TB, url, name string) *System {
	t.Helper()
	key, hash, prefix := auth.NewAPIKey()
	id := ids.New()
	if _, err := e.DB.ExecContext(context.Background(), `INSERT INTO api_keys (id, name, prefix, key_hash, create_time)
		VALUES ($1, $2, $3, $4, $5)`, id, name, prefix, hash, store.Now()); err != nil {
		t.Fatalf("create api key: %v", err)
	}
	return &System{KeyID: id, Key: key, url: url, env: e}
}

// SystemClient builds a generated client that sends the system's key over
// the Env's protocol.
func SystemClient[C any](s *System, newClient func(connect.HTTPClient, string, ...connect.ClientOption) C) C {
	key := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+s.Key)
			return next(ctx, req)
		}
	})
	opts := append([]connect.ClientOption{connect.WithInterceptors(key)}, s.env.opts...)
	return newClient(s.env.httpClient, s.url, opts...)
}

// UserClient builds a generated client for u against url (a KeyServer)
// instead of the Env's own server.
func UserClient[C any](u *User, url string, newClient func(connect.HTTPClient, string, ...connect.ClientOption) C) C {
	return newClient(u.env.httpClient, url, u.Options()...)
}
