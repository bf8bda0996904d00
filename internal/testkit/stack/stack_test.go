package stack_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	identityv1 "hqconnect/gen/hqconnect/identity/v1"
	"hqconnect/gen/hqconnect/identity/v1/identityv1connect"
	"hqconnect/internal/testkit"
	"hqconnect/internal/testkit/stack"
)

func TestStackSignsInAndRefusesAnonymous(t *testing.T) {
	stack.RunDB(t, nil, func(t *testing.T, e *stack.Env) {
		u := e.Login(t, stack.XnkStaff)
		if u.EnterpriseID() == "" || u.UserID() == "" {
			t.Fatalf("signed-in user without ids: %+v", u.Me)
		}
		me := testkit.Got(stack.Client(u, identityv1connect.NewIdentityServiceClient).
			GetMe(context.Background(), connect.NewRequest(&identityv1.GetMeRequest{}))).Must(t)
		if me.User.GetId() != u.UserID() {
			t.Fatalf("GetMe = %s, want %s", me.User.GetId(), u.UserID())
		}
		_, err := stack.Client(e.Anon(), identityv1connect.NewIdentityServiceClient).
			GetMe(context.Background(), connect.NewRequest(&identityv1.GetMeRequest{}))
		testkit.WantCode(t, err, connect.CodeUnauthenticated)
		if o := e.Login(t, stack.Officer); o.UnitID() != e.UnitID(t, "DEMOCK1TT") {
			t.Fatalf("officer unit %s", o.UnitID())
		}
	})
}
