package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	enkashsandbox "github.com/kassa-pay/kassa/providers/enkash/sandbox"
	kspaysandbox "github.com/kassa-pay/kassa/providers/kspay/sandbox"
	onecheckoutsandbox "github.com/kassa-pay/kassa/providers/onecheckout/sandbox"
	onekhusasandbox "github.com/kassa-pay/kassa/providers/onekhusa/sandbox"
)

// sandboxServe runs the four provider simulators alone, under the same /sandbox/<provider>/
// paths a Kassa in sandbox mode mounts them, so that several Kassa instances (pointed at it by
// KASSA_SANDBOX_URL), or a Kassa that restarts, share one simulated provider and its orders.
// Simulator state lives in this process's memory.
func sandboxServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var addr, callback string
	fs := flag.NewFlagSet("sandbox serve", flag.ContinueOnError)
	fs.StringVar(&addr, "addr", "127.0.0.1:8090", "listen address")
	fs.StringVar(&callback, "kassa-url", "", "Kassa's public URL (its load balancer), where OneKhusa's webhooks are sent "+
		"(env KASSA_SANDBOX_KASSA_URL; empty: none are sent)")
	if err := parse(fs, args, map[string]string{"kassa-url": "KASSA_SANDBOX_KASSA_URL"}); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	defer ln.Close()

	mux := http.NewServeMux()
	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	mount := func(prefix string, h http.Handler) { mux.Handle(prefix+"/", http.StripPrefix(prefix, h)) }
	mount("/sandbox/onecheckout", onecheckoutsandbox.New(onecheckoutsandbox.Config{Prefix: "/sandbox/onecheckout",
		RequestsPerMinute: envInt("KASSA_ONECHECKOUT_REQUESTS_PER_MINUTE"), MaxConcurrent: envInt("KASSA_ONECHECKOUT_MAX_CONCURRENT")}))
	ek := enkashsandbox.New(enkashsandbox.Config{Prefix: "/sandbox/enkash"})
	closers = append(closers, ek.Close)
	mount("/sandbox/enkash", ek)
	mount("/sandbox/kspay", kspaysandbox.New(kspaysandbox.Config{Prefix: "/sandbox/kspay"}))
	okCfg := onekhusasandbox.Config{Prefix: "/sandbox/onekhusa"}
	if callback != "" {
		okCfg.WebhookURL = strings.TrimSuffix(callback, "/") + "/callbacks/onekhusa"
	}
	ok := onekhusasandbox.New(okCfg)
	closers = append(closers, ok.Close)
	mount("/sandbox/onekhusa", ok)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })

	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	fmt.Fprintf(stdout, "Provider sandboxes listening on http://%s/sandbox/<provider>/ (credentials: kassa sandbox credentials)\n", ln.Addr())
	fmt.Fprintf(stdout, "  point Kassa at them with KASSA_SANDBOX_URL=http://%s\n", ln.Addr())
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return hs.Shutdown(shutdown)
}
