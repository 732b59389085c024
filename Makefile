# charm-host: the commands a contributor and CI use.
#
#   make serve         run the service on 127.0.0.1:8080 with the example charms
#   make test          the whole test suite (what CI runs)
#   make lint          rustfmt and clippy, warnings as errors
#   make guest         rebuild the guest runtime from guest-runtime/ (installs its toolchain with apt)
#   make guest-check   rebuild it and check it matches the committed runtime
#   make run FILE=...  run one charm once, e.g. make run FILE=charms-fixtures/counter.js

CARGO ?= cargo
RUNTIME := host/runtime/charm-runtime.wasm
BUILD_INFO := host/runtime/charm-runtime.build-info

.PHONY: serve test lint guest guest-check run

serve:
	$(CARGO) build --release --locked
	scripts/serve-demo.sh

test:
	$(CARGO) test --workspace --locked

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
