package main

import "context"

// benchClearance measures declaration ingest and listing and returns its
// BENCHMARKS.md sections.
func benchClearance(ctx context.Context, e benchEnv) ([]string, error) { return nil, nil }
