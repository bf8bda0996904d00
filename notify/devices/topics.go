package devices

import (
	"context"
	"errors"
	"fmt"

	"hqconnect/notify/fcm"
	"hqconnect/notify/inbox"
)

// Subscribe subscribes d's token, server side, to the topics of v's
// audiences (Topics), and reports whether FCM called the token dead (the
// caller then deletes it). Call it after Register.
func Subscribe(ctx context.Context, s fcm.Sender, d Device, v inbox.Viewer) (gone bool, err error) {
	return manage(ctx, s.SubscribeToTopic, d, Topics(d, v))
}

// Unsubscribe undoes Subscribe: call it when a token leaves v (unregistered,
// its session ended, moved to another user, the user changed enterprise or
// unit, or the device's locale changed).
func Unsubscribe(ctx context.Context, s fcm.Sender, d Device, v inbox.Viewer) (gone bool, err error) {
	return manage(ctx, s.UnsubscribeFromTopic, d, Topics(d, v))
}

type topicFunc func(ctx context.Context, tokens []string, topic string) ([]fcm.TopicResult, error)

func manage(ctx context.Context, call topicFunc, d Device, topics []string) (bool, error) {
	var errs []error
	gone := false
	for _, t := range topics {
		res, err := call(ctx, []string{d.Token}, t)
		if err != nil {
			errs = append(errs, fmt.Errorf("topic %s: %w", t, err))
			continue
		}
		for _, r := range res {
			switch {
			case r.Gone:
				gone = true
			case r.Err != nil:
				errs = append(errs, fmt.Errorf("topic %s: %w", t, r.Err))
			}
		}
		if gone {
			break
		}
	}
	return gone, errors.Join(errs...)
}
