# charm-host: the commands a contributor and CI use.
#
#   make serve         run the service on 127.0.0.1:8080 with the example charms
#   make test          the whole test suite (what CI runs; installs the browser-test tools and
#                      PostgreSQL first, and runs a throwaway PostgreSQL cluster on loopback for it)
#   make cluster       PostgreSQL and three nodes on loopback with the example charms
#   make e2e-deps      Chromium (apt) and playwright-core (npm ci) for the dashboard tests
#   make lint          rustfmt and clippy, warnings as errors
#   make guest         rebuild the guest runtime from guest-runtime/ (installs its toolchain with apt)
#   make guest-check   rebuild it and check it matches the committed runtime
#   make run FILE=...  run one charm once, e.g. make run FILE=charms-fixtures/counter.js
#   make bench         the performance table against Deno workers (installs Deno from PyPI and valgrind from apt if missing)
#   make soak          1,000 hostile + 100 good charms for 10 minutes (SOAK_SECS), then a space of
#                      runaways beside a space of trivial charms as long, report in target/soak-report.md

CARGO ?= cargo
RUNTIME := engine/runtime/charm-runtime.wasm
BUILD_INFO := engine/runtime/charm-runtime.build-info

.PHONY: serve cluster test e2e-deps lint guest guest-check run bench bench-scale soak

serve:
	$(CARGO) build --release --locked
	scripts/serve-demo.sh

cluster:
	$(CARGO) build --release --locked
	scripts/cluster-demo.sh

test: e2e-deps
	scripts/pg-cluster.sh run $(CARGO) test --workspace --locked

e2e-deps:
	@command -v chromium >/dev/null || { echo "installing chromium (apt)"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@test -d host/tests/e2e/node_modules/playwright-core || { echo "installing playwright-core (npm ci)"; npm ci --prefix host/tests/e2e --no-audit --no-fund; }

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

guest:
	scripts/build-guest.sh $(RUNTIME)
	scripts/guest-build-info.sh $(RUNTIME) > $(BUILD_INFO)
	@echo "now commit $(RUNTIME) and $(BUILD_INFO)"

guest-check:
	scripts/guest-check.sh $(RUNTIME) $(BUILD_INFO)

run:
	$(CARGO) run --quiet --locked -- run $(FILE)

# Deno for the bench's baseline rows: the one on the PATH, else PyPI's `deno`
# package in a venv under target/bench. Valgrind (callgrind) counts row 1's
# instructions a task.
DENO_VENV := target/bench/venv
bench:
	@if command -v deno >/dev/null; then echo "Deno: $$(command -v deno)"; \
	elif test -x $(DENO_VENV)/bin/deno; then echo "Deno: $(DENO_VENV)/bin/deno"; \
	else echo "installing Deno from PyPI into $(DENO_VENV)"; \
	  python3 -m venv $(DENO_VENV) && $(DENO_VENV)/bin/pip install --quiet deno; fi
	@command -v valgrind >/dev/null || { echo "installing valgrind for row 1's instruction count (apt)"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; } \
	  || echo "no valgrind: row 1's instruction count is left out"; }
	DENO="$$(command -v deno || echo $(CURDIR)/$(DENO_VENV)/bin/deno)" PG_SETTINGS= \
	  scripts/pg-cluster.sh run $(CARGO) bench --locked -p charm-host --bench charm-bench

# The service row alone at a larger load (issue 18), outside `make test`:
# SCALE_CHARMS charms every SCALE_INTERVAL_S seconds through `serve`, their
# lag watched for SCALE_WINDOW_S seconds. PostgreSQL runs with the checkpoint
# settings "Running a cluster" recommends for a sustained load (SCALE_PG_SETTINGS=
# for its defaults).
SCALE_CHARMS ?= 20000
SCALE_INTERVAL_S ?= 12
SCALE_WINDOW_S ?= 300
SCALE_PG_SETTINGS ?= -c max_wal_size=8GB -c checkpoint_timeout=15min
bench-scale:
	SERVICE_CHARMS=$(SCALE_CHARMS) SERVICE_INTERVAL_S=$(SCALE_INTERVAL_S) SERVICE_WINDOW_S=$(SCALE_WINDOW_S) SERVICE_LARGE_KB=0 BENCH_ONLY=service DENO=/bin/true PG_SETTINGS="$(SCALE_PG_SETTINGS)" \
	  scripts/pg-cluster.sh run $(CARGO) bench --locked -p charm-host --bench charm-bench

# The crowd test of `make test`, watched for SOAK_SECS against a release build.
SOAK_SECS ?= 600
soak:
	CHARM_HOST_SOAK_SECS=$(SOAK_SECS) $(CARGO) test --release --locked -p charm-host --test crowd -- --nocapture
	CHARM_HOST_SOAK_SECS=$(SOAK_SECS) $(CARGO) test --release --locked -p charm-host --test fair_share -- --nocapture a_space_of_runaways
	cat target/tmp/crowd-report.md target/tmp/fair-share-report.md > target/soak-report.md
	@echo "report: target/soak-report.md"
