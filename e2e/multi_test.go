package e2e

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/db"
	"github.com/kassa-pay/kassa/db/dbtest"
)

// The multi-instance test runs Kassa as an operator would behind a load balancer: one shared
// `kassa sandbox serve`, three `kassa serve` on one fresh PostgreSQL database, and a
// round-robin reverse proxy in front of them, so that a shopper's successive requests land on
// different instances.

// balancer is a tiny round-robin reverse proxy. Every answer names the instance that gave it
// (X-Test-Instance), and counts per instance let a test see the load was spread. A request
// naming its shopper (X-Test-Shopper, as httpShopper's do) goes to the instance after the one
// that shopper's previous request went to: with several shoppers at once, one shared rotation
// could hand all of one shopper's requests to the same instance.
type balancer struct {
	mu       sync.Mutex
	backends []*url.URL
	down     []bool
	next     int
	last     map[string]int // shopper → the instance of its previous request
	served   []int
	// posts counts the POSTs each instance is answering; postDone is signalled when one ends.
	posts    []int
	postDone sync.Cond
	// beforeForward, when set, is called with the instance chosen for each request.
	beforeForward func(i int, r *http.Request)
	// failovers counts requests an instance failed (then retried elsewhere, or 502).
	failovers atomic.Int32
}

func (b *balancer) add(u *url.URL) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.postDone.L = &b.mu
	if b.last == nil {
		b.last = map[string]int{}
	}
	b.backends = append(b.backends, u)
	b.down = append(b.down, false)
	b.served = append(b.served, 0)
	b.posts = append(b.posts, 0)
}

// markDown takes instance i out of the rotation, as a load balancer's health check would.
func (b *balancer) markDown(i int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.down[i] = true
}

// drainPOSTs takes instance i out of the rotation and waits until it has answered the POSTs
// it was handed, but own (the caller's own request, if it is one of them).
func (b *balancer) drainPOSTs(i, own int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.down[i] = true
	for b.posts[i] > own {
		b.postDone.Wait()
	}
}

func (b *balancer) pick(r *http.Request) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	shopper := r.Header.Get("X-Test-Shopper")
	last, known := b.last[shopper]
	for range b.backends {
		var i int
		if known {
			last++
			i = last % len(b.backends)
		} else {
			i = b.next % len(b.backends)
			b.next++
		}
		if !b.down[i] {
			if shopper != "" {
				b.last[shopper] = i
			}
			b.served[i]++
			if r.Method == http.MethodPost {
				b.posts[i]++
			}
			return i
		}
	}
	return -1
}

// answered records that instance i finished answering r.
func (b *balancer) answered(i int, r *http.Request) {
	if r.Method != http.MethodPost {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.posts[i]--
	b.postDone.Broadcast()
}

// counts returns how many requests each instance has served so far.
func (b *balancer) counts() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int(nil), b.served...)
}

func (b *balancer) setBeforeForward(f func(i int, r *http.Request)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.beforeForward = f
}

// ServeHTTP forwards r to the next instance. An instance that cannot be reached is taken out
// of the rotation; a GET it failed is sent to the next one (the request was not acted on, or
// is safe to repeat), anything else answers 502 and the client decides, as behind a real
// load balancer.
func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := b.pick(r)
	if i < 0 {
		http.Error(w, "no instance up", http.StatusBadGateway)
		return
	}
	defer b.answered(i, r)
	b.mu.Lock()
	before := b.beforeForward
	b.mu.Unlock()
	if before != nil {
		before(i, r)
	}
	proxy := &httputil.ReverseProxy{
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			b.failovers.Add(1)
			b.markDown(i)
			if r.Method == http.MethodGet {
				b.ServeHTTP(w, r)
				return
			}
			http.Error(w, "instance failed: "+err.Error(), http.StatusBadGateway)
		},
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(b.backends[i])
			pr.Out.Host = pr.In.Host
		},
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Set("X-Test-Instance", strconv.Itoa(i))
			return nil
		},
	}
	proxy.ServeHTTP(w, r)
}

