package clearance_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	clearancev1 "hqconnect/gen/hqconnect/clearance/v1"
	"hqconnect/gen/hqconnect/clearance/v1/clearancev1connect"
	"hqconnect/internal/auth"
	"hqconnect/internal/errs"
	"hqconnect/internal/testkit"
	"hqconnect/internal/testkit/stack"
	"hqconnect/server/clearance"
)

func TestKeysAndTokensStayApart(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		batch := &clearancev1.PushEventsRequest{Events: []*clearancev1.Event{ev("305000000201", 1, kReg, 0)}}
		t.Run("no user token can ingest", func(t *testing.T) {
			for _, login := range []string{stack.XnkAdmin, stack.Officer, stack.Director, stack.Admin} {
				c := stack.Client(e.Login(t, login), clearancev1connect.NewClearanceIngestServiceClient)
				_, err := c.PushEvents(ctx, connect.NewRequest(batch))
				testkit.WantCode(t, err, connect.CodePermissionDenied)
			}
			if n := e.Count(t, "declaration_events"); n != 0 {
				t.Fatalf("%d events stored", n)
			}
		})
		t.Run("a key cannot call user procedures", func(t *testing.T) {
			reads := stack.SystemClient(e.Sys, clearancev1connect.NewClearanceServiceClient)
			_, err := reads.ListDeclarations(ctx, connect.NewRequest(&clearancev1.ListDeclarationsRequest{}))
			testkit.WantCode(t, err, connect.CodePermissionDenied)
			_, err = reads.ListDeclarationTypes(ctx, connect.NewRequest(&clearancev1.ListDeclarationTypesRequest{}))
			testkit.WantCode(t, err, connect.CodePermissionDenied)
			_, err = stack.SystemClient(e.Sys, clearancev1connect.NewSystemClientServiceClient).ListApiKeys(ctx,
				connect.NewRequest(&clearancev1.ListApiKeysRequest{}))
			testkit.WantCode(t, err, connect.CodePermissionDenied)
		})
		t.Run("admin lists and revokes keys; both audited", func(t *testing.T) {
			k, secret, err := clearance.CreateAPIKey(auth.WithPrincipal(ctx, nil), e.DB, "Cổng VNACCS dự phòng")
			if err != nil {
				t.Fatal(err)
			}
			if n := e.Count(t, "audit_events WHERE action = $1 AND target_id = $2 AND actor_kind = 'system'",
				clearance.ActionAPIKeyCreate, k.ID); n != 1 {
				t.Fatalf("%d audit rows for the creation", n)
			}
			if n := e.Count(t, "api_keys WHERE key_hash = $1", auth.HashAPIKey(secret)); n != 1 {
				t.Fatal("the key is not stored by its hash")
			}
			if n := e.Count(t, "api_keys WHERE key_hash = $1 OR prefix = $1", secret); n != 0 {
				t.Fatal("the secret is stored in clear")
			}
			sys := &stack.System{}
			*sys = *e.Sys
			sys.Key, sys.KeyID = secret, k.ID
			ingest := stack.SystemClient(sys, clearancev1connect.NewClearanceIngestServiceClient)
			if _, err := ingest.PushEvents(ctx, connect.NewRequest(batch)); err != nil {
				t.Fatalf("a new key: %v", err)
			}

			admin := stack.Client(e.Login(t, stack.Admin), clearancev1connect.NewSystemClientServiceClient)
			page := testkit.Got(admin.ListApiKeys(ctx, connect.NewRequest(&clearancev1.ListApiKeysRequest{PageSize: 1}))).Must(t)
			if len(page.ApiKeys) != 1 || page.ApiKeys[0].Id != k.ID || page.NextPageToken == "" {
				t.Fatalf("first page %v", page)
			}
			if page.ApiKeys[0].LastUseTime == nil || page.ApiKeys[0].Prefix != secret[:10] {
				t.Fatalf("key %v", page.ApiKeys[0])
			}
			page = testkit.Got(admin.ListApiKeys(ctx, connect.NewRequest(&clearancev1.ListApiKeysRequest{PageSize: 1,
				PageToken: page.NextPageToken}))).Must(t)
			if len(page.ApiKeys) != 1 || page.ApiKeys[0].Id != e.Sys.KeyID || page.NextPageToken != "" {
				t.Fatalf("second page %v", page)
			}

			rev := testkit.Got(admin.RevokeApiKey(ctx, connect.NewRequest(&clearancev1.RevokeApiKeyRequest{Id: k.ID}))).Must(t)
			if rev.ApiKey.RevokeTime == nil {
				t.Fatal("no revoke time")
			}
			_, err = ingest.PushEvents(ctx, connect.NewRequest(batch))
			testkit.WantCode(t, err, connect.CodeUnauthenticated)
			// Again: nothing changes, no second audit row.
			testkit.Got(admin.RevokeApiKey(ctx, connect.NewRequest(&clearancev1.RevokeApiKeyRequest{Id: k.ID}))).Must(t)
			if n := e.Count(t, "audit_events WHERE action = $1 AND target_id = $2", clearance.ActionAPIKeyRevoke, k.ID); n != 1 {
				t.Fatalf("%d audit rows for the revocation", n)
			}
			// The other key still works.
			if _, err := e.Ingest.PushEvents(ctx, connect.NewRequest(batch)); err != nil {
				t.Fatal(err)
			}
			_, err = admin.RevokeApiKey(ctx, connect.NewRequest(&clearancev1.RevokeApiKeyRequest{Id: "nope"}))
			testkit.WantField(t, err, connect.CodeInvalidArgument, "id")
			_, err = admin.RevokeApiKey(ctx, connect.NewRequest(&clearancev1.RevokeApiKeyRequest{Id: "01a23165-e220-7006-837a-150314f0db03"}))
			testkit.WantCode(t, err, connect.CodeNotFound)
		})
		t.Run("only admins manage keys", func(t *testing.T) {
			for _, login := range []string{stack.Director, stack.Officer, stack.XnkAdmin} {
				c := stack.Client(e.Login(t, login), clearancev1connect.NewSystemClientServiceClient)
				_, err := c.ListApiKeys(ctx, connect.NewRequest(&clearancev1.ListApiKeysRequest{}))
				testkit.WantCode(t, err, connect.CodePermissionDenied)
				_, err = c.RevokeApiKey(ctx, connect.NewRequest(&clearancev1.RevokeApiKeyRequest{Id: e.Sys.KeyID}))
				testkit.WantCode(t, err, connect.CodePermissionDenied)
			}
		})
		if _, _, err := clearance.CreateAPIKey(ctx, e.DB, "x"); !errs.Is(err, errs.Invalid) {
			t.Fatalf("a one-letter name: %v", err)
		}
	})
}

