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

test: test-deps
	$(GO) test -race -count=1 ./...

unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /e2e)

e2e: test-deps
	$(GO) test -count=1 -v ./e2e/

bench: build test-deps
	$(GO) run ./bench

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) tool templ generate
	@git diff --exit-code -- '*_templ.go' || { echo "generated templ files are stale: run make generate"; exit 1; }

# The e2e tests drive Debian's Chromium; install it when it is missing.
test-deps:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing chromium (Debian package) for the e2e tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
