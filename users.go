package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/db"
)

// users runs `kassa users create|list|reset-password|disable`: the dashboard's operators.
// A generated password is printed once, alone on stdout; with --password-stdin the password
// is read from the first line of stdin and nothing secret is printed.
func users(ctx context.Context, cmd string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var email string
	var fromStdin bool
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	if cmd != "users list" {
		fs.StringVar(&email, "email", "", "the operator's email (required)")
	}
	if cmd == "users create" || cmd == "users reset-password" {
		fs.BoolVar(&fromStdin, "password-stdin", false, "read the password from stdin instead of generating one")
	}
	return withService(ctx, fs, args, func(svc *checkout.Service) error {
		ops := &checkout.Operators{Store: svc.Store.(checkout.OperatorStore)}
		if cmd != "users list" && email == "" {
			return fmt.Errorf("%s: --email is required", cmd)
		}
		password := ""
		if fromStdin {
			line, err := bufio.NewReader(stdin).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("%s: reading the password: %w", cmd, err)
			}
			password = strings.TrimRight(line, "\r\n")
			if password == "" {
				return fmt.Errorf("%s: --password-stdin given but stdin is empty", cmd)
			}
		}
		switch cmd {
		case "users create":
			o, pw, err := ops.Create(ctx, email, password)
			if err != nil {
				return cliError(err)
			}
			fmt.Fprintf(stderr, "operator %s created (%s)\n", o.Email, o.ID)
			if !fromStdin {
				_, err = fmt.Fprintln(stdout, pw)
			}
			return err
		case "users reset-password":
			pw, err := ops.ResetPassword(ctx, email, password)
			if err != nil {
				return cliError(err)
			}
			fmt.Fprintf(stderr, "password of %s changed; their sessions have ended\n", checkout.NormalizeEmail(email))
			if !fromStdin {
				_, err = fmt.Fprintln(stdout, pw)
			}
			return err
		case "users disable":
			if err := ops.Disable(ctx, email); err != nil {
				return cliError(err)
			}
			_, err := fmt.Fprintf(stdout, "disabled %s\n", checkout.NormalizeEmail(email))
			return err
		default: // users list
			list, err := ops.List(ctx)
			if err != nil {
				return err
			}
			out := []map[string]any{}
			for _, o := range list {
				m := map[string]any{"id": o.ID, "email": o.Email, "createdAt": o.CreatedAt, "active": o.Active()}
				for k, v := range map[string]time.Time{"disabledAt": o.DisabledAt, "lastSignInAt": o.LastSignInAt} {
					if !v.IsZero() {
						m[k] = v
					}
				}
				out = append(out, m)
			}
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		}
	})
}

// sandboxOperatorKey keeps the sandbox operator's email and password (settings table) so that
// every sandbox start can print them. Sandbox mode is a development mode; a real deployment
// creates its operators with `kassa users create`, which never stores a password in the clear.
const sandboxOperatorKey = "sandbox_operator"

// sandboxOperator makes sure a sandbox instance has an operator a newcomer can sign in with,
// and returns its email and password: the one it created, or the stored one while it still
// works. Empty when operators exist that it did not create (or changed their password).
func sandboxOperator(ctx context.Context, d *db.DB, log *slog.Logger) (email, password string, err error) {
	ops := &checkout.Operators{Store: d}
	if v, err := d.Setting(ctx, sandboxOperatorKey); err == nil {
		email, password, _ = strings.Cut(v, "\n")
		o, err := d.FindOperatorByEmail(ctx, email)
		if err == nil && o.Active() && checkout.CheckPassword(o.PasswordHash, password) {
			return email, password, nil
		}
		return "", "", nil
	} else if !errors.Is(err, checkout.ErrNotFound) {
		return "", "", err
	}
	list, err := ops.List(ctx)
	if err != nil || len(list) > 0 {
		return "", "", err
	}
	o, pw, err := ops.Create(ctx, "admin@kassa.test", "")
	if err != nil {
		return "", "", err
	}
	stored, err := d.PutSettingIfAbsent(ctx, sandboxOperatorKey, o.Email+"\n"+pw)
	if err != nil {
		return "", "", err
	}
	log.Info("sandbox operator created", "email", o.Email)
	email, password, _ = strings.Cut(stored, "\n")
	return email, password, nil
}

// retireSandboxOperator disables the sandbox operator when Kassa is served outside sandbox
// mode while that operator still has the password it was created with: that password was
// printed on stdout (so it is in logs) and is kept in the settings table in clear, so it must
// not open a dashboard that moves real money. An operator whose password was changed since is
// someone's own account and is left alone.
func retireSandboxOperator(ctx context.Context, d *db.DB, log *slog.Logger) error {
	v, err := d.Setting(ctx, sandboxOperatorKey)
	if errors.Is(err, checkout.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	email, password, _ := strings.Cut(v, "\n")
	o, err := d.FindOperatorByEmail(ctx, email)
	if errors.Is(err, checkout.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if !o.Active() || !checkout.CheckPassword(o.PasswordHash, password) {
		return nil
	}
	if err := (&checkout.Operators{Store: d}).Disable(ctx, email); err != nil {
		return err
	}
	log.Warn("sandbox operator disabled: its password was printed in sandbox mode; create operators with kassa users create",
		"email", email)
	return nil
}