// Concurrent batches over the same declarations, in every order: every event
// is stored once and each declaration ends with its highest sequence.
func TestConcurrentBatches(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		const decls, seqs, writers = 10, 10, 4
		var wg sync.WaitGroup
		errc := make(chan error, writers)
		accepted := make(chan int32, writers)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var batch []*clearancev1.Event
				for d := range decls {
					for s := range seqs {
						// Each writer sends everything, in its own order.
						seq := int64((s+w)%seqs + 1)
						kind := kDocs
						if seq == seqs {
							kind = kClear
						}
						batch = append(batch, ev(fmt.Sprintf("30800000%04d", (d+w)%decls), seq, kind, time.Duration(seq)*time.Minute))
					}
				}
				res, err := e.Ingest.PushEvents(ctx, connect.NewRequest(&clearancev1.PushEventsRequest{Events: batch}))
				if err != nil {
					errc <- err
					return
				}
				accepted <- res.Msg.Accepted
			}()
		}
		wg.Wait()
		close(errc)
		close(accepted)
		for err := range errc {
			t.Fatal(err)
		}
		var total int32
		for n := range accepted {
			total += n
		}
		if total != decls*seqs {
			t.Fatalf("%d accepted in all, want %d", total, decls*seqs)
		}
		if n := e.Count(t, "declaration_events"); n != decls*seqs {
			t.Fatalf("%d events stored", n)
		}
		if n := e.Count(t, "declarations WHERE status = 'CLEARED' AND status_seq = $1", seqs); n != decls {
			t.Fatalf("%d of %d declarations cleared", n, decls)
		}
	})
}
