package notify

import "hqconnect/notify/live"

// The real publisher is what the Deliverer is wired with in production.
var _ LivePublisher = (*live.Publisher)(nil)
