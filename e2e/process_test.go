package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"
)

// process is a child process of the test (kassa serve, kassa sandbox serve), with its output
// kept for a failure report and for waitFor. It is stopped with SIGINT when the test ends.
type process struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs bytes.Buffer
	// grew is closed (and replaced) whenever output arrives; exited is closed once the
	// process has exited and all of its output is in logs.
	grew   chan struct{}
	exited chan struct{}
}

// Write collects the process's stdout and stderr.
func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.logs.Write(b)
	close(p.grew)
	p.grew = make(chan struct{})
	return len(b), nil
}

// output is what the process has printed so far.
func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

func spawn(t *testing.T, name string, env []string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(binary, args...), grew: make(chan struct{}), exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait() // returns once the output is copied
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.exited:
		case <-time.After(time.Minute):
			t.Errorf("%s did not stop within a minute of SIGINT: killed", name)
			p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.exited
		}
		if t.Failed() {
			t.Logf("%s logs:\n%s", name, p.output())
		}
	})
	return p
}

// waitFor waits until the process prints a whole line matching re and returns the match's
// submatches. It fails the test at once if the process exits first, or after timeout.
func (p *process) waitFor(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	m, err := p.await(re, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// await is waitFor that returns an error (with the process's output) instead of failing.
func (p *process) await(re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	// match looks at whole lines only, so that a line still being written is not cut short.
	match := func(whole bool) []string {
		p.mu.Lock()
		defer p.mu.Unlock()
		out := p.logs.Bytes()
		if !whole {
			out = out[:bytes.LastIndexByte(out, '\n')+1]
		}
		m := re.FindSubmatch(out)
		if m == nil {
			return nil
		}
		s := make([]string, len(m))
		for i, b := range m {
			s[i] = string(b)
		}
		return s
	}
	for {
		p.mu.Lock()
		grew := p.grew
		p.mu.Unlock()
		if m := match(false); m != nil {
			return m, nil
		}
		select {
		case <-grew:
		case <-p.exited:
			if m := match(true); m != nil {
				return m, nil
			}
			return nil, fmt.Errorf("%s exited (%v) before printing %q:\n%s", p.cmd.Path, p.cmd.ProcessState, re, p.output())
		case <-deadline.C:
			return nil, fmt.Errorf("%s did not print %q within %s:\n%s", p.cmd.Path, re, timeout, p.output())
		}
	}
}

// waitHealthy waits until base answers GET /healthz with 200, asking again with a growing
// pause (10 ms up to 200 ms). Processes started with spawn are better awaited with waitFor.
func waitHealthy(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	pause := 10 * time.Millisecond
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not start: %v", base, err)
		}
		time.Sleep(pause)
		pause = min(2*pause, 200*time.Millisecond)
	}
}
