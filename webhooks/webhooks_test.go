package webhooks

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The Standard Webhooks libraries' own test vectors: the Go and Python libraries' and the
// Rust library's.
func TestSignMatchesSpecVectors(t *testing.T) {
	for _, v := range []struct {
		secret, id string
		ts         int64
		body, want string
	}{
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, `{"test": 2432232314}`,
			"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
		{"whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", 1649367553,
			`{"email":"test@example.com","username":"test_user"}`, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="},
	} {
		got, err := Sign(v.id, time.Unix(v.ts, 0), []byte(v.body), []string{v.secret})
		if err != nil || got != v.want {
			t.Errorf("Sign(%s) = %q, %v; want %q", v.id, got, err, v.want)
		}
	}
	// During a rotation both signatures are sent, new first, separated by a space, and a
	// receiver holding either secret verifies the message.
	newS, oldS := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
	ts := time.Now()
	both, err := Sign("msg_1", ts, []byte(`{}`), []string{newS, oldS})
	if err != nil || len(strings.Fields(both)) != 2 {
		t.Fatalf("two secrets: %q %v", both, err)
	}
	h := http.Header{}
	h.Set("webhook-id", "msg_1")
	h.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	h.Set("webhook-signature", both)
	for _, s := range []string{newS, oldS} {
		wh, _ := standardwebhooks.NewWebhook(s)
		if err := wh.Verify([]byte(`{}`), h); err != nil {
			t.Errorf("a receiver with %s… cannot verify: %v", s[:12], err)
		}
	}
	if _, err := Sign("msg_1", ts, nil, nil); err == nil {
		t.Error("signing with no secret must fail")
	}
}

func TestCheckAddr(t *testing.T) {
	for _, c := range []struct {
		ip     string
		refuse bool
	}{
		{"127.0.0.1", true}, {"127.255.255.254", true}, {"10.1.2.3", true}, {"172.16.0.1", true}, {"172.31.255.255", true},
		{"192.168.1.1", true}, {"169.254.169.254", true}, {"100.64.0.1", true}, {"100.100.100.200", true},
		{"0.0.0.0", true}, {"224.0.0.1", true}, {"255.255.255.255", true}, {"192.0.0.192", true}, {"198.18.0.1", true},
		{"::1", true}, {"::", true}, {"fe80::1", true}, {"fc00::1", true}, {"fd00:ec2::254", true}, {"ff02::1", true},
		{"::ffff:127.0.0.1", true}, {"::ffff:7f00:1", true}, {"::ffff:169.254.169.254", true}, {"::ffff:10.0.0.1", true},
		{"::127.0.0.1", true}, {"64:ff9b::7f00:1", true}, {"64:ff9b::a9fe:a9fe", true}, {"2002:7f00:1::", true},
		{"8.8.8.8", false}, {"1.1.1.1", false}, {"172.32.0.1", false}, {"100.128.0.1", false},
		{"2001:4860:4860::8888", false}, {"::ffff:8.8.8.8", false}, {"64:ff9b::808:808", false}, {"2002:808:808::", false},
	} {
		err := CheckAddr(netip.MustParseAddr(c.ip))
		var refused *RefusedError
		if got := errors.As(err, &refused); got != c.refuse {
			t.Errorf("CheckAddr(%s) = %v, want refused %v", c.ip, err, c.refuse)
		}
	}
}

func TestCheckURL(t *testing.T) {
	for _, c := range []struct {
		url     string
		want    string // "" ok, "refused", "invalid"
		private string // with allowPrivate
	}{
		{"https://shop.example/kassa", "", ""},
		{"http://8.8.8.8/hook", "", ""},
		{"http://[2001:4860:4860::8888]:8443/hook", "", ""},
		{"http://127.0.0.1:8080/hook", "refused", ""},
		{"http://localhost/hook", "refused", ""},
		{"http://LOCALHOST./hook", "refused", ""},
		{"http://shop.localhost/hook", "refused", ""},
		{"http://metadata.google.internal/computeMetadata/v1/", "refused", ""},
		{"http://169.254.169.254/latest/meta-data/", "refused", ""},
		{"http://10.0.0.5/", "refused", ""},
		{"http://[::1]/", "refused", ""},
		{"http://[::ffff:127.0.0.1]/", "refused", ""},
		{"http://[::ffff:7f00:1]/", "refused", ""},
		{"http://[fe80::1%25eth0]/", "refused", ""},
		{"http://2130706433/", "refused", ""},          // 127.0.0.1 in decimal
		{"http://0177.0.0.1/", "refused", ""},          // octal
		{"http://0x7f.0.0.1/", "refused", ""},          // hex
		{"http://0x7f000001/", "refused", ""},          // one hex number
		{"http://127.1/", "refused", ""},               // short form
		{"http://0251.0376.0251.0376/", "refused", ""}, // 169.254.169.254 in octal
		{"http://134744072/", "invalid", ""},           // 8.8.8.8, but write it plainly
		{"ftp://shop.example/", "invalid", "invalid"},
		{"javascript:alert(1)", "invalid", "invalid"},
		{"/relative", "invalid", "invalid"},
		{"https://user:pw@shop.example/", "invalid", "invalid"},
		{"https://", "invalid", "invalid"},
	} {
		for _, allow := range []bool{false, true} {
			want := c.want
			if allow {
				want = c.private
			}
			err := CheckURL(c.url, allow)
			var refused *RefusedError
			got := ""
			switch {
			case errors.As(err, &refused):
				got = "refused"
			case errors.Is(err, ErrInvalidURL):
				got = "invalid"
			case err != nil:
				got = "other: " + err.Error()
			}
			if got != want {
				t.Errorf("CheckURL(%q, allowPrivate=%v) = %v (%s), want %q", c.url, allow, err, got, want)
			}
		}
	}
}

func TestParseLooseIPv4(t *testing.T) {
	for in, want := range map[string]string{
		"2130706433": "127.0.0.1", "0177.0.0.1": "127.0.0.1", "0x7f.1": "127.0.0.1", "127.1": "127.0.0.1",
		"10.1": "10.0.0.1", "0xA9FEA9FE": "169.254.169.254", "1.2.3.4": "1.2.3.4",
	} {
		got, ok := parseLooseIPv4(in)
		if !ok || got.String() != want {
			t.Errorf("parseLooseIPv4(%q) = %v %v, want %s", in, got, ok, want)
		}
	}
	for _, in := range []string{"shop.example", "1.2.3.4.5", "256.1.1.1", "08.1.1.1", "4294967296", "1..2", ""} {
		if got, ok := parseLooseIPv4(in); ok {
			t.Errorf("parseLooseIPv4(%q) = %v, want not an address", in, got)
		}
	}
}

// A name that resolves to a loopback address is refused when dialled, after resolution: the
// receiver on 127.0.0.1 never sees the request.
func TestDialRefusesPrivateAfterResolution(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	c := New(Config{})
	for _, u := range []string{"http://localhost:" + port + "/hook", srv.URL + "/hook", "http://[::ffff:127.0.0.1]:" + port + "/"} {
		res := c.Send(context.Background(), Message{URL: u, ID: "msg_1", Timestamp: time.Now(), Body: []byte(`{}`), Secrets: []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}})
		var refused *RefusedError
		if !errors.As(res.Err, &refused) || res.Delivered() {
			t.Errorf("%s: %+v, want refused", u, res)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the loopback receiver was reached %d times", hits.Load())
	}
	// Allowed explicitly, the same receiver is reached.
	if res := New(Config{AllowPrivate: true}).Send(context.Background(), Message{URL: "http://localhost:" + port + "/", ID: "msg_1",
		Timestamp: time.Now(), Body: []byte(`{}`), Secrets: []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}); !res.Delivered() || hits.Load() != 1 {
		t.Fatalf("with AllowPrivate: %+v", res)
	}
}

func TestSendSignsAndReadsTheAnswer(t *testing.T) {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	var redirected atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		wh, _ := standardwebhooks.NewWebhook(secret)
		if err := wh.Verify(body, r.Header); err != nil || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad signature: "+err.Error(), http.StatusBadRequest)
			return
		}
		w.Write([]byte(strings.Repeat("x", 5000)))
	})
	mux.HandleFunc("/busy", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/target", http.StatusFound) })
	mux.HandleFunc("/target", func(w http.ResponseWriter, r *http.Request) { redirected.Add(1) })
	release := make(chan struct{})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) { <-release })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer close(release)
	c := New(Config{AllowPrivate: true, Timeout: time.Second})
	send := func(path string) Result {
		return c.Send(context.Background(), Message{URL: srv.URL + path, ID: "msg_abc", Timestamp: time.Now(), Body: []byte(`{"type":"payment.paid"}`), Secrets: []string{secret}})
	}
	if r := send("/ok"); !r.Delivered() || r.Status != 200 || len(r.Response) != 1024 {
		t.Errorf("/ok: status %d err %v, %d bytes kept", r.Status, r.Err, len(r.Response))
	}
	if r := send("/busy"); r.Delivered() || r.Status != 429 || r.RetryAfter != 120*time.Second {
		t.Errorf("/busy: %+v", r)
	}
	if r := send("/down"); r.Status != 503 || r.RetryAfter < 59*time.Minute || r.RetryAfter > time.Hour {
		t.Errorf("/down: %+v", r)
	}
	if r := send("/moved"); r.Delivered() || r.Status != http.StatusFound || redirected.Load() != 0 {
		t.Errorf("/moved: %+v, target reached %d times; redirects must not be followed", r, redirected.Load())
	}
	if r := send("/slow"); r.Delivered() || r.Status != 0 || !strings.Contains(r.Err.Error(), "timed out") {
		t.Errorf("/slow: %+v", r)
	}
}
