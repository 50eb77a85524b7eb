package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// The targets of issue 7. The benchmark reports them; nothing asserts them.
const (
	targetRatio64      = 0.50   // Kassa's checkouts/s at 64 shoppers, as a share of the floor's
	targetStepP99MS    = 20.0   // p99 of any Kassa step at 8 shoppers
	targetPageBytes    = 30_000 // checkout page, everything transferred
	targetPeakRSSMB    = 100.0
	targetStartupMS    = 200.0
	targetLevelRatio   = "64"
	targetLevelLatency = "8"
)

// results is everything one run measured; it is written to bench/results.json.
type results struct {
	GeneratedAt string  `json:"generated_at"`
	RunSeconds  float64 `json:"run_seconds"`
	Machine     machine `json:"machine"`
	// Database is Kassa's ("sqlite" or "postgres"), Instances how many Kassa processes
	// shared it behind a round-robin proxy.
	Database  string `json:"database"`
	Instances int    `json:"instances"`
	Settings  struct {
		Levels         []int   `json:"levels"`
		Rounds         int     `json:"rounds"`
		WarmupSeconds  float64 `json:"warmup_seconds"`
		MeasureSeconds float64 `json:"measure_seconds"`
	} `json:"settings"`

	// The figures issue 7 asks for, by these names.
	CheckoutsPerSec      map[string]float64 `json:"checkouts_per_sec"`
	FloorCheckoutsPerSec map[string]float64 `json:"floor_checkouts_per_sec"`
	RatioToFloor         map[string]float64 `json:"ratio_to_floor"`
	P99MS                map[string]float64 `json:"p99_ms"`
	CheckoutPageBytes    int64              `json:"checkout_page_bytes"`
	ThankyouPageBytes    int64              `json:"thankyou_page_bytes"`
	PeakRSSMB            float64            `json:"peak_rss_mb"`
	StartupMS            float64            `json:"startup_ms"`
	BinaryBytes          int64              `json:"binary_bytes"`

	// The detail behind them.
	Kassa            map[string]levelResult `json:"kassa"`
	Floor            map[string]levelResult `json:"floor"`
	FloorP99MS       map[string]float64     `json:"floor_p99_ms"`
	Pages            map[string]pageWeight  `json:"pages"`
	StartupSamplesMS []float64              `json:"startup_samples_ms"`
	PerCheckout      perCheckout            `json:"per_checkout"`
	Webhooks         webhookResult          `json:"webhooks"`
	Targets          []targetResult         `json:"targets"`
	Notes            []string               `json:"notes,omitempty"`
}

// perCheckout is the work one checkout makes, which the floor copies.
type perCheckout struct {
	ShopperRoundTrips       int     `json:"shopper_http_round_trips"`
	ProviderAPICalls        float64 `json:"provider_api_calls_measured"`
	FloorProviderCalls      int     `json:"floor_provider_api_calls"`
	SQLiteWriteTransactions int     `json:"sqlite_write_transactions"`
	SQLiteRowWrites         int     `json:"sqlite_row_writes"`
	MeasuredEvents          float64 `json:"kassa_events_per_paid_checkout"`
	MeasuredAttempts        float64 `json:"kassa_attempts_per_paid_checkout"`
	MeasuredSessions        int     `json:"kassa_session_rows"`
}

type targetResult struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Limit float64 `json:"limit"`
	Unit  string  `json:"unit"`
	Met   bool    `json:"met"`
}

func newResults(cfg config) *results {
	r := &results{
		GeneratedAt:          time.Now().UTC().Format(time.RFC3339),
		Machine:              describeMachine(),
		CheckoutsPerSec:      map[string]float64{},
		FloorCheckoutsPerSec: map[string]float64{},
		RatioToFloor:         map[string]float64{},
		P99MS:                map[string]float64{},
		Kassa:                map[string]levelResult{},
		Floor:                map[string]levelResult{},
		FloorP99MS:           map[string]float64{},
		PerCheckout: perCheckout{ShopperRoundTrips: shopperRoundTrips, FloorProviderCalls: floorProviderCalls,
			SQLiteWriteTransactions: floorWriteTransactions, SQLiteRowWrites: floorRowWrites},
	}
	r.Settings.Levels = cfg.levels
	r.Settings.Rounds = cfg.rounds
	r.Settings.WarmupSeconds = cfg.warmup.Seconds()
	r.Settings.MeasureSeconds = cfg.measure.Seconds()
	return r
}

func (r *results) setStartups(ds []time.Duration) {
	for _, d := range ds {
		r.StartupSamplesMS = append(r.StartupSamplesMS, ms(d))
	}
	r.StartupMS = ms(median(ds))
}

