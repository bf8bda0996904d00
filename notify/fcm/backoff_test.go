package fcm

import (
	"net/http"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		name       string
		attempt    int
		retryAfter time.Duration
		min, max   time.Duration
	}{
		{"first retry within 1 s", 1, 0, 0, time.Second},
		{"attempt 0 counts as the first", 0, 0, 0, time.Second},
		{"third retry within 4 s", 3, 0, 0, 4 * time.Second},
		{"ninth retry within 256 s", 9, 0, 0, 256 * time.Second},
		{"capped at 5 min", 10, 0, 0, BackoffCap},
		{"huge attempt does not overflow", 1000, 0, 0, BackoffCap},
		{"Retry-After is a floor", 1, 30 * time.Second, 30 * time.Second, 30 * time.Second},
		{"Retry-After below the jitter ceiling", 6, 5 * time.Second, 5 * time.Second, 32 * time.Second},
		{"Retry-After above the cap is honoured", 12, 20 * time.Minute, 20 * time.Minute, 20 * time.Minute},
		{"absurd Retry-After is bounded", 1, 48 * time.Hour, MaxRetryAfter, MaxRetryAfter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lo, hi time.Duration = 1 << 62, 0
			for range 500 {
				d := Backoff(tt.attempt, tt.retryAfter)
				if d < tt.min || d > tt.max {
					t.Fatalf("Backoff(%d, %s) = %s, want within [%s, %s]", tt.attempt, tt.retryAfter, d, tt.min, tt.max)
				}
				lo, hi = min(lo, d), max(hi, d)
			}
			// Full jitter spreads over the whole range (500 draws: the odds of failing are nil).
			if tt.retryAfter == 0 && (lo > tt.max/4 || hi < tt.max*3/4) {
				t.Errorf("draws within [%s, %s]: not spread over [0, %s]", lo, hi, tt.max)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 2, 8, 30, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-3", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"999999999", MaxRetryAfter},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
