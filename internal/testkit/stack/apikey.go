package stack

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	"hqconnect/internal/auth"
	"hqconnect/internal/ids"
	"hqconnect/internal/store"
)

// System is a system client (the customs clearance system) with an API key
// of its own.
type System struct {
	KeyID string
	Key   string
	env   *Env
}

// NewSystem creates an API key called name in the database and returns the
// system client using it.
func (e *Env) NewSystem(t testing.TB, name string) *System {
	t.Helper()
	key, hash, prefix := auth.NewAPIKey()
	id := ids.New()
	if _, err := e.DB.ExecContext(context.Background(), `INSERT INTO api_keys (id, name, prefix, key_hash, create_time)
		VALUES ($1, $2, $3, $4, $5)`, id, name, prefix, hash, store.Now()); err != nil {
		t.Fatalf("create api key: %v", err)
	}
	return &System{KeyID: id, Key: key, env: e}
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
	return newClient(s.env.httpClient, s.env.URL, opts...)
}
