package main

import "context"

// benchIssues measures the issue capability (FAQ search, officer queues) and
// returns its BENCHMARKS.md sections.
func benchIssues(ctx context.Context, e benchEnv) ([]string, error) { return nil, nil }
