package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver "pgx", to make and drop the database
)

// instances is the Kassa processes of a run, and the round-robin proxy in front of them when
// there are several (as a load balancer without stickiness would spread the shoppers).
type instances struct {
	servers []*server
	proxy   *http.Server
}

// balance serves a round-robin reverse proxy over the instances on a free loopback port.
func (f *instances) balance() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	var proxies []*httputil.ReverseProxy
	transport := &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second}
	for _, s := range f.servers {
		u, err := url.Parse(s.url)
		if err != nil {
			return "", err
		}
		proxies = append(proxies, &httputil.ReverseProxy{Transport: transport, Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
		}})
	}
	var next atomic.Uint64
	f.proxy = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxies[next.Add(1)%uint64(len(proxies))].ServeHTTP(w, r)
	})}
	go f.proxy.Serve(l)
	return "http://" + l.Addr().String(), nil
}

// cpuTime is the CPU time all the instances have used so far.
func (f *instances) cpuTime() time.Duration {
	var sum time.Duration
	for _, s := range f.servers {
		sum += s.cpuTime()
	}
	return sum
}

// peakRSS is the largest high-water resident set among the instances.
func (f *instances) peakRSS() (int64, error) {
	var peak int64
	for _, s := range f.servers {
		rss, err := s.peakRSS()
		if err != nil {
			return 0, err
		}
		peak = max(peak, rss)
	}
	return peak, nil
}

func (f *instances) stop() {
	if f.proxy != nil {
		f.proxy.Close()
	}
	for _, s := range f.servers {
		s.stop()
	}
}

// freshPostgres makes an empty database kassa_bench_<random> on the server and returns its URL
// and a function that drops it.
func freshPostgres(ctx context.Context, serverURL string) (string, func(), error) {
	admin, err := sql.Open("pgx", serverURL)
	if err != nil {
		return "", nil, err
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "kassa_bench_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("-postgres: making the bench database: %w (is PostgreSQL running? make test-deps starts it)", err)
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		admin.Close()
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close()
	}
	return u.String(), drop, nil
}

// postgresCPU is the CPU time the machine's PostgreSQL processes have used so far, so that a
// run on PostgreSQL counts the database's work per checkout as a run on SQLite (in Kassa's own
// process) does. It counts every postgres process on the machine, other users' included, and
// misses backends that exited during the run (Kassa's pool keeps its connections open).
func postgresCPU() time.Duration {
	dirs, _ := os.ReadDir("/proc")
	var sum time.Duration
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil || !strings.Contains(string(b), "(postgres)") {
			continue
		}
		sum += (&server{cmd: &exec.Cmd{Process: &os.Process{Pid: pid}}}).cpuTime()
	}
	return sum
}
