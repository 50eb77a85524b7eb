package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/db"
	"github.com/kassa-pay/kassa/metrics"
	"github.com/kassa-pay/kassa/webhooks"
)

// webhookFlags are serve's webhook settings.
type webhookFlags struct {
	allowPrivate bool
	schedule     string
	retention    time.Duration
}

func (w *webhookFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&w.allowPrivate, "webhook-allow-private", false,
		"deliver merchant webhooks to loopback and private addresses (env KASSA_WEBHOOK_ALLOW_PRIVATE; make run turns it on)")
	fs.StringVar(&w.schedule, "webhook-retry-schedule", "",
		"comma-separated waits between delivery attempts, e.g. 1s,2s,4s (env KASSA_WEBHOOK_RETRY_SCHEDULE; default about three days)")
	fs.DurationVar(&w.retention, "webhook-retention", 30*24*time.Hour,
		"how long delivered webhooks are kept in the delivery log (env KASSA_WEBHOOK_RETENTION)")
}

// env adds the webhook flags' environment variables to m.
func (w *webhookFlags) env(m map[string]string) map[string]string {
	m["webhook-allow-private"] = "KASSA_WEBHOOK_ALLOW_PRIVATE"
	m["webhook-retry-schedule"] = "KASSA_WEBHOOK_RETRY_SCHEDULE"
	m["webhook-retention"] = "KASSA_WEBHOOK_RETENTION"
	return m
}

// worker builds the delivery worker these settings describe, its outcomes, backlog and lag
// exported as metrics.
func (w *webhookFlags) worker(svc *checkout.Service, d *db.DB) (*checkout.WebhookWorker, error) {
	var schedule []time.Duration
	if w.schedule != "" {
		var err error
		if schedule, err = checkout.ParseRetrySchedule(w.schedule); err != nil {
			return nil, fmt.Errorf("KASSA_WEBHOOK_RETRY_SCHEDULE: %w", err)
		}
	}
	metrics.WatchWebhookBacklog(func(ctx context.Context) (int64, error) {
		n, _, err := d.WebhookBacklog(ctx)
		return int64(n), err
	})
	metrics.WatchJobLag("webhooks", func(ctx context.Context) (time.Duration, error) {
		_, oldest, err := d.WebhookBacklog(ctx)
		if err != nil || oldest.IsZero() {
			return 0, err
		}
		return max(0, time.Since(oldest)), nil
	})
	return &checkout.WebhookWorker{Service: svc, Sender: webhooks.New(webhooks.Config{AllowPrivate: w.allowPrivate}),
		Schedule: schedule, Retention: w.retention, OnOutcome: metrics.WebhookDelivered}, nil
}

// envBool reads a true/false environment variable; unset or unreadable is false.
func envBool(key string) bool {
	b, _ := strconv.ParseBool(os.Getenv(key))
	return b
}

// demoWebhookURL points the demo store's application at the store's own webhook endpoint, so
// a newcomer sees a verified webhook arrive. Kassa's own address is usually loopback, which
// is refused without --webhook-allow-private: then the store has no webhook, and says why.
func demoWebhookURL(ctx context.Context, svc *checkout.Service, clientID string, log *slog.Logger) {
	url := svc.URLs.Base + "/demo/webhooks"
	if _, err := svc.UpdateApp(ctx, clientID, checkout.AppPatch{WebhookURL: &url}); err != nil {
		log.Info("the demo store receives no webhooks: start Kassa with --webhook-allow-private to deliver to " + url)
		empty := ""
		if _, err := svc.UpdateApp(ctx, clientID, checkout.AppPatch{WebhookURL: &empty}); err != nil {
			log.Warn("demo store webhook URL not cleared", "err", err)
		}
	}
}

// webhooksCommand runs `webhooks list` and `webhooks redeliver`.
func webhooksCommand(ctx context.Context, cmd string, args []string, stdout io.Writer) error {
	var failed, allFailed bool
	var since string
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.BoolVar(&failed, "failed", false, "only failed deliveries (webhooks list)")
	fs.BoolVar(&allFailed, "all-failed", false, "redeliver every failed delivery (webhooks redeliver)")
	fs.StringVar(&since, "since", "", "only deliveries created since this RFC 3339 time or this long ago (e.g. 24h)")
	// The delivery id of `webhooks redeliver ID` comes before or after the flags.
	var id string
	if cmd == "webhooks redeliver" && len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		id, args = args[0], args[1:]
	}
	var ids []string
	err := withService(ctx, fs, flagsThenArgs(fs, args, &ids), func(svc *checkout.Service) error {
		var from time.Time
		if since != "" {
			t, err := parseSince(since, time.Now())
			if err != nil {
				return fmt.Errorf("%s: --since: %w", cmd, err)
			}
			from = t
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if cmd == "webhooks list" {
			f := checkout.DeliveryFilter{Since: from}
			if failed {
				f.Status = checkout.DeliveryFailed
			}
			ds, err := svc.Store.ListDeliveries(ctx, f)
			if err != nil {
				return err
			}
			out := []map[string]any{}
			for _, d := range ds {
				out = append(out, deliveryCLI(d))
			}
			return enc.Encode(out)
		}
		if len(ids) > 0 {
			id = ids[0]
		}
		switch {
		case id != "" && allFailed:
			return fmt.Errorf("%s: give a delivery id or --all-failed, not both", cmd)
		case id != "":
			d, err := svc.Redeliver(ctx, id)
			if err != nil {
				return cliError(err)
			}
			return enc.Encode(deliveryCLI(*d))
		case allFailed:
			ds, err := svc.FailedDeliveries(ctx, from, 0)
			if err != nil {
				return err
			}
			out := []map[string]any{}
			for _, d := range ds {
				r, err := svc.Redeliver(ctx, d.ID)
				if err != nil {
					return cliError(err)
				}
				out = append(out, deliveryCLI(*r))
			}
			return enc.Encode(out)
		}
		return fmt.Errorf("%s: give a delivery id or --all-failed", cmd)
	})
	return err
}

// flagsThenArgs lets the positional delivery id follow the flags: the arguments left after
// parsing are collected into rest instead of being refused.
func flagsThenArgs(fs *flag.FlagSet, args []string, rest *[]string) []string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) > 0 && a[0] != '-' && (i == 0 || !flagTakesValue(fs, args[i-1])) {
			*rest = append(*rest, a)
			args = append(args[:i:i], args[i+1:]...)
			i--
		}
	}
	return args
}

func flagTakesValue(fs *flag.FlagSet, arg string) bool {
	name := arg
	for len(name) > 0 && name[0] == '-' {
		name = name[1:]
	}
	if name == "" || strings.Contains(name, "=") {
		return false
	}
	if name == "db" {
		return true
	}
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	bf, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !bf.IsBoolFlag()
}

// parseSince reads an RFC 3339 time or a duration ago.
func parseSince(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration such as 24h", v)
}

func deliveryCLI(d checkout.Delivery) map[string]any {
	m := map[string]any{"id": d.ID, "paymentId": d.PaymentID, "clientId": d.ClientID, "type": d.Type,
		"status": d.Status, "tries": d.Tries, "lastError": d.LastError, "createdAt": d.CreatedAt}
	if d.Status == checkout.DeliveryPending {
		m["nextAttemptAt"] = d.NextAttemptAt
	}
	if !d.DeliveredAt.IsZero() {
		m["deliveredAt"] = d.DeliveredAt
	}
	return m
}