// cluster is the running setup.
type cluster struct {
	*kassa    // the merchant's view: URL is the load balancer's
	lb        *balancer
	dbURL     string
	store     *db.DB
	instances []*process
}

const clusterRateLimit = 40

func startCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{lb: &balancer{}, dbURL: dbtest.NewDatabase(t)}
	front := httptest.NewServer(c.lb)
	t.Cleanup(front.Close)

	sandbox := spawn(t, "sandbox", nil, "sandbox", "serve", "--addr", "127.0.0.1:0", "--kassa-url", front.URL)
	sandboxURL := sandbox.waitFor(t, regexp.MustCompile(`KASSA_SANDBOX_URL=(http://\S+)`), 30*time.Second)[1]

	out := cli(t, "apps", "create", "--db", c.dbURL, "--name", "Multi shop")
	clientID := regexp.MustCompile(`"clientId":"([^"]+)"`).FindSubmatch(out)
	if clientID == nil {
		t.Fatalf("apps create printed %s", out)
	}
	c.kassa = &kassa{URL: front.URL, client: string(clientID[1])}
	c.token = strings.TrimSpace(string(cli(t, "tokens", "create", "--db", c.dbURL, "--client-id", c.client, "--scope", "*")))

	// The three start at once: their migrations and first-start settings must not race. Each
	// listens on a port chosen just before (it prints the load balancer's URL, not its own):
	// should another process take that port in between, the instance is started again on
	// another one.
	env := []string{"KASSA_DATABASE_URL=" + c.dbURL, "KASSA_SANDBOX_URL=" + sandboxURL, "KASSA_BASE_URL=" + front.URL,
		"KASSA_API_RATE_LIMIT=" + strconv.Itoa(clusterRateLimit), "KASSA_CLAIM_LEASE=5s", "KASSA_RECONCILE_EVERY=500ms",
		// Every shopper here comes from loopback: the per-address limit of the public pages
		// would count them all as one visitor (it has its own tests).
		"KASSA_PUBLIC_RATE_LIMIT=0"}
	addrs := make([]string, 3)
	spawnInstance := func(i int) *process {
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		return spawn(t, "kassa "+addrs[i], env, "serve", "--addr", addrs[i])
	}
	for i := range addrs {
		c.instances = append(c.instances, spawnInstance(i))
	}
	for i := range addrs {
		for try := 0; ; try++ {
			_, err := c.instances[i].await(listening, 30*time.Second)
			if err == nil {
				break
			}
			if try == 2 || !strings.Contains(c.instances[i].output(), "address already in use") {
				t.Fatal(err)
			}
			c.instances[i] = spawnInstance(i)
		}
		u, _ := url.Parse("http://" + addrs[i])
		c.lb.add(u)
	}
	var err error
	if c.store, err = db.Open(context.Background(), c.dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.store.Close() })
	return c
}

// paidEvents counts the payment's payment.paid events in the shared database.
func (c *cluster) paidEvents(t *testing.T, paymentID string) int {
	t.Helper()
	evs, err := c.store.Events(context.Background(), paymentID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type == checkout.EventPaymentPaid {
			n++
		}
	}
	return n
}

// httpShopper is a browser reduced to a cookie jar: it follows no redirect by itself, and
// remembers which instances answered it.
type httpShopper struct {
	id        string
	client    *http.Client
	mu        sync.Mutex
	instances map[string]bool
}

// shoppers numbers httpShoppers for the balancer (X-Test-Shopper).
var shoppers atomic.Int64

