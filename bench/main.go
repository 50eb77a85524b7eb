// Command bench measures Kassa's whole checkout under load, beside a floor, in one run:
//
//	go run ./bench [-kassa bin/kassa] [-levels 1,8,64] [-rounds 3] [-warmup 1s] [-measure 3s] [-out bench/results.json]
//	go run ./bench -postgres postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable [-instances 2] -out …
//
// With -postgres, Kassa runs on a fresh PostgreSQL database made on that server (and dropped
// afterwards) instead of SQLite; with -instances N, N Kassa processes share it behind a
// round-robin proxy in the bench process, and their CPU is summed. The floor is the same
// SQLite floor in every run, so the ratios compare across runs.
//
// It starts bin/kassa (SQLite in a temporary directory, sandbox providers) on a free loopback
// port and drives complete checkouts over HTTP (merchant API create, checkout page, choice of
// provider, the provider's pay page, Pay, the return and its server-side verification, the
// thank-you page) with a cookie jar per shopper, at each level of concurrent shoppers. The
// floor, a bare net/http server doing the same HTTP round trips and SQLite writes, runs the
// same load in the same run, so Kassa's throughput is reported as a ratio of it. Then it
// weighs the checkout and thank-you pages in headless Chromium and reads the server's peak
// RSS, start-up time and binary size. It prints one table and writes the figures as JSON.
//
// Every load is on 127.0.0.1 and bounded in time and in count. `make bench` runs it.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kassa-pay/kassa/db"
)

type config struct {
	kassa    string
	chromium string
	levels   []int
	rounds   int
	warmup   time.Duration
	measure  time.Duration
	starts   int
	out      string
	limit    time.Duration
	keep     bool
	// postgres, when set, is the server Kassa's database is made on; instances is how many
	// Kassa processes share it.
	postgres  string
	instances int
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == floorCommand {
		os.Exit(runFloorServer(os.Args[2:]))
	}
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if res.failures() > 0 {
		fmt.Fprintf(os.Stderr, "bench: %d checkouts failed (see the errors above and in %s)\n", res.failures(), cfg.out)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	var c config
	var levels string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&c.kassa, "kassa", "bin/kassa", "the Kassa binary (make build)")
	fs.StringVar(&c.chromium, "chromium", "/usr/bin/chromium", "Chromium, for the page weights")
	fs.StringVar(&levels, "levels", "1,8,64", "concurrent shoppers, comma-separated")
	fs.IntVar(&c.rounds, "rounds", 3, "rounds per level, each a turn of Kassa and a turn of the floor")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "warm-up of each turn, not measured")
	fs.DurationVar(&c.measure, "measure", 3*time.Second, "measured time of each turn")
	fs.IntVar(&c.starts, "starts", 5, "start-ups to time (the median is reported)")
	fs.StringVar(&c.out, "out", "bench/results.json", "where to write the results")
	fs.DurationVar(&c.limit, "limit", 150*time.Second, "the longest the whole run may take")
	fs.BoolVar(&c.keep, "keep", false, "keep the temporary directory (databases, logs)")
	fs.StringVar(&c.postgres, "postgres", "", "run Kassa on a fresh database on this PostgreSQL server instead of SQLite")
	fs.IntVar(&c.instances, "instances", 1, "Kassa processes sharing the database behind a round-robin proxy (needs -postgres when more than 1)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	for _, f := range strings.Split(levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 512 {
			return c, fmt.Errorf("-levels: %q is not a number of shoppers from 1 to 512", f)
		}
		c.levels = append(c.levels, n)
	}
	if c.instances < 1 || c.instances > 8 || (c.instances > 1 && c.postgres == "") {
		return c, errors.New("-instances must be from 1 to 8, and more than 1 needs -postgres")
	}
	if c.starts < 1 || c.starts > 20 {
		return c, errors.New("-starts must be from 1 to 20")
	}
	if c.rounds < 1 || c.warmup < 0 || c.measure <= 0 || time.Duration(len(c.levels)*2*c.rounds)*(c.warmup+c.measure) > c.limit {
		return c, fmt.Errorf("-levels × -rounds × 2 × (-warmup + -measure) must fit in -limit %s", c.limit)
	}
	return c, nil
}

