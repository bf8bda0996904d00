package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"hqconnect/notify/fcm"
	"hqconnect/notify/fcmfake"
)

// fakeFCM starts the fake FCM server on loopback, keeping counters only.
func fakeFCM(latency time.Duration) (*fcmfake.Server, string, func(), error) {
	fake := fcmfake.New()
	fake.SetKeepMessages(false)
	fake.SetLatency(latency)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", nil, err
	}
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return fake, "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// fanoutResult is one large send.
type fanoutResult struct {
	Tokens   int
	Took     time.Duration
	Requests int
	Accepted int
}

func (f fanoutResult) rate() float64 { return float64(f.Tokens) / f.Took.Seconds() }

// benchFanout hands a notice to n device tokens through the real FCM SDK
// (fcm.FCMSender: chunks of 500, SendEachForMulticast) against the fake, and,
// as the baseline, posts the same number of minimal messages:send requests
// with a plain net/http client at the same concurrency (4 calls × 50). A
// topic send is checked to cost one request.
func benchFanout(ctx context.Context, n int) (sdk, raw fanoutResult, topicRequests int, err error) {
	fake, url, stop, err := fakeFCM(0)
	if err != nil {
		return
	}
	defer stop()
	sender, err := fcm.NewFCMSender(ctx, fcm.Config{ProjectID: "bench", Endpoint: url})
	if err != nil {
		return
	}
	defer sender.Close()
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = "bench-token-" + strconv.Itoa(i)
	}
	push := fcm.Push{Tokens: tokens, Title: "Thông báo mới về thủ tục hải quan",
		Body:     "Thông tư số 121/2025/TT-BTC sửa đổi, bổ sung quy định về thủ tục hải quan có hiệu lực từ ngày 01/02/2026.",
		Data:     map[string]string{"kind": "notice", "id": "01a2bench"},
		Critical: false, CollapseKey: "notice:01a2bench"}

	before := fake.Requests()
	start := time.Now()
	results, err := sender.Send(ctx, push)
	if err != nil {
		return
	}
	sdk = fanoutResult{Tokens: n, Took: time.Since(start), Requests: fake.Requests() - before}
	for _, r := range results {
		if r.Status == fcm.StatusAccepted {
			sdk.Accepted++
		}
	}

	// Baseline: the same number of requests, minimal bodies, plain HTTP.
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
	var next atomic.Int64
	var accepted atomic.Int64
	var wg sync.WaitGroup
	before = fake.Requests()
	start = time.Now()
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				body := `{"message":{"token":"` + tokens[i] + `","notification":{"title":"t","body":"b"}}}`
				resp, err := client.Post(url+"/v1/projects/bench/messages:send", "application/json", bytes.NewBufferString(body))
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					accepted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	raw = fanoutResult{Tokens: n, Took: time.Since(start), Requests: fake.Requests() - before, Accepted: int(accepted.Load())}

	before = fake.Requests()
	tp := push
	tp.Tokens, tp.Topic = nil, "all_vi"
	if _, err = sender.Send(ctx, tp); err != nil {
		return
	}
	topicRequests = fake.Requests() - before
	if sdk.Accepted != n {
		err = fmt.Errorf("only %d of %d tokens accepted", sdk.Accepted, n)
	}
	return
}