func (r *results) addLevel(name string, l levelResult) {
	key := strconv.Itoa(l.Shoppers)
	if name == "kassa" {
		r.Kassa[key] = l
		r.CheckoutsPerSec[key] = l.PerSec
		if key == targetLevelLatency {
			for s, q := range l.Steps {
				r.P99MS[s] = q.P99
			}
		}
	} else {
		r.Floor[key] = l
		r.FloorCheckoutsPerSec[key] = l.PerSec
		if key == targetLevelLatency {
			for s, q := range l.Steps {
				r.FloorP99MS[s] = q.P99
			}
		}
	}
	if k, f := r.CheckoutsPerSec[key], r.FloorCheckoutsPerSec[key]; f > 0 {
		r.RatioToFloor[key] = round(k/f, 3)
	}
}

func (r *results) setPages(p map[string]pageWeight) {
	r.Pages = p
	r.CheckoutPageBytes = p["checkout"].Total
	r.ThankyouPageBytes = p["thankyou"].Total
}

func (r *results) failures() int {
	n := 0
	for _, l := range r.Kassa {
		n += l.Failures
	}
	for _, l := range r.Floor {
		n += l.Failures
	}
	return n
}

// evaluate compares the figures with the targets.
func (r *results) evaluate() {
	worst := 0.0
	for s, v := range r.P99MS {
		if !providerSteps[s] {
			worst = max(worst, v)
		}
	}
	blocking := 0
	for _, p := range r.Pages {
		blocking += p.BlockingScripts
	}
	ratio, haveRatio := r.RatioToFloor[targetLevelRatio]
	_, haveLatency := r.Kassa[targetLevelLatency]
	add := func(name string, value, limit float64, unit string, met bool) {
		r.Targets = append(r.Targets, targetResult{Name: name, Value: value, Limit: limit, Unit: unit, Met: met})
	}
	add("Kassa checkouts/s at 64 shoppers, share of the floor's", ratio, targetRatio64, "ratio", haveRatio && ratio >= targetRatio64)
	add("p99 of the slowest Kassa step at 8 shoppers", worst, targetStepP99MS, "ms", haveLatency && worst <= targetStepP99MS)
	add("checkout page, bytes transferred", float64(r.CheckoutPageBytes), targetPageBytes, "bytes",
		r.CheckoutPageBytes > 0 && r.CheckoutPageBytes <= targetPageBytes)
	add("render-blocking scripts on the two pages", float64(blocking), 0, "scripts", blocking == 0)
	add("peak RSS of the server", r.PeakRSSMB, targetPeakRSSMB, "MiB", r.PeakRSSMB > 0 && r.PeakRSSMB <= targetPeakRSSMB)
	add("start-up to the first served request", r.StartupMS, targetStartupMS, "ms", r.StartupMS > 0 && r.StartupMS <= targetStartupMS)

	best := 0.0
	for _, v := range r.CheckoutsPerSec {
		best = max(best, v)
	}
	if best > 0 && best < pacedCheckoutsPerSec {
		r.Notes = append(r.Notes, fmt.Sprintf("Kassa stayed under %.0f checkouts/s at every level, the pace its Onecheckout client "+
			"keeps to the provider's documented 1000 requests a minute (about 15 a second, 2 per checkout) whatever the simulator "+
			"allows. The bench sets KASSA_ONECHECKOUT_REQUESTS_PER_MINUTE and KASSA_ONECHECKOUT_MAX_CONCURRENT to lift it; "+
			"this binary does not seem to read them (BENCHMARKS.md, finding 1).", pacedCheckoutsPerSec))
	}
}

// pacedCheckoutsPerSec: below this at every level, Kassa is running at its Onecheckout
// client's pace (about 7.5 checkouts a second) rather than its own.
const pacedCheckoutsPerSec = 10.0

