// Package reqinfo carries facts about the current request (client IP, locale)
// from the server's interceptors to the handlers.
package reqinfo

import "context"

// Info is what the server knows about the request beyond its message.
type Info struct {
	// ClientIP is the peer address, or the first X-Forwarded-For hop when the
	// server is configured to trust a proxy.
	ClientIP string
	// Locale is "vi" (default) or "en", from Accept-Language.
	Locale string
	// UserAgent as sent by the client.
	UserAgent string
}

type key struct{}

// With returns ctx carrying info.
func With(ctx context.Context, info Info) context.Context {
	return context.WithValue(ctx, key{}, info)
}

// From returns the request's Info; zero fields (Locale "vi") outside a
// request.
func From(ctx context.Context) Info {
	info, _ := ctx.Value(key{}).(Info)
	if info.Locale == "" {
		info.Locale = "vi"
	}
	return info
}
