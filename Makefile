# gamepipe developer tasks. `make help` lists them; each target's `## ` comment
# is its help line.
#
# Needs Go and a Postgres at 127.0.0.1:5432 (user postgres, trust auth). NATS
# is optional: `make run` starts the nats-server pinned in go.mod when the
# one at NATS_URL is missing or too old, and tests start their own. Tests of
# the S3 blob store start SeaweedFS's weed, which `make weed` builds.

GO           ?= go
FUZZTIME     ?= 30s
DATA_DIR     ?= ./data
DB_NAME      ?= gamepipe
PG_ADMIN_URL ?= postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
# The dashboard's front-end libraries: npm installs them from web/dashboard's
# package-lock.json; make copies the charting library's dist files and
# bundles three.js with its loaders (web/dashboard/gp3.js, esbuild) into one
# classic script, in the folder the api embeds (docs/dashboard.md, "Building
# the front end").
DASHBOARD_NPM    := web/dashboard
DASHBOARD_VENDOR := internal/dashboard/web/vendor
DASHBOARD_ASSETS := $(DASHBOARD_VENDOR)/uPlot.iife.min.js $(DASHBOARD_VENDOR)/uPlot.min.css $(DASHBOARD_VENDOR)/gp3.iife.min.js

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z0-9_-]+:.*## / { printf "  %-10s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

.PHONY: build
build: dashboard-assets ## build every command into bin/
	$(GO) build -o bin/ ./cmd/...

.PHONY: run
run: build ## build, then run the local stack: NATS, migrations, demo app, api, worker, exporter (Ctrl-C stops it)
	./bin/devrun

.PHONY: cluster
cluster: build ## like run, scaled out: 3 nats-servers as one cluster (R3), 2 apis (:4000, :4010), 2 workers, exporter
	DEVRUN_CLUSTER=1 ./bin/devrun

.PHONY: test
test: dashboard-assets chromium weed ## run all tests (they create their own databases, NATS and S3 servers; the dashboard's in headless Chromium)
	$(GO) test -count=1 -timeout 15m ./...

.PHONY: dashboard-assets
dashboard-assets: $(DASHBOARD_ASSETS) ## install the dashboard's charting and 3D libraries (npm ci, esbuild) into the folder the api embeds

$(DASHBOARD_ASSETS) &: $(DASHBOARD_NPM)/package-lock.json $(DASHBOARD_NPM)/gp3.js
	cd $(DASHBOARD_NPM) && npm ci --no-audit --no-fund --ignore-scripts
	cp $(DASHBOARD_NPM)/node_modules/uplot/dist/uPlot.iife.min.js $(DASHBOARD_NPM)/node_modules/uplot/dist/uPlot.min.css $(DASHBOARD_VENDOR)/
	$(DASHBOARD_NPM)/node_modules/.bin/esbuild $(DASHBOARD_NPM)/gp3.js --bundle --format=iife --minify --target=es2020 \
		--legal-comments=eof --log-level=warning --outfile=$(DASHBOARD_VENDOR)/gp3.iife.min.js

.PHONY: weed
weed: bin/weed ## build SeaweedFS's weed, pinned in tools/weed/go.mod, into bin/: the S3-compatible server the S3 blob store's tests start

# A module of its own, so that SeaweedFS's dependencies stay out of go.mod.
# The first build takes minutes (docs/scaling.md); later ones are cached.
bin/weed: tools/weed/go.mod tools/weed/go.sum
	cd tools/weed && $(GO) build -o ../../bin/weed github.com/seaweedfs/seaweedfs/weed

.PHONY: chromium
# Two checkouts installing at once take turns (flock), and apt waits for
# any other apt user's lock instead of failing.
chromium: ## install Debian's chromium for the dashboard's browser test when it is missing (needs root)
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then \
			echo "make: installing chromium for the dashboard's browser test"; \
			flock -w 1800 /tmp/gamepipe-apt.lock sh -c 'command -v chromium >/dev/null 2>&1 || { \
				apt-get -o DPkg::Lock::Timeout=600 update -qq && \
				DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium; }'; \
		else \
			echo "make: chromium is missing and this is not root: apt-get install chromium (the browser test skips without it unless CI=true)"; \
		fi; }

.PHONY: test-race
test-race: ## run all tests with the race detector
	$(GO) test -race -count=1 -timeout 30m ./...

.PHONY: fuzz
fuzz: ## fuzz the telemetry decoder for FUZZTIME (default 30s)
	$(GO) test ./internal/telemetry -run '^$$' -fuzz '^FuzzDecodeEvents$$' -fuzztime=$(FUZZTIME)

.PHONY: chaos
chaos: ## chaos tests needing more than make test: a real Postgres restart, a 3-node NATS cluster losing its stream leader and a worker, and restarted server by server, under load; three workers on one Generaitiv key
	$(GO) test -tags chaos -count=1 -timeout 15m -run Chaos ./internal/e2e/

.PHONY: bench
bench: build ## start a private stack, run every scenario for BENCH_SECONDS (default 10) against its raw ceiling; table in bench/out/
	./bin/benchrun

.PHONY: dashboard-bench
dashboard-bench: build ## fill a throwaway database with 10M telemetry rows (COPY) and time the dashboard's JSON views; DASHBOARD_BENCH_FLAGS to change the size
	./bin/gamepipe dashboard-bench $(DASHBOARD_BENCH_FLAGS)

.PHONY: bench-micro
bench-micro: ## run the Go micro-benchmarks of the hot paths (BENCH_COUNT=6 for benchstat, BENCH=regexp to pick)
	$(GO) test -run '^$$' -bench '$(or $(BENCH),.)' -benchmem -count $(or $(BENCH_COUNT),1) ./...

.PHONY: vet
vet: ## go vet
	$(GO) vet ./...

.PHONY: fmt
fmt: ## format the code with gofmt
	gofmt -l -w .

.PHONY: lint
lint: ## fail on unformatted files (gofmt -l), then go vet
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed (make fmt):"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

.PHONY: db-reset
db-reset: ## drop and recreate the gamepipe database, and forget the demo app saved in DATA_DIR
	psql "$(PG_ADMIN_URL)" -v ON_ERROR_STOP=1 -q \
		-c 'DROP DATABASE IF EXISTS "$(DB_NAME)" WITH (FORCE)' \
		-c 'CREATE DATABASE "$(DB_NAME)"'
	rm -f $(DATA_DIR)/demo-app.json $(DATA_DIR)/demo-event.msgpack

.PHONY: clean
clean: ## remove bin/ and test binaries and profiles (keeps data/)
	rm -rf bin/
	find . \( -path ./data -o -path ./.git \) -prune -o \( -name '*.test' -o -name '*.prof' \) -type f -print -exec rm -f {} +
