package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	onecheckoutsandbox "github.com/kassa-pay/kassa/providers/onecheckout/sandbox"
)

// lockedBuffer is an io.Writer safe to read while serve writes to it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.WriteString(string(p))
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// kassaEnvNames are every KASSA_ setting of the test process, cleared so that the machine's
// environment cannot decide sandbox mode.
func clearKassaEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "KASSA_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

// served is a `kassa serve` running in this process.
type served struct {
	url    string
	stdout *lockedBuffer
	stderr *lockedBuffer
	db     string
}

var listening = regexp.MustCompile(`Kassa is listening on (http://\S+)`)

// serveKassa runs `kassa serve` on a free port with a fresh database and the environment as
// the test left it, and stops it when the test ends.
func serveKassa(t *testing.T, args ...string) *served {
	t.Helper()
	s := &served{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, db: "sqlite:" + filepath.Join(t.TempDir(), "k.db")}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", s.db}, args...), s.stdout, s.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("kassa serve did not stop")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("kassa serve ended: %v\n%s", err, s.stderr)
		default:
		}
		if m := listening.FindStringSubmatch(s.stdout.String()); m != nil {
			s.url = m[1]
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("kassa serve did not start:\n%s", s.stderr)
	return nil
}

func (s *served) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(s.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// providerModes reads the start-up log's line per provider: id → live, simulated or off.
func (s *served) providerModes() map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s.stderr.String()))
	re := regexp.MustCompile(`msg=provider provider=(\S+) mode=(\S+)`)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			out[m[1]] = m[2]
		}
	}
	return out
}

// realOnecheckout stands in for the real Onecheckout: its simulator on a server of its own,
// which Kassa knows only by base URL and key, as it would know the real one.
func realOnecheckout(t *testing.T) {
	t.Helper()
	srv := httptest.NewServer(onecheckoutsandbox.New(onecheckoutsandbox.Config{}))
	t.Cleanup(srv.Close)
	t.Setenv("KASSA_ONECHECKOUT_API_KEY", onecheckoutsandbox.DefaultCredentials().APIKey)
	t.Setenv("KASSA_ONECHECKOUT_BASE_URL", srv.URL+"/api/v1.0")
}

// With a real Onecheckout configured and KASSA_SANDBOX unset, no simulator is mounted or
// offered, the demo store does not exist, and the log says Onecheckout is live.
func TestRealProviderMeansNoSandbox(t *testing.T) {
	clearKassaEnv(t)
	realOnecheckout(t)
	k := serveKassa(t)
	for _, path := range []string{"/sandbox/enkash/api/v0/orders/nope", "/sandbox/kspay/currencies", "/sandbox/onecheckout/api/v1.0/me",
		"/sandbox/onekhusa/phone"} {
		if status, _ := k.get(t, path); status != http.StatusNotFound {
			t.Errorf("%s answered %d: a simulator is mounted beside a real provider", path, status)
		}
	}
	if status, body := k.get(t, "/"); status != http.StatusNotFound || strings.Contains(body, "Demo store") {
		t.Errorf("the demo store answered %d outside sandbox mode", status)
	}
	want := map[string]string{"onecheckout": "live", "enkash": "off", "kspay": "off", "onekhusa": "off"}
	if got := k.providerModes(); !mapsEqual(got, want) {
		t.Errorf("start-up log lists providers %v, want %v\n%s", got, want, k.stderr)
	}

	// The checkout page of an INR payment (EnKash's and KS Pay's currency) offers no simulator.
	out, err := kassa(t, "apps", "create", "--db", k.db, "--name", "Shop")
	var app map[string]string
	if err != nil || json.Unmarshal([]byte(out), &app) != nil {
		t.Fatalf("apps create: %v %s", err, out)
	}
	tok, err := kassa(t, "tokens", "create", "--db", k.db, "--client-id", app["clientId"], "--scope", "*")
	if err != nil {
		t.Fatal(err)
	}
	for _, cur := range []string{"INR", "USD"} {
		req, _ := http.NewRequest("POST", k.url+"/api/payment/checkout", strings.NewReader(
			`{"amount": 10000, "currencyCode": "`+cur+`", "reference": "R", "referenceLabel": "R", "clientId": "`+app["clientId"]+`"}`))
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tok))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p struct{ ID string }
		json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		_, body := k.get(t, "/checkout/"+p.ID)
		for _, sim := range []string{">EnKash<", ">KS Pay<", ">OneKhusa<", "Test mode"} {
			if strings.Contains(body, sim) {
				t.Errorf("the %s checkout page shows %q beside a real provider", cur, sim)
			}
		}
		if cur == "USD" && !strings.Contains(body, ">Onecheckout<") {
			t.Errorf("the USD checkout page does not offer the real Onecheckout:\n%s", body)
		}
	}
}