func run(ctx context.Context, cfg config) (*results, error) {
	began := time.Now()
	ctx, cancel := context.WithTimeout(ctx, cfg.limit)
	defer cancel()
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "[%5.1fs] "+format+"\n", append([]any{time.Since(began).Seconds()}, args...)...)
	}

	bin, err := filepath.Abs(cfg.kassa)
	if err != nil {
		return nil, err
	}
	info, err := os.Stat(bin)
	if err != nil {
		return nil, fmt.Errorf("%w (run make build)", err)
	}
	dir, err := os.MkdirTemp("", "kassa-bench-")
	if err != nil {
		return nil, err
	}
	if cfg.keep {
		logf("keeping %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	res := newResults(cfg)
	res.BinaryBytes = info.Size()

	// The provider, the merchant's application and token, and Kassa itself.
	sb, err := startProviderSandbox()
	if err != nil {
		return nil, err
	}
	defer sb.close()
	hooks, err := startHookReceiver()
	if err != nil {
		return nil, err
	}
	defer hooks.close()
	dbURL := "sqlite:" + filepath.Join(dir, "kassa.db")
	if cfg.postgres != "" {
		u, drop, err := freshPostgres(ctx, cfg.postgres)
		if err != nil {
			return nil, err
		}
		if !cfg.keep {
			defer drop()
		}
		dbURL = u
	}
	res.Database, res.Instances = strings.SplitN(dbURL, ":", 2)[0], cfg.instances
	// The application the load pays for has a webhook URL, so every checkout is announced;
	// a second one without, on the same Kassa, measures what the webhooks cost.
	clientID, token, err := merchant(bin, dbURL, hooks.url)
	if err != nil {
		return nil, err
	}
	plainClientID, plainToken, err := merchant(bin, dbURL, "")
	if err != nil {
		return nil, err
	}
	env := kassaEnv("KASSA_ONECHECKOUT_BASE_URL="+sb.url+"/api/v1.0",
		// One merchant token creates every payment of the run: no per-token API limit; and
		// every shopper comes from loopback: no per-address limit on the public pages.
		"KASSA_API_RATE_LIMIT=0", "KASSA_PUBLIC_RATE_LIMIT=0",
		// The Onecheckout client paces itself to the provider's documented 1000 requests a
		// minute and 10 in flight; these lift it to match the simulator, for a Kassa that
		// reads them (see BENCHMARKS.md).
		"KASSA_ONECHECKOUT_REQUESTS_PER_MINUTE=1000000000", "KASSA_ONECHECKOUT_MAX_CONCURRENT=1024",
		// The merchant's webhook receiver is the bench's own, on loopback.
		"KASSA_WEBHOOK_ALLOW_PRIVATE=true")
	args := []string{"serve", "--addr", "ADDR", "--db", dbURL}
	kassaLog := filepath.Join(dir, "kassa.log")
	var startups []time.Duration
	for range cfg.starts - 1 {
		s, err := startServer(bin, args, env, kassaLog)
		if err != nil {
			return nil, err
		}
		startups = append(startups, s.startup)
		s.stop()
	}
	k, err := startServer(bin, args, env, kassaLog)
	if err != nil {
		return nil, err
	}
	kassaUp := true
	fleet := &instances{servers: []*server{k}}
	defer func() {
		if kassaUp {
			fleet.stop()
		}
	}()
	startups = append(startups, k.startup)
	res.setStartups(startups)
	logf("kassa %s up; start-up %.1f ms (median of %d)", k.url, res.StartupMS, len(startups))
	for range cfg.instances - 1 {
		more, err := startServer(bin, args, env, kassaLog)
		if err != nil {
			return nil, err
		}
		fleet.servers = append(fleet.servers, more)
	}
	kassaCPU := fleet.cpuTime
	if cfg.postgres != "" {
		kassaCPU = func() time.Duration { return fleet.cpuTime() + postgresCPU() }
		res.Notes = append(res.Notes, "server CPU per checkout includes the PostgreSQL server's processes (every one on the machine)")
	}
	kassaURL := k.url
	if len(fleet.servers) > 1 {
		if kassaURL, err = fleet.balance(); err != nil {
			return nil, err
		}
		logf("%d kassa instances behind %s", len(fleet.servers), kassaURL)
	}

	// The floor, in a child process like Kassa.
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	const floorToken = "floor-bench-token"
	fl, err := startServer(self, []string{floorCommand, "--addr", "ADDR", "--db", filepath.Join(dir, "floor.db"), "--token", floorToken},
		os.Environ(), filepath.Join(dir, "floor.log"))
	if err != nil {
		return nil, err
	}
	defer fl.stop()
	logf("floor %s up", fl.url)

	kt, err := newTarget("kassa", kassaURL, token, clientID)
	if err != nil {
		return nil, err
	}
	ft, err := newTarget("floor", fl.url, floorToken, "floor")
	if err != nil {
		return nil, err
	}
	kp, err := newTarget("kassa-plain", kassaURL, plainToken, plainClientID)
	if err != nil {
		return nil, err
	}
	windows := map[int][]window{}
	largest := slices.Max(cfg.levels)
	var hooked, plain load

	// The load, level by level. Kassa and the floor take turns in short rounds, so that a
	// disturbance of the machine (another process, a slow fsync) falls on both alike.
	kassaCompleted := 0
	callsBefore := sb.apiCalls.Load()
	for _, n := range cfg.levels {
		var kl, fload load
		for round := range cfg.rounds {
			order := []*target{kt, ft}
			if round%2 == 1 {
				order = []*target{ft, kt}
			}
			if n == largest { // and the same Kassa for an application without webhooks
				order = append(order, kp)
				if round%2 == 1 {
					order = []*target{kp, ft, kt}
				}
			}
			for _, t := range order {
				if t == kt {
					from := time.Now()
					l := runLoad(ctx, kt, n, cfg.warmup, cfg.measure, kassaCPU)
					windows[n] = append(windows[n], window{from, time.Now()})
					kl.add(l)
					if n == largest {
						hooked.add(l)
					}
				} else if t == kp {
					plain.add(runLoad(ctx, kp, n, cfg.warmup, cfg.measure, kassaCPU))
				} else {
					fload.add(runLoad(ctx, ft, n, cfg.warmup, cfg.measure, fl.cpuTime))
				}
				if ctx.Err() != nil {
					return nil, fmt.Errorf("stopped during the %s run at %d shoppers: %w", t.name, n, ctx.Err())
				}
			}
		}
		for _, r := range []struct {
			name string
			l    *load
		}{{"kassa", &kl}, {"floor", &fload}} {
			sum := r.l.summary(n)
			logf("%-5s %3d shoppers: %6.1f checkouts/s, checkout p99 %6.1f ms, server CPU %.2f ms/checkout, %d failed",
				r.name, n, sum.PerSec, sum.Total.P99, sum.ServerCPUMS, sum.Failures)
			for _, e := range sum.Errors {
				logf("      error: %s", e)
			}
			res.addLevel(r.name, sum)
		}
		kassaCompleted += kl.completed
	}
	if kassaCompleted > 0 {
		res.PerCheckout.ProviderAPICalls = round(float64(sb.apiCalls.Load()-callsBefore)/float64(kassaCompleted), 2)
	}

	// Page weights: an open checkout page and the thank-you page of a paid one.
	open, err := kt.createPayment(ctx)
	if err != nil {
		return nil, fmt.Errorf("page weight: %w", err)
	}
	var d timings
	thanks, err := kt.checkout(ctx, &d)
	if err != nil {
		return nil, fmt.Errorf("page weight: %w", err)
	}
	pages, err := measurePages(cfg.chromium, dir, []namedURL{{"checkout", open.String()}, {"thankyou", thanks.String()}})
	if err != nil {
		return nil, fmt.Errorf("page weight: %w", err)
	}
	res.setPages(pages)
	logf("pages weighed: checkout %d B, thank-you %d B", res.CheckoutPageBytes, res.ThankyouPageBytes)

	// The last webhooks arrive, then their lag and cost.
	for last, still := -1, 0; still < 10; time.Sleep(100 * time.Millisecond) {
		hooks.mu.Lock()
		got := len(hooks.seen)
		hooks.mu.Unlock()
		if got == last {
			still++
		} else {
			last, still = got, 0
		}
	}
	res.Webhooks.LagMS = map[string]quantiles{}
	for n, ws := range windows {
		res.Webhooks.LagMS[strconv.Itoa(n)] = quantilesOf(hooks.lagsDuring(ws))
	}
	hs, ps := hooked.summary(largest), plain.summary(largest)
	res.Webhooks.HookedCPUMS, res.Webhooks.PlainCPUMS = hs.ServerCPUMS, ps.ServerCPUMS
	res.Webhooks.CPUMS = round(hs.ServerCPUMS-ps.ServerCPUMS, 2)
	hooks.mu.Lock()
	res.Webhooks.Received, res.Webhooks.Duplicates = len(hooks.seen), hooks.dupes
	hooks.mu.Unlock()
	logf("webhooks: lag at %d shoppers %s ms; %.2f ms CPU per checkout (%.2f with, %.2f without)",
		largest, res.Webhooks.LagMS[strconv.Itoa(largest)], res.Webhooks.CPUMS, hs.ServerCPUMS, ps.ServerCPUMS)

	// Memory, then stop Kassa and count what the checkouts wrote.
	rss, err := fleet.peakRSS()
	if err != nil {
		return nil, err
	}
	res.PeakRSSMB = round(float64(rss)/(1<<20), 1)
	fleet.stop()
	kassaUp = false
	if err := res.countWrites(ctx, dbURL); err != nil {
		return nil, err
	}
	if err := res.Webhooks.countWebhookWrites(ctx, dbURL, clientID); err != nil {
		return nil, fmt.Errorf("counting webhook writes: %w", err)
	}

	res.RunSeconds = round(time.Since(began).Seconds(), 1)
	res.evaluate()
	res.print(os.Stdout)
	if err := res.write(cfg.out); err != nil {
		return nil, err
	}
	logf("wrote %s", cfg.out)
	return res, nil
}

// countWrites checks the write count per checkout the floor copies, from what Kassa stored:
// each of Kassa's write transactions in a checkout appends at least one event.
func (r *results) countWrites(ctx context.Context, dbURL string) error {
	var d *sql.DB
	var err error
	if path, ok := strings.CutPrefix(dbURL, "sqlite:"); ok {
		d, err = sql.Open("sqlite3", "file:"+path+"?mode=ro")
	} else {
		d, err = sql.Open(db.PostgresDriverName, dbURL)
	}
	if err != nil {
		return err
	}
	defer d.Close()
	var paid, events, attempts, sessions int
	q := func(dst *int, query string) error {
		return d.QueryRowContext(ctx, query).Scan(dst)
	}
	for _, c := range []struct {
		dst   *int
		query string
	}{
		{&paid, `SELECT COUNT(*) FROM payments WHERE status = 'paid'`},
		{&events, `SELECT COUNT(*) FROM events WHERE payment_id IN (SELECT id FROM payments WHERE status = 'paid')`},
		{&attempts, `SELECT COUNT(*) FROM attempts WHERE payment_id IN (SELECT id FROM payments WHERE status = 'paid')`},
		{&sessions, `SELECT COUNT(*) FROM sessions`},
	} {
		if err := q(c.dst, c.query); err != nil {
			return fmt.Errorf("counting Kassa's writes: %w", err)
		}
	}
	if paid > 0 {
		r.PerCheckout.MeasuredEvents = round(float64(events)/float64(paid), 2)
		r.PerCheckout.MeasuredAttempts = round(float64(attempts)/float64(paid), 2)
	}
	r.PerCheckout.MeasuredSessions = sessions
	return nil
}

// machine describes where the run happened.
type machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	GoVersion string `json:"go_version"`
	Kernel    string `json:"kernel"`
	OS        string `json:"os"`
}

func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func (r *results) write(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
