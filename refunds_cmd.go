package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"time"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/db"
	"github.com/kassa-pay/kassa/providers"
)

// refundsCmd runs `kassa refunds create` and `kassa refunds list`.
//
// create asks the payment's provider at once, like the API: with the same provider settings as
// serve (--base-url, --sandbox and the KASSA_<PROVIDER>_* variables; in sandbox mode the
// simulators mounted by the running server). When the provider cannot be reached the refund
// stays pending and the running server's refund job asks again.
func refundsCmd(ctx context.Context, cmd string, args []string, stdout io.Writer) error {
	var c commonFlags
	var paymentID, reason, note, baseURL string
	var amount int64
	var sandbox sandboxFlag // auto, as serve: simulated only when no real provider is configured
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	c.register(fs)
	fs.StringVar(&paymentID, "payment", "", "the payment's id (required)")
	env := map[string]string{"db": "KASSA_DATABASE_URL"}
	if cmd == "refunds create" {
		fs.Int64Var(&amount, "amount", 0, "minor units to refund (default: all that is left)")
		fs.StringVar(&reason, "reason", "", "requested_by_customer, duplicate, fraudulent or other (default other)")
		fs.StringVar(&note, "note", "", "a note for the records")
		fs.StringVar(&baseURL, "base-url", "http://localhost:8080", "the running Kassa's public URL, where its sandboxes are mounted (env KASSA_BASE_URL)")
		fs.Var(&sandbox, "sandbox", "use the provider sandboxes: true, false or auto (env KASSA_SANDBOX)")
		env["base-url"], env["sandbox"] = "KASSA_BASE_URL", "KASSA_SANDBOX"
	}
	if err := parse(fs, args, env); err != nil {
		return err
	}
	if paymentID == "" {
		return fmt.Errorf("%s: --payment is required", cmd)
	}
	d, err := db.Open(ctx, c.db)
	if err != nil {
		return err
	}
	defer d.Close()
	svc := &checkout.Service{Store: d}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if cmd == "refunds list" {
		rs, err := svc.Refunds(ctx, paymentID)
		if err != nil {
			return cliError(err)
		}
		out := []map[string]any{}
		for _, r := range rs {
			out = append(out, refundCLIJSON(r))
		}
		return enc.Encode(out)
	}
	if amount < 0 {
		return fmt.Errorf("%s: --amount must be positive", cmd)
	}
	base, err := url.Parse(baseURL)
	if err != nil || base.Host == "" {
		return fmt.Errorf("%s: --base-url %q must be an absolute URL", cmd, baseURL)
	}
	w, err := wireProviders(base, sandbox, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	svc.Providers = providers.NewRegistry(w.providers...)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	r, err := svc.CreateRefund(ctx, paymentID, checkout.NewRefund{Amount: amount, Reason: checkout.RefundReason(reason), Note: note, RequestedBy: "cli"})
	if err != nil {
		return cliError(err)
	}
	return enc.Encode(refundCLIJSON(*r))
}

// refundCLIJSON prints a refund with the merchant API's field names.
func refundCLIJSON(r checkout.Refund) map[string]any {
	m := r.EventData()
	delete(m, "attemptId")
	return m
}