// With no real provider, sandbox mode is on by itself: every simulator is mounted, the demo
// store is open and says Test mode, and the log lists each provider as simulated.
func TestNoProviderMeansSandbox(t *testing.T) {
	clearKassaEnv(t)
	k := serveKassa(t)
	if status, body := k.get(t, "/"); status != http.StatusOK || !strings.Contains(body, "Test mode") {
		t.Fatalf("demo store in sandbox mode: %d", status)
	}
	if status, _ := k.get(t, "/sandbox/onekhusa/phone"); status != http.StatusOK {
		t.Fatalf("the OneKhusa simulator's phone: %d", status)
	}
	want := map[string]string{"onecheckout": "simulated", "enkash": "simulated", "kspay": "simulated", "onekhusa": "simulated"}
	if got := k.providerModes(); !mapsEqual(got, want) {
		t.Errorf("start-up log lists providers %v, want %v", got, want)
	}
}

// Asked for both, Kassa mixes them: the real Onecheckout stays live, the others are
// simulated, and the log says which is which.
func TestSandboxAskedForBesideARealProvider(t *testing.T) {
	clearKassaEnv(t)
	realOnecheckout(t)
	t.Setenv("KASSA_SANDBOX", "true")
	k := serveKassa(t)
	want := map[string]string{"onecheckout": "live", "enkash": "simulated", "kspay": "simulated", "onekhusa": "simulated"}
	if got := k.providerModes(); !mapsEqual(got, want) {
		t.Errorf("start-up log lists providers %v, want %v", got, want)
	}
	if status, _ := k.get(t, "/sandbox/onecheckout/api/v1.0/me"); status != http.StatusNotFound {
		t.Errorf("the simulator of the live Onecheckout is mounted: %d", status)
	}
	if status, _ := k.get(t, "/sandbox/onekhusa/phone"); status != http.StatusOK {
		t.Errorf("the OneKhusa simulator's phone: %d", status)
	}
}

// A real credential without the rest of a provider's settings is refused at start.
func TestPartlyConfiguredProviderRefused(t *testing.T) {
	clearKassaEnv(t)
	t.Setenv("KASSA_ENKASH_ACCESS_KEY", "ak_live_x")
	_, err := kassa(t, "serve", "--addr", "127.0.0.1:0", "--db", "sqlite:"+filepath.Join(t.TempDir(), "k.db"))
	if err == nil || !strings.Contains(err.Error(), "partly configured") {
		t.Fatalf("serve with half of EnKash's settings: %v", err)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// --trusted-proxies takes IP addresses and CIDR ranges only.
func TestTrustedProxiesParsed(t *testing.T) {
	got, err := trustedProxies(" 10.0.0.0/8, 192.168.1.5 ,,2001:db8::/32")
	if err != nil || len(got) != 3 || got[0] != "10.0.0.0/8" || got[1] != "192.168.1.5" {
		t.Fatalf("trustedProxies: %v %v", got, err)
	}
	if _, err := trustedProxies("proxy.internal"); err == nil {
		t.Fatal("a host name was accepted as a trusted proxy")
	}
}
