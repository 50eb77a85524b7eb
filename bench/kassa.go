package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kassa-pay/kassa/providers/onecheckout/sandbox"
)

// server is a child process serving HTTP on loopback: Kassa or the floor.
type server struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
	log  *os.File
	// startup is the time from exec to the first 200 on /healthz.
	startup time.Duration
}

// startServer runs bin with args (in which "ADDR" stands for a free loopback address), sends
// its output to logPath, and waits for the first 200 on /healthz, polling every millisecond.
func startServer(bin string, args, env []string, logPath string) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args = append([]string(nil), args...)
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "ADDR", addr)
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	s := &server{cmd: cmd, url: "http://" + addr, done: make(chan struct{}), log: logf}
	poll := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() { cmd.Wait(); close(s.done) }()
	for deadline := began.Add(15 * time.Second); time.Now().Before(deadline); {
		resp, err := poll.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.startup = time.Since(began)
				return s, nil
			}
		}
		select {
		case <-s.done:
			logf.Close()
			return nil, fmt.Errorf("%s exited before serving: %s (log %s)", bin, cmd.ProcessState, logPath)
		case <-time.After(time.Millisecond):
		}
	}
	s.stop()
	return nil, fmt.Errorf("%s did not answer /healthz within 15s (log %s)", bin, logPath)
}

// peakRSS is the process's high-water resident set (VmHWM), in bytes.
func (s *server) peakRSS() (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(s.cmd.Process.Pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// cpuTime is the CPU time (user and system) the process has used so far.
func (s *server) cpuTime() time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(s.cmd.Process.Pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name, field 2, is in parentheses and may hold spaces: count after it.
	_, rest, ok := strings.Cut(string(b), ") ")
	if !ok {
		return 0
	}
	f := strings.Fields(rest) // f[0] is field 3, so utime (14) and stime (15) are f[11], f[12]
	if len(f) < 13 {
		return 0
	}
	user, _ := strconv.ParseInt(f[11], 10, 64)
	sys, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(user+sys) * time.Second / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every Linux platform Go
// supports.
const clockTicks = 100

// selfCPU is the CPU time (user and system) the bench process has used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// stop interrupts the process and waits for it, killing it after ten seconds.
func (s *server) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.log.Close()
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// kassaEnv is the bench's environment without any KASSA_ setting, plus extra.
func kassaEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KASSA_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// merchant creates a bench application (with a webhook URL unless it is empty) and a token
// for it with Kassa's CLI.
func merchant(bin, dbURL, webhookURL string) (clientID, token string, err error) {
	args := []string{"apps", "create", "--db", dbURL, "--name", "bench"}
	if webhookURL != "" {
		args = append(args, "--webhook-url", webhookURL)
	}
	out, err := runCLI(bin, args...)
	if err != nil {
		return "", "", err
	}
	var app struct {
		ClientID string `json:"clientId"`
	}
	if err := json.Unmarshal(out, &app); err != nil || app.ClientID == "" {
		return "", "", fmt.Errorf("apps create printed %q", out)
	}
	out, err = runCLI(bin, "tokens", "create", "--db", dbURL, "--client-id", app.ClientID, "--scope", "*", "--label", "bench")
	if err != nil {
		return "", "", err
	}
	return app.ClientID, strings.TrimSpace(string(out)), nil
}

func runCLI(bin string, args ...string) ([]byte, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = kassaEnv("KASSA_WEBHOOK_ALLOW_PRIVATE=true") // the webhook receiver is on loopback
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v: %s", bin, strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// providerSandbox is the Onecheckout simulator, served by the bench on its own loopback port
// with the documented per-key limits (1000 requests a minute, 10 in flight) lifted: with
// them, a load test measures the simulated provider's throttle, not Kassa. Kassa reaches it
// through KASSA_ONECHECKOUT_BASE_URL, as it would reach the real service.
type providerSandbox struct {
	srv      *http.Server
	url      string
	apiCalls atomic.Int64
}

func startProviderSandbox() (*providerSandbox, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	sb := sandbox.New(sandbox.Config{RequestsPerMinute: 1 << 30, MaxConcurrent: 1 << 30})
	p := &providerSandbox{url: "http://" + l.Addr().String()}
	p.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			p.apiCalls.Add(1)
		}
		sb.ServeHTTP(w, r)
	})}
	go p.srv.Serve(l)
	return p, nil
}

func (p *providerSandbox) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	p.srv.Shutdown(ctx)
}
