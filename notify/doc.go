// Package notify will hold the event pipeline: the outbox relay, the Redis
// Stream consumers, the inbox, devices, the FCM sender and the live hub (see
// ../shared/DESIGN.md, "Data flow"). The foundation has no events yet.
package notify
