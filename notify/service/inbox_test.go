package service_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"connectrpc.com/connect"

	notifyv1 "hqconnect/gen/hqconnect/notify/v1"
	"hqconnect/internal/ids"
	"hqconnect/internal/testkit"
	"hqconnect/notify/inbox"
)

func listAll(t *testing.T, c interface {
	ListNotifications(context.Context, *connect.Request[notifyv1.ListNotificationsRequest]) (*connect.Response[notifyv1.ListNotificationsResponse], error)
}, unread bool, size int32) (all []*notifyv1.Notification, pages int) {
	t.Helper()
	tok := ""
	for {
		res := testkit.Got(c.ListNotifications(context.Background(), req(&notifyv1.ListNotificationsRequest{
			UnreadOnly: unread, PageSize: size, PageToken: tok,
		}))).Must(t)
		all = append(all, res.Notifications...)
		pages++
		if res.NextPageToken == "" {
			return all, pages
		}
		tok = res.NextPageToken
		if pages > 100 {
			t.Fatal("paging does not end")
		}
	}
}

func idsOf(ns []*notifyv1.Notification) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Id
	}
	return out
}

func TestInbox(t *testing.T) {
	run(t, options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		a := e.signIn(t, xnkStaffLogin)
		b := e.signIn(t, logStaffLogin)
		officer := e.signIn(t, officerLogin)

		var mine []inbox.Item
		for i := range 5 {
			mine = append(mine, e.personal(t, a, fmt.Sprint("item ", i)))
		}
		other := e.personal(t, b, "for b")
		bc := e.broadcast(t, "enterprise_users", "", "to enterprises")
		forOfficers := e.broadcast(t, "officers", "", "to officers")
		// Newest first: the broadcast, then the personal items backwards.
		want := []string{bc.ID}
		for i := len(mine) - 1; i >= 0; i-- {
			want = append(want, mine[i].ID)
		}

		t.Run("pages newest first with the broadcasts of the caller's audience", func(t *testing.T) {
			all, pages := listAll(t, a.Notify, false, 2)
			if !slices.Equal(idsOf(all), want) || pages != 3 {
				t.Fatalf("got %v in %d pages, want %v in 3", idsOf(all), pages, want)
			}
			if n := all[0]; !n.Broadcast || n.Category != notifyv1.Category_CATEGORY_NOTICE || n.Title != "to enterprises (vi)" || n.ReadTime != nil {
				t.Fatalf("broadcast %v", n)
			}
			n := all[1]
			if n.Broadcast || n.Category != notifyv1.Category_CATEGORY_ISSUE || n.Title != "item 4 (vi)" ||
				n.Body != "nội dung item 4" || n.EntityKind != "issue" || n.EntityId != mine[4].EntityID ||
				!n.CreateTime.AsTime().Equal(mine[4].CreateTime) {
				t.Fatalf("item %v", n)
			}
			// In English on request.
			res := testkit.Got(a.EN.ListNotifications(ctx, req(&notifyv1.ListNotificationsRequest{PageSize: 2}))).Must(t)
			if res.Notifications[1].Title != "item 4" || res.Notifications[1].Body != "body item 4" {
				t.Fatalf("English %v", res.Notifications[1])
			}
			// Another user sees their own and not a's.
			bs, _ := listAll(t, b.Notify, false, 0)
			if !slices.Equal(idsOf(bs), []string{bc.ID, other.ID}) {
				t.Fatalf("b sees %v", idsOf(bs))
			}
			os, _ := listAll(t, officer.Notify, false, 0)
			if !slices.Equal(idsOf(os), []string{forOfficers.ID}) {
				t.Fatalf("the officer sees %v", idsOf(os))
			}
		})

		t.Run("page size and token are checked", func(t *testing.T) {
			res := testkit.Got(a.Notify.ListNotifications(ctx, req(&notifyv1.ListNotificationsRequest{PageSize: 1000}))).Must(t)
			if len(res.Notifications) != len(want) || res.NextPageToken != "" {
				t.Fatalf("a large page: %d items, token %q", len(res.Notifications), res.NextPageToken)
			}
			_, err := a.Notify.ListNotifications(ctx, req(&notifyv1.ListNotificationsRequest{PageSize: -1}))
			testkit.WantField(t, err, connect.CodeInvalidArgument, "page_size")
			for _, tok := range []string{"not base64!", "bm90LWFuLWlk", "%%%"} {
				_, err = a.Notify.ListNotifications(ctx, req(&notifyv1.ListNotificationsRequest{PageToken: tok}))
				testkit.WantField(t, err, connect.CodeInvalidArgument, "page_token")
			}
		})

		t.Run("mark read, unread counts and the unread filter", func(t *testing.T) {
			unread := func(u *user) int32 {
				return testkit.Got(u.Notify.UnreadCount(ctx, req(&notifyv1.UnreadCountRequest{}))).Must(t).Unread
			}
			if n := unread(a); n != 6 {
				t.Fatalf("unread %d, want 6", n)
			}
			res := testkit.Got(a.Notify.MarkRead(ctx, req(&notifyv1.MarkReadRequest{Ids: []string{mine[0].ID, bc.ID, other.ID, ids.New()}}))).Must(t)
			if res.Marked != 2 {
				t.Fatalf("marked %d, want 2 (b's item and an unknown id do not count)", res.Marked)
			}
			if n := unread(a); n != 4 {
				t.Fatalf("unread %d, want 4", n)
			}
			if n := unread(b); n != 2 {
				t.Fatalf("b's unread %d, want 2: a's marks are a's", n)
			}
			left, _ := listAll(t, a.Notify, true, 0)
			if !slices.Equal(idsOf(left), []string{mine[4].ID, mine[3].ID, mine[2].ID, mine[1].ID}) {
				t.Fatalf("unread items %v", idsOf(left))
			}
			all, _ := listAll(t, a.Notify, false, 0)
			if all[0].ReadTime == nil || all[len(all)-1].ReadTime == nil || all[1].ReadTime != nil {
				t.Fatal("read times")
			}
			res = testkit.Got(a.Notify.MarkRead(ctx, req(&notifyv1.MarkReadRequest{All: true}))).Must(t)
			if res.Marked != 4 || unread(a) != 0 {
				t.Fatalf("mark all marked %d", res.Marked)
			}
		})

		t.Run("mark read checks its ids", func(t *testing.T) {
			_, err := a.Notify.MarkRead(ctx, req(&notifyv1.MarkReadRequest{}))
			testkit.WantField(t, err, connect.CodeInvalidArgument, "ids")
			_, err = a.Notify.MarkRead(ctx, req(&notifyv1.MarkReadRequest{Ids: []string{"nope"}}))
			testkit.WantField(t, err, connect.CodeInvalidArgument, "ids")
			many := make([]string, 501)
			for i := range many {
				many[i] = ids.New()
			}
			_, err = a.Notify.MarkRead(ctx, req(&notifyv1.MarkReadRequest{Ids: many}))
			testkit.WantField(t, err, connect.CodeInvalidArgument, "ids")
			testkit.Got(a.Notify.MarkRead(ctx, req(&notifyv1.MarkReadRequest{Ids: many[:500]}))).Must(t)
		})

		t.Run("anonymous callers are refused", func(t *testing.T) {
			_, err := e.anon().UnreadCount(ctx, req(&notifyv1.UnreadCountRequest{}))
			testkit.WantCode(t, err, connect.CodeUnauthenticated)
		})
	})
}
