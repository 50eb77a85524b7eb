package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestCLILinks(t *testing.T) {
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "k.db")
	out, err := kassa(t, "apps", "create", "--db", dbURL, "--name", "Stall")
	if err != nil {
		t.Fatal(err)
	}
	var app map[string]string
	json.Unmarshal([]byte(out), &app)
	t.Setenv("KASSA_BASE_URL", "https://pay.example")

	out, err = kassa(t, "links", "create", "--db", dbURL, "--client-id", app["clientId"], "--name", "Mango box",
		"--amount", "1200", "--currency", "USD", "--quantity-min", "1", "--quantity-max", "5", "--max-payments", "10")
	if err != nil {
		t.Fatal(err)
	}
	var l map[string]any
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("links create printed %q", out)
	}
	id, _ := l["id"].(string)
	if !strings.HasPrefix(id, "plink_") || l["url"] != "https://pay.example/l/"+id || l["state"] != "open" || l["active"] != true {
		t.Fatalf("links create printed %v", l)
	}
	out, err = kassa(t, "links", "create", "--db", dbURL, "--client-id", app["clientId"], "--name", "Breakfast", "--currency", "USD",
		"--line-item", "Coffee: large:2:250", "--line-item", "Bun:1:300")
	if err != nil || !strings.Contains(out, `"amount": 800`) {
		t.Fatalf("links create with line items: %v %s", err, out)
	}
	out, err = kassa(t, "links", "list", "--db", dbURL, "--client-id", app["clientId"])
	var list []map[string]any
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list) != 2 || list[0]["paymentsCount"] != float64(0) {
		t.Fatalf("links list: %v %s", err, out)
	}
	out, err = kassa(t, "links", "deactivate", "--db", dbURL, "--id", id)
	if err != nil || !strings.Contains(out, `"state": "inactive"`) {
		t.Fatalf("links deactivate: %v %s", err, out)
	}
	for _, bad := range [][]string{
		{"links", "create", "--db", dbURL, "--client-id", app["clientId"], "--name", "X", "--currency", "USD"},
		{"links", "create", "--db", dbURL, "--client-id", "nope", "--name", "X", "--amount", "100", "--currency", "USD"},
		{"links", "create", "--db", dbURL, "--client-id", app["clientId"], "--name", "X", "--currency", "USD", "--line-item", "bad"},
		{"links", "deactivate", "--db", dbURL, "--id", "plink_nope"},
		{"links", "deactivate", "--db", dbURL},
	} {
		if _, err := kassa(t, bad...); err == nil {
			t.Errorf("kassa %v succeeded", bad)
		}
	}
}
