package server

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// rpcMetrics are the per-RPC metrics, for unary and streaming calls alike.
type rpcMetrics struct {
	requests *prometheus.CounterVec   // procedure, code
	duration *prometheus.HistogramVec // procedure
}

// durationBuckets run from 0.5 ms to 10 s.
var durationBuckets = []float64{
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

func newRPCMetrics(reg prometheus.Registerer) (*rpcMetrics, error) {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hqconnect_rpc_requests_total",
		Help: `RPCs handled, by procedure and final code ("ok" or a Connect code).`,
	}, []string{"procedure", "code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hqconnect_rpc_duration_seconds",
		Help:    "Time to handle an RPC (a whole stream for streaming RPCs), by procedure.",
		Buckets: durationBuckets,
	}, []string{"procedure"})
	var err error
	if requests, err = register(reg, requests); err != nil {
		return nil, err
	}
	if duration, err = register(reg, duration); err != nil {
		return nil, err
	}
	return &rpcMetrics{requests: requests, duration: duration}, nil
}

// register registers c, or returns the identical collector already
// registered (several servers may share one registry, in tests).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	var zero C
	return zero, fmt.Errorf("server: register metrics: %w", err)
}

func (m *rpcMetrics) observe(procedure, code string, d time.Duration) {
	m.requests.WithLabelValues(procedure, code).Inc()
	m.duration.WithLabelValues(procedure).Observe(d.Seconds())
}
