package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestGracefulShutdownFinishesInFlight: when the stop signal comes (ctx ends) while a request
// is in flight, the listener stops accepting, the background jobs are told to stop, the
// request still gets its whole answer, and runServer returns only after the job returned.
func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	entered, release := make(chan struct{}), make(chan struct{})
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "finished")
	})}
	jobStopped, jobRelease, jobReturned := make(chan struct{}), make(chan struct{}), make(chan struct{})
	job := func(ctx context.Context) {
		<-ctx.Done()
		close(jobStopped)
		<-jobRelease // releasing its claimed work takes a while
		close(jobReturned)
	}

	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runServer(ctx, hs, ln, 30*time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)), job)
	}()

	type answer struct {
		status int
		body   string
		err    error
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			got <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- answer{resp.StatusCode, string(b), err}
	}()
	<-entered
	stop() // as SIGTERM does

	<-jobStopped // the jobs are told to stop at once
	// New connections are refused once the listener is closed.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections after shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("runServer returned (%v) with a request in flight", err)
	default:
	}

	close(release)
	a := <-got
	if a.err != nil || a.status != 200 || a.body != "finished" {
		t.Fatalf("in-flight request: %d %q %v", a.status, a.body, a.err)
	}
	// The request is answered but the job is still releasing its work: runServer must not
	// return (its caller would close the database under the job). This only waits for a
	// wrong return; it cannot fail a correct runServer.
	select {
	case err := <-done:
		t.Fatalf("runServer returned (%v) before the background job did: the database would close under it", err)
	case <-time.After(time.Second):
	}
	close(jobRelease)
	if err := <-done; err != nil {
		t.Fatalf("runServer: %v", err)
	}
	select {
	case <-jobReturned:
	default:
		t.Fatal("runServer returned before the background job did")
	}
}

// TestServeWiring starts `kassa serve` in process: /readyz and /metrics answer with the
// breakers of every sandbox provider and the job lags, and stopping it returns cleanly.
func TestServeWiring(t *testing.T) {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--db", "sqlite:" + t.TempDir() + "/k.db", "--log-format", "json"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("serve printed nothing: %v (%v)", err, <-done)
	}
	go io.Copy(io.Discard, pr)
	base := strings.TrimSpace(strings.TrimPrefix(line, "Kassa is listening on "))

	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := get("/readyz"); status != 200 || !strings.Contains(body, `"provider":"onekhusa"`) {
		t.Fatalf("/readyz: %d %s", status, body)
	}
	_, page := get("/metrics")
	for _, want := range []string{`kassa_provider_breaker_state{provider="onecheckout"} 0`, `kassa_provider_breaker_state{provider="kspay"} 0`,
		`kassa_job_lag_seconds{job="verify"}`, `kassa_job_lag_seconds{job="expire"}`, `kassa_db_max_open_connections{pool="write"} 1`,
		`kassa_http_requests_total{method="GET",route="/readyz",status="200"}`} {
		if !strings.Contains(page, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v after stop", err)
	}
}

func TestLogFormatFlag(t *testing.T) {
	err := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--db", "sqlite:" + t.TempDir() + "/k.db", "--log-format", "xml"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--log-format") {
		t.Fatalf("an unknown log format: %v", err)
	}
}
