package fcm

import (
	"math/rand/v2"
	"time"
)

const (
	// BackoffBase is the ceiling of the first retry's delay.
	BackoffBase = time.Second
	// BackoffCap caps the exponential ceiling.
	BackoffCap = 5 * time.Minute
	// MaxRetryAfter bounds what a server's Retry-After can ask for (a guard against nonsense).
	MaxRetryAfter = time.Hour
)

// Backoff is the delay before retry number attempt (1 for the first retry) of a push that
// ended StatusFailed: "full jitter", uniform in [0, min(BackoffCap, BackoffBase·2^(attempt-1))],
// and never shorter than the server's retryAfter (itself bounded by MaxRetryAfter), which may
// exceed BackoffCap: the server knows when it will take traffic again.
func Backoff(attempt int, retryAfter time.Duration) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	ceiling := BackoffCap
	if attempt <= 20 { // beyond, 2^(attempt-1) s is past the cap anyway
		ceiling = min(BackoffBase<<(attempt-1), BackoffCap)
	}
	d := time.Duration(rand.Int64N(int64(ceiling) + 1))
	return max(d, min(retryAfter, MaxRetryAfter))
}
