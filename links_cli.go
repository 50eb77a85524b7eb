package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/handlers"
)

// linkPaymentsPerMinute is how many payments one client address may start from payment links
// in a minute: far more than a shopper needs, few enough that a script cannot fill a link.
const linkPaymentsPerMinute = 30

// The payment-link subcommands, for merchants without a dashboard:
//
//	kassa links create --client-id ID --name NAME (--amount N | --line-item "NAME:QTY:UNIT" ...) --currency CUR
//	                   [--description D] [--quantity-min N --quantity-max N] [--max-payments N]
//	                   [--expires RFC3339] [--success-url URL] [--base-url URL]
//	kassa links list [--client-id ID] [--base-url URL]
//	kassa links deactivate --id ID [--base-url URL]
//
// Each prints the link(s) as JSON, with the public URL built from --base-url / KASSA_BASE_URL
// (the same public URL `kassa serve` uses; default http://localhost:8080).
func links(ctx context.Context, cmd string, args []string, stdout io.Writer) error {
	var clientID, name, description, cur, successURL, expires, id, baseURL string
	var amount, qMin, qMax, maxPayments int64
	var lines multiFlag
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.StringVar(&baseURL, "base-url", "http://localhost:8080", "Kassa's public URL, for the links' URLs (env KASSA_BASE_URL)")
	switch cmd {
	case "links create":
		fs.StringVar(&clientID, "client-id", "", "the application's Client ID (required)")
		fs.StringVar(&name, "name", "", "what the link sells, shown as its page's heading (required)")
		fs.StringVar(&description, "description", "", "a sentence under the name")
		fs.Int64Var(&amount, "amount", 0, "the price of one in minor units (e.g. 2400 for 24.00), or give --line-item")
		fs.Var(&lines, "line-item", `one line of what one unit buys, "NAME:QUANTITY:UNIT_AMOUNT" (repeatable)`)
		fs.StringVar(&cur, "currency", "", "ISO 4217 currency code (required)")
		fs.Int64Var(&qMin, "quantity-min", 0, "let the shopper choose a quantity from this...")
		fs.Int64Var(&qMax, "quantity-max", 0, "...to this")
		fs.Int64Var(&maxPayments, "max-payments", 0, "stop after this many paid payments (0: no limit)")
		fs.StringVar(&expires, "expires", "", "stop taking payments at this time, RFC 3339")
		fs.StringVar(&successURL, "success-url", "", "where to send the shopper after paying; {PAYMENT_ID} is replaced")
	case "links list":
		fs.StringVar(&clientID, "client-id", "", "only this application's links")
	case "links deactivate":
		fs.StringVar(&id, "id", "", "the link's id (required)")
	}
	env := map[string]string{"db": "KASSA_DATABASE_URL"}
	if _, ok := os.LookupEnv("KASSA_BASE_URL"); ok {
		env["base-url"] = "KASSA_BASE_URL"
	}
	var c commonFlags
	c.register(fs)
	if err := parse(fs, args, env); err != nil {
		return err
	}
	d, err := openDB(ctx, c.db)
	if err != nil {
		return err
	}
	defer d.Close()
	svc := &checkout.Service{Store: d}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	switch cmd {
	case "links create":
		n := checkout.NewLink{ClientID: clientID, Name: name, Description: description, Amount: amount, Currency: cur,
			MaxPayments: maxPayments, SuccessURL: successURL}
		for _, l := range lines {
			var li checkout.LineItem
			parts := strings.Split(l, ":")
			if len(parts) < 3 {
				return fmt.Errorf("links create: --line-item %q must be NAME:QUANTITY:UNIT_AMOUNT", l)
			}
			li.Name = strings.Join(parts[:len(parts)-2], ":")
			if _, err := fmt.Sscan(parts[len(parts)-2], &li.Quantity); err != nil {
				return fmt.Errorf("links create: --line-item %q: quantity must be a whole number", l)
			}
			if _, err := fmt.Sscan(parts[len(parts)-1], &li.UnitAmount); err != nil {
				return fmt.Errorf("links create: --line-item %q: unit amount must be a whole number of minor units", l)
			}
			n.LineItems = append(n.LineItems, li)
		}
		if qMin != 0 || qMax != 0 {
			n.Quantity = &checkout.LinkQuantity{Min: max(qMin, 1), Max: qMax}
		}
		if expires != "" {
			t, err := time.Parse(time.RFC3339, expires)
			if err != nil {
				return fmt.Errorf("links create: --expires must be RFC 3339, e.g. 2027-01-02T15:04:05Z")
			}
			n.ExpiresAt = t
		}
		l, err := svc.CreateLink(ctx, n)
		if err != nil {
			return cliError(err)
		}
		return enc.Encode(linkCLIJSON(svc, baseURL, l))
	case "links list":
		ls, err := svc.Links(ctx, clientID, 1000)
		if err != nil {
			return err
		}
		out := []map[string]any{}
		for i := range ls {
			out = append(out, linkCLIJSON(svc, baseURL, &ls[i]))
		}
		return enc.Encode(out)
	default: // links deactivate
		if id == "" {
			return fmt.Errorf("%s: --id is required", cmd)
		}
		off := false
		l, err := svc.UpdateLink(ctx, id, checkout.LinkPatch{Active: &off})
		if err != nil {
			return cliError(err)
		}
		return enc.Encode(linkCLIJSON(svc, baseURL, l))
	}
}

// linkCLIJSON is how the CLI prints a link: the API's main fields and its counters.
func linkCLIJSON(svc *checkout.Service, baseURL string, l *checkout.Link) map[string]any {
	u := handlers.LinkURL(baseURL, l.ID)
	state := string(svc.LinkClosed(l))
	if state == "" {
		state = "open"
	}
	collected := []map[string]any{}
	for _, m := range l.Counts.Collected {
		collected = append(collected, map[string]any{"amount": m.Amount, "currencyCode": m.Currency})
	}
	m := map[string]any{
		"id": l.ID, "clientId": l.ClientID, "name": l.Name, "amount": l.UnitAmount, "currencyCode": l.Currency,
		"active": l.Active, "state": state, "url": u, "qrCodeUrl": u + "/qr.png", "qrCodeSvgUrl": u + "/qr.svg",
		"paymentsCount": l.Counts.Created, "paidCount": l.Counts.Paid, "collected": collected, "createdAt": l.CreatedAt,
	}
	if l.Adjustable {
		m["quantity"] = map[string]int64{"min": l.QuantityMin, "max": l.QuantityMax}
	}
	if l.MaxPayments > 0 {
		m["maxPayments"] = l.MaxPayments
	}
	return m
}