func newHTTPShopper() *httpShopper {
	jar, _ := cookiejar.New(nil)
	return &httpShopper{id: strconv.FormatInt(shoppers.Add(1), 10), instances: map[string]bool{},
		client: &http.Client{Jar: jar, Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (s *httpShopper) do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	req.Header.Set("X-Test-Shopper", s.id)
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if i := resp.Header.Get("X-Test-Instance"); i != "" {
		s.mu.Lock()
		s.instances[i] = true
		s.mu.Unlock()
	}
	return resp, string(body)
}

var (
	csrfField  = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)
	formAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
)

// choose opens the checkout page and submits it with provider picked; it returns the
// provider's pay page the shopper is sent to. A submission the load balancer answers 502 (its
// instance died) is made again from the page, as a shopper would press Pay again.
func (s *httpShopper) choose(t *testing.T, checkoutURL, provider string) string {
	t.Helper()
	for range 3 {
		if payPage := s.tryChoose(t, checkoutURL, provider); payPage != "" {
			return payPage
		}
	}
	t.Fatalf("choosing %s: the load balancer kept answering 502", provider)
	return ""
}

func (s *httpShopper) tryChoose(t *testing.T, checkoutURL, provider string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", checkoutURL, nil)
	resp, page := s.do(t, req)
	token, action := csrfField.FindStringSubmatch(page), formAction.FindStringSubmatch(page)
	if resp.StatusCode != 200 || token == nil || action == nil {
		t.Fatalf("checkout page: %d, no form:\n%s", resp.StatusCode, page)
	}
	target, _ := resp.Request.URL.Parse(html.UnescapeString(action[1]))
	form := url.Values{"provider": {provider}, "csrf_token": {html.UnescapeString(token[1])}}
	req, _ = http.NewRequest("POST", target.String(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, body := s.do(t, req)
	if resp.StatusCode == http.StatusBadGateway {
		return ""
	}
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("choosing %s: %d\n%s", provider, resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}

// follow visits u and the redirects after it, as a browser would, and returns the last page.
func (s *httpShopper) follow(t *testing.T, u string) string {
	t.Helper()
	for range 10 {
		req, _ := http.NewRequest("GET", u, nil)
		resp, body := s.do(t, req)
		if resp.StatusCode < 300 || resp.StatusCode >= 400 {
			return body
		}
		next, _ := resp.Request.URL.Parse(resp.Header.Get("Location"))
		u = next.String()
	}
	t.Fatalf("too many redirects from %s", u)
	return ""
}

var providerCurrencies = []struct{ id, name, currency string }{
	{"onecheckout", "Onecheckout", "USD"},
	{"enkash", "EnKash", "INR"},
	{"kspay", "KS Pay", "INR"},
	{"onekhusa", "OneKhusa", "MWK"},
}

func TestSeveralInstancesBehindALoadBalancer(t *testing.T) {
	t.Parallel()
	c := startCluster(t)

	t.Run("instances starting together set up once", func(t *testing.T) {
		apps := string(cli(t, "apps", "list", "--db", c.dbURL))
		if n := strings.Count(apps, `"Demo store"`); n != 1 {
			t.Fatalf("%d demo store applications after three first starts, want 1:\n%s", n, apps)
		}
	})

	t.Run("every shopper ends on Thank you", func(t *testing.T) {
		// Over HTTP, several shoppers at once, each bouncing between instances.
		var wg sync.WaitGroup
		for i, pc := range append(providerCurrencies, providerCurrencies...) {
			p := c.createPayment(t, int64(10000+i), pc.currency)
			wg.Go(func() {
				s := newHTTPShopper()
				payPage := s.choose(t, p.CheckoutURL, pc.id)
				back := completeOverHTTP(t, payPage, "pay")
				if page := s.follow(t, back); !strings.Contains(page, "Thank you") {
					t.Errorf("%s shopper did not end on Thank you:\n%s", pc.name, page)
				}
				if len(s.instances) < 2 {
					t.Errorf("%s shopper's requests all reached instance %v", pc.name, s.instances)
				}
			})
		}
		wg.Wait()

		// And one shopper in a real browser, every request of it (pages, styles) going round.
		p := c.createPayment(t, 4321, "USD")
		before := c.lb.counts()
		ctx := tab(t)
		do(t, ctx, chromedp.Navigate(p.CheckoutURL), chooseProvider("Onecheckout"), pressOnProvider("Pay"))
		waitHeading(t, ctx, "Thank you")
		spread := 0
		for i, n := range c.lb.counts() {
			if n > before[i] {
				spread++
			}
		}
		if spread < 2 {
			t.Fatalf("the browser's requests reached %d instance(s)", spread)
		}
		if n := c.paidEvents(t, p.ID); n != 1 {
			t.Fatalf("%d payment.paid events, want 1", n)
		}
	})

	t.Run("racing returns across instances pay once", func(t *testing.T) {
		var payments []string
		var returns []string
		for i := range 5 {
			pc := providerCurrencies[i%len(providerCurrencies)]
			p := c.createPayment(t, int64(20000+i), pc.currency)
			payPage := newHTTPShopper().choose(t, p.CheckoutURL, pc.id)
			payments, returns = append(payments, p.ID), append(returns, completeOverHTTP(t, payPage, "pay"))
		}
		var wg sync.WaitGroup
		for _, back := range returns {
			for range 20 {
				wg.Go(func() {
					if page := newHTTPShopper().follow(t, back); !strings.Contains(page, "Thank you") {
						t.Errorf("a racing return did not end on Thank you:\n%.300s", page)
					}
				})
			}
		}
		wg.Wait()
		for _, id := range payments {
			if n := c.paidEvents(t, id); n != 1 {
				t.Errorf("payment %s: %d payment.paid events from 20 racing returns, want 1", id, n)
			}
		}
	})

	t.Run("the API rate limit is one limit across instances", func(t *testing.T) {
		// A token of its own, so the other subtests' calls do not count. The limit is per
		// one-minute window; should the burst straddle two windows, it is sent again.
		for try := 0; ; try++ {
			token := strings.TrimSpace(string(cli(t, "tokens", "create", "--db", c.dbURL, "--client-id", c.client, "--scope", "*")))
			statuses := map[int]int{}
			resets := map[string]bool{}
			limited := map[string]bool{}
			for range clusterRateLimit + 20 {
				req, _ := http.NewRequest("GET", c.URL+"/api/payment/pay_nothing_here", nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				statuses[resp.StatusCode]++
				resets[resp.Header.Get("X-RateLimit-Reset")] = true
				if resp.StatusCode == http.StatusTooManyRequests {
					limited[resp.Header.Get("X-Test-Instance")] = true
				}
			}
			if len(resets) > 1 && try == 0 {
				continue
			}
			if statuses[http.StatusNotFound] != clusterRateLimit || statuses[http.StatusTooManyRequests] != 20 {
				t.Fatalf("%d requests through 3 instances with a limit of %d: %v", clusterRateLimit+20, clusterRateLimit, statuses)
			}
			if len(limited) != 3 {
				t.Fatalf("429s came from instances %v, want all three", limited)
			}
			return
		}
	})

	t.Run("abandoned payments converge once, with an instance killed", func(t *testing.T) {
		// Shoppers pay at the provider and never come back: only the background work of
		// the instances can find out, and it must do so once per payment. (Onecheckout and
		// KS Pay send no callback here, so nothing else will.)
		var abandoned []string
		for i := range 6 {
			pc := providerCurrencies[[]int{0, 2}[i%2]]
			p := c.createPayment(t, int64(30000+i), pc.currency)
			payPage := newHTTPShopper().choose(t, p.CheckoutURL, pc.id)
			completeOverHTTP(t, payPage, "pay")
			abandoned = append(abandoned, p.ID)
		}
		// An instance claims the abandoned attempts' checks and dies before doing them: the
		// test plays that instance, claiming them ahead of time with a short lease, then going
		// away. Their first check is due 20 s after they were made (a constant of the domain);
		// the test moves it to 5 s from now, as if the time had passed, rather than wait. It
		// stays in the future, so the live instances cannot take the checks before the claim.
		ctx := context.Background()
		due := time.Now().Add(5 * time.Second)
		for _, id := range abandoned {
			p, err := c.store.FindPayment(ctx, id)
			if err != nil || len(p.Attempts) != 1 {
				t.Fatalf("abandoned payment %s: %v, %d attempts", id, err, len(p.Attempts))
			}
			a := p.Attempts[0]
			if err := c.store.Apply(ctx, checkout.Change{Attempt: &checkout.AttemptChange{ID: a.ID, From: []checkout.AttemptStatus{a.Status},
				To: a.Status, Checks: -1, NextCheckAt: due, At: time.Now()}}); err != nil {
				t.Fatalf("moving the first check of attempt %s: %v", a.ID, err)
			}
		}
		dead, err := db.Open(ctx, c.dbURL)
		if err != nil {
			t.Fatal(err)
		}
		dead.Lease = 3 * time.Second
		claimed, err := dead.DueAttempts(ctx, due.Add(time.Second), 100)
		dead.Close()
		if err != nil || len(claimed) != len(abandoned) {
			t.Fatalf("the doomed instance claimed %d attempts (%v), want the %d abandoned ones", len(claimed), err, len(abandoned))
		}
		// And a real instance dies mid-run, without a chance to tidy up: the balancer kills it
		// as it hands it the fifth request of shoppers paying at the same time, then routes
		// around it. Whatever GETs it was answering, every one of those shoppers ends on
		// Thank you. The one thing it is not killed in the middle of is a POST: an instance
		// dying while it creates an attempt leaves that attempt "creating", and its shopper,
		// pressing Pay again, on the confirming page until the background work takes the
		// attempt over two minutes later (checkout's and db's tests cover that takeover). So
		// the balancer first lets the doomed instance finish the POSTs it was handed (taking
		// it out of the rotation meanwhile), and forwards the request it is handed only once
		// the process is gone.
		var handed atomic.Int32
		c.lb.setBeforeForward(func(i int, r *http.Request) {
			if i == 2 && handed.Add(1) == 5 {
				own := 0
				if r.Method == http.MethodPost {
					own = 1
				}
				c.lb.drainPOSTs(2, own)
				c.instances[2].cmd.Process.Signal(syscall.SIGKILL)
				<-c.instances[2].exited
			}
		})
		var during []apiPayment
		for i := range 8 {
			during = append(during, c.createPayment(t, int64(40000+i), providerCurrencies[i%len(providerCurrencies)].currency))
		}
		handed.Store(0)
		var wg sync.WaitGroup
		for i, p := range during {
			pc := providerCurrencies[i%len(providerCurrencies)]
			wg.Go(func() {
				s := newHTTPShopper()
				if page := s.follow(t, completeOverHTTP(t, s.choose(t, p.CheckoutURL, pc.id), "pay")); !strings.Contains(page, "Thank you") {
					t.Errorf("a %s shopper paying while an instance died did not end on Thank you:\n%.300s", pc.name, page)
				}
			})
		}
		wg.Wait()
		if handed.Load() < 5 {
			t.Fatalf("the instance was handed %d requests and never killed", handed.Load())
		}
		c.lb.setBeforeForward(nil)
		t.Logf("requests the dying instance failed: %d", c.lb.failovers.Load())

		// The claims run out 9 s after they were made; then the two live instances'
		// background work takes the checks over.
		deadline := time.Now().Add(2 * time.Minute)
		for _, id := range abandoned {
			for {
				got, err := c.store.FindPayment(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				if got.Status == checkout.PaymentPaid {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("abandoned payment %s still %s: the background work did not converge it", id, got.Status)
				}
				time.Sleep(250 * time.Millisecond)
			}
		}
		for _, p := range during {
			abandoned = append(abandoned, p.ID)
		}
		for _, id := range abandoned {
			if n := c.paidEvents(t, id); n != 1 {
				t.Errorf("payment %s: %d payment.paid events, want 1", id, n)
			}
		}
	})
}
