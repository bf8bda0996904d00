package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"github.com/redis/go-redis/v9"

	notifyv1 "hqconnect/gen/hqconnect/notify/v1"
	"hqconnect/gen/hqconnect/notify/v1/notifyv1connect"
	"hqconnect/internal/auth"
	"hqconnect/internal/ids"
)

// streamsResult is the memory of one server process holding idle streams.
type streamsResult struct {
	Streams               int
	RSSBefore, RSSAfter   int64 // bytes
	HeapBefore, HeapAfter float64
	Goroutines            [2]float64
	Took                  time.Duration
}

// benchStreams starts `hqconnect serve` as a child process on real Redis,
// opens n WatchUpdates streams for n distinct users (sessions created directly
// in Redis with the server's signing key, so no n logins), and reads the
// child's resident memory before and after from /proc.
func benchStreams(ctx context.Context, redisURL string, n int) (res streamsResult, err error) {
	res.Streams = n
	tmp, err := os.MkdirTemp("", "hqbench-streams")
	if err != nil {
		return
	}
	defer os.RemoveAll(tmp)
	keyPEM, err := auth.GenerateKeyPEM()
	if err != nil {
		return
	}
	keyFile := filepath.Join(tmp, "jwt.pem")
	if err = os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return
	}
	prefix := "hqbench:" + ids.Secret(6) + ":"
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	defer func() {
		iter := rdb.Scan(context.Background(), 0, prefix+"*", 1000).Iterator()
		for iter.Next(context.Background()) {
			rdb.Del(context.Background(), iter.Val())
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return
	}
	addr := ln.Addr().String()
	ln.Close()

	exe, err := os.Executable()
	if err != nil {
		return
	}
	cmd := exec.CommandContext(ctx, exe, "serve")
	cmd.Env = append(os.Environ(), "HQ_VAR_DIR="+tmp, "HQ_ADDR="+addr, "REDIS_URL="+redisURL,
		"HQ_REDIS_PREFIX="+prefix, "JWT_KEY_FILE="+keyFile, "HQ_LOG_LEVEL=error", "DATABASE_URL=")
	cmd.Stderr = os.Stderr
	if err = cmd.Start(); err != nil {
		return
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	base := "http://" + addr
	if err = waitReady(ctx, base+"/readyz", 30*time.Second); err != nil {
		return
	}
	res.RSSBefore, _ = processRSS(cmd.Process.Pid)
	res.HeapBefore, _ = scrapeMetric(base, "go_memstats_heap_inuse_bytes")
	res.Goroutines[0], _ = scrapeMetric(base, "go_goroutines")

	kr, err := auth.LoadKeyring(keyFile)
	if err != nil {
		return
	}
	sessions := auth.NewSessions(rdb, auth.NewTokens(kr, auth.TokenConfig{}), auth.SessionConfig{Prefix: prefix})
	tokens := make([]string, n)
	for i := range tokens {
		pair, cerr := sessions.Create(ctx, auth.Principal{UserID: ids.New(), Kind: auth.KindEnterpriseUser,
			Roles: []string{auth.RoleStaff}, EnterpriseID: "bench", EnterpriseVerified: true}, "bench", "127.0.0.1")
		if cerr != nil {
			return res, cerr
		}
		tokens[i] = pair.AccessToken
	}

	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	hc := &http.Client{Transport: &http.Transport{Protocols: p}}
	client := notifyv1connect.NewNotificationServiceClient(hc, base)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for _, tok := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := connect.NewRequest(&notifyv1.WatchUpdatesRequest{})
			req.Header().Set("Authorization", "Bearer "+tok)
			stream, err := client.WatchUpdates(sctx, req)
			if err != nil {
				return
			}
			for stream.Receive() {
			}
			_ = stream.Close()
		}()
	}
	// Each open stream holds goroutines on the server: wait for all of them.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		g, _ := scrapeMetric(base, "go_goroutines")
		if g >= res.Goroutines[0]+float64(n) {
			res.Goroutines[1] = g
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("only %.0f server goroutines after 2 min (started with %.0f): streams did not all open", g, res.Goroutines[0])
		}
		time.Sleep(200 * time.Millisecond)
	}
	res.Took = time.Since(start)
	res.RSSAfter, _ = processRSS(cmd.Process.Pid)
	res.HeapAfter, _ = scrapeMetric(base, "go_memstats_heap_inuse_bytes")
	cancel()
	wg.Wait()
	return res, nil
}

func waitReady(ctx context.Context, url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v", url, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// processRSS reads VmRSS of pid from /proc.
func processRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// scrapeMetric reads one unlabelled sample from a Prometheus /metrics page.
func scrapeMetric(base, name string) (float64, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(rest), 64)
		}
	}
	return 0, fmt.Errorf("metric %s not found", name)
}
