// Package notify delivers what the event pipeline carries: for each outbox
// event with a Notification, the Deliverer writes inbox items, publishes them
// live (WatchUpdates) and sends pushes through FCM, idempotently per (event,
// recipient), so an event handled twice changes nothing the second time.
//
// Subpackages: inbox (personal items and broadcasts, read back as one
// inbox), devices (FCM tokens bound to sessions, topic names), prefs
// (categories switched off, quiet hours), fcm (the sender) and fcmfake (a fake
// FCM server for tests and staging).
//
// # Audiences
//
// Personal notifications (Audience.UserIDs, EnterpriseIDs, UnitIDs+Roles)
// resolve to the active users named, get one inbox row each and a push per
// device in the device's language. Broadcasts (Audience.Broadcast: "all",
// "enterprise_users", "officers", or "enterprise:<id>" / "unit:<id>") get one
// broadcasts row shown to every matching inbox and one FCM topic push per
// language ("<audience>_vi", "<audience>_en"; see devices.TopicName), with no
// row per user. Preferences and quiet hours apply to personal pushes only: a
// topic push reaches every subscribed device.
//
// # Pushes
//
// Each (event, user) — or (event, "topic:<name>") — leaves one
// push_deliveries row with the latest outcome: accepted, failed, gone, held,
// skipped (category switched off) or no_device. A user whose row exists is
// not pushed again when the event is handled again. Quiet hours hold a
// non-critical push in a scheduler job ("notify.push") due when the window
// ends; retryable FCM failures (429, 5xx, network) are retried by the same
// kind of job with fcm.Backoff, honouring Retry-After, up to MaxPushAttempts
// attempts. Dead tokens are deleted. The job reads the event back from
// outbox_events (kept 7 days).
//
// Handle returns an error only when retrying the whole event could help (the
// database or Redis failed); per-token outcomes are handled here.
package notify
