// Package fcm sends pushes through Firebase Cloud Messaging (firebase.google.com/go/v4).
//
// Message building is pure (BuildMessage, BuildMulticast, BuildTopicMessage, FitPayload) and
// table-tested; sending sits behind the Sender interface: FCMSender (the real SDK, pointed at
// fcmfake in tests and staging through Config.Endpoint) and LogSender (the development default).
//
// Retry-After: the SDK keeps the HTTP response of a failed request inside its error, and
// errorutils.HTTPResponse(err) returns it, so a 429 or a 503 that outlived the SDK's own
// retries carries the server's Retry-After into Result.RetryAfter.
package fcm
