# Kassa's front door. `make run` starts Kassa with SQLite and every provider sandbox (sandbox mode);
# `make test` installs what the tests need and runs all of them, e2e in Chromium included.

GO      ?= go
BIN     := bin/kassa
export CGO_ENABLED := 1

.PHONY: run build generate test unit e2e bench lint test-deps

# Sandbox mode is asked for explicitly: every provider without real settings is simulated.
run: build
	./$(BIN) serve --sandbox --webhook-allow-private

build:
	$(GO) build -o $(BIN) .

# templ's CLI is pinned to the library's version by the tool directive in go.mod.
generate:
	$(GO) tool templ generate

# The e2e tests run in parallel (each has its own kassa and database, and its own browser
# context in the one Chromium); they mostly wait on processes and the browser, so more run at
# once than there are cores. No other package has parallel tests: the flag only touches e2e.
# Measured on 2 loaded cores: 4, 6 and 8 all finish e2e in 45-55 s (vs 240 s one by one).
E2E_PARALLEL ?= 6

test: test-deps
	$(GO) test -race -count=1 -parallel $(E2E_PARALLEL) ./...

unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /e2e)

e2e: test-deps
	$(GO) test -count=1 -v -parallel $(E2E_PARALLEL) ./e2e/

# SQLite, then PostgreSQL with one instance and with two behind a round-robin proxy; each run
# writes its own results file.
KASSA_BENCH_POSTGRES ?= $(or $(KASSA_TEST_POSTGRES_URL),postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)
bench: build test-deps
	$(GO) run ./bench
	$(GO) run ./bench -postgres '$(KASSA_BENCH_POSTGRES)' -out bench/results-postgres.json
	$(GO) run ./bench -postgres '$(KASSA_BENCH_POSTGRES)' -instances 2 -out bench/results-postgres-2.json

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) tool templ generate
	@git diff --exit-code -- '*_templ.go' || { echo "generated templ files are stale: run make generate"; exit 1; }

# The e2e tests drive Debian's Chromium; install it when it is missing. The store tests run on
# SQLite and PostgreSQL, and the multi-instance e2e needs PostgreSQL: when nothing answers on
# 127.0.0.1:5432 (and KASSA_TEST_POSTGRES_URL names no other server), install Debian's
# postgresql, let the local postgres user in without a password, and start it.
test-deps:
	@if [ -z "$$KASSA_TEST_POSTGRES_URL" ] && ! timeout 3 bash -c '</dev/tcp/127.0.0.1/5432' 2>/dev/null; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		if ! ls /etc/postgresql/*/main/pg_hba.conf >/dev/null 2>&1; then \
			echo "installing postgresql (Debian package) for the store and multi-instance tests"; \
			$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql >/dev/null; \
			for hba in /etc/postgresql/*/main/pg_hba.conf; do \
				$$SUDO sed -i '1i host all postgres 127.0.0.1/32 trust' $$hba; done; \
		fi; \
		echo "starting postgresql"; \
		for v in $$(ls /etc/postgresql); do $$SUDO pg_ctlcluster $$v main start || $$SUDO pg_ctlcluster $$v main reload || true; done; \
		for i in 1 2 3 4 5 6 7 8 9 10; do timeout 3 bash -c '</dev/tcp/127.0.0.1/5432' 2>/dev/null && break; sleep 1; done; \
	fi
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing chromium (Debian package) for the e2e tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