// print writes the one table of the run.
func (r *results) print(out io.Writer) {
	m := r.Machine
	fmt.Fprintf(out, "Kassa benchmark, %s: %d CPUs (%s), %s, %s\n", r.GeneratedAt, m.CPUs, m.CPUModel, m.GoVersion, m.OS)
	fmt.Fprintf(out, "Kassa on %s, %d instance(s)\n", r.Database, r.Instances)
	fmt.Fprintf(out, "each level: %d rounds of Kassa and the floor in turn, %.0f s warm-up + %.0f s measured per turn; run took %.0f s\n\n",
		r.Settings.Rounds, r.Settings.WarmupSeconds, r.Settings.MeasureSeconds, r.RunSeconds)
	section := func(rows [][]string) {
		w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		for _, row := range rows {
			fmt.Fprintln(w, strings.Join(row, "\t")+"\t")
		}
		w.Flush()
		fmt.Fprintln(out)
	}
	f1 := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	f2 := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	d := func(v int64) string { return strconv.FormatInt(v, 10) }

	rows := [][]string{{"COMPLETE CHECKOUTS", "Kassa /s", "floor /s", "Kassa/floor", "Kassa checkout p50/p95/p99 ms",
		"server CPU ms/checkout (Kassa, floor)", "failures (Kassa, floor)"}}
	for _, n := range r.Settings.Levels {
		key := strconv.Itoa(n)
		k, f := r.Kassa[key], r.Floor[key]
		rows = append(rows, []string{"  " + key + " shoppers", f1(k.PerSec), f1(f.PerSec), f2(r.RatioToFloor[key]), k.Total.String(),
			f2(k.ServerCPUMS) + ", " + f2(f.ServerCPUMS), strconv.Itoa(k.Failures) + ", " + strconv.Itoa(f.Failures)})
	}
	section(rows)

	head := []string{"STEP p50/p95/p99 ms"}
	for _, n := range r.Settings.Levels {
		head = append(head, "Kassa @"+strconv.Itoa(n))
	}
	head = append(head, "floor @"+targetLevelLatency)
	rows = [][]string{head}
	for _, s := range stepNames {
		name := "  " + s
		if providerSteps[s] {
			name += " (provider)"
		}
		row := []string{name}
		for _, n := range r.Settings.Levels {
			row = append(row, r.Kassa[strconv.Itoa(n)].Steps[s].String())
		}
		rows = append(rows, append(row, r.Floor[targetLevelLatency].Steps[s].String()))
	}
	section(rows)

	rows = [][]string{{"PAGE WEIGHT, first visit", "document", "stylesheet", "script", "image", "font", "other", "total bytes", "requests", "blocking JS"}}
	for _, p := range []struct{ label, key string }{{"  checkout page", "checkout"}, {"  thank-you page", "thankyou"}} {
		pw := r.Pages[p.key]
		rows = append(rows, []string{p.label, d(pw.Bytes["document"]), d(pw.Bytes["stylesheet"]), d(pw.Bytes["script"]),
			d(pw.Bytes["image"]), d(pw.Bytes["font"]), d(pw.Bytes["other"]), d(pw.Total), strconv.Itoa(pw.Requests),
			strconv.Itoa(pw.BlockingScripts)})
	}
	section(rows)

	pc := r.PerCheckout
	section([][]string{
		{"SERVER", ""},
		{"  peak RSS (VmHWM, whole run)", f1(r.PeakRSSMB) + " MiB"},
		{"  start-up to first served request", f1(r.StartupMS) + " ms (median of " + joinFloats(r.StartupSamplesMS) + ")"},
		{"  binary size (bin/kassa)", d(r.BinaryBytes) + " bytes (" + f1(float64(r.BinaryBytes)/(1<<20)) + " MiB)"},
		{"  work per checkout", fmt.Sprintf("%d shopper round trips + %.2f provider API calls (floor: %d); %d SQLite write transactions, %d rows",
			pc.ShopperRoundTrips, pc.ProviderAPICalls, pc.FloorProviderCalls, pc.SQLiteWriteTransactions, pc.SQLiteRowWrites)},
		{"  Kassa's database after the run", fmt.Sprintf("%.2f events and %.2f attempts per paid checkout, %d session rows",
			pc.MeasuredEvents, pc.MeasuredAttempts, pc.MeasuredSessions)},
	})

	wh := r.Webhooks
	rows = [][]string{{"WEBHOOKS (local receiver)", "delivery lag p50/p95/p99 ms"}}
	for _, n := range r.Settings.Levels {
		rows = append(rows, []string{"  " + strconv.Itoa(n) + " shoppers", wh.LagMS[strconv.Itoa(n)].String()})
	}
	rows = append(rows,
		[]string{"  cost per checkout", fmt.Sprintf("%.2f ms server CPU (%.2f with a webhook URL, %.2f without, at %d shoppers); %.2f attempts, %.2f rows written (at most 2 write transactions per attempt, batched under load)",
			wh.CPUMS, wh.HookedCPUMS, wh.PlainCPUMS, slices.Max(r.Settings.Levels), wh.Attempts, wh.RowWrites)},
		[]string{"  deliveries", fmt.Sprintf("%d delivered, %d received, %d duplicates, %d not delivered at the end",
			wh.Delivered, wh.Received, wh.Duplicates, wh.NotDelivered)})
	section(rows)

	rows = [][]string{{"TARGETS", "", "value", "limit"}}
	for _, t := range r.Targets {
		verdict := "MISSED"
		if t.Met {
			verdict = "met"
		}
		cmp := "≤ "
		if t.Unit == "ratio" {
			cmp = "≥ "
		}
		rows = append(rows, []string{"  " + verdict, t.Name, strconv.FormatFloat(t.Value, 'f', -1, 64) + " " + t.Unit,
			cmp + strconv.FormatFloat(t.Limit, 'f', -1, 64)})
	}
	section(rows)
	for _, n := range r.Notes {
		fmt.Fprintln(out, "NOTE:", n)
	}
}

func joinFloats(vs []float64) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strings.Join(s, ", ")
}
