# espomcp — the short names for everything. `make help` lists them.
CARGO ?= cargo
SANDBOX_LISTEN ?= 127.0.0.1:8080

.PHONY: help build test lint fmt bench demo sandbox replay clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## Build every crate, release mode
	$(CARGO) build --release --workspace

test: ## Run the whole test suite (what CI runs)
	$(CARGO) nextest run --workspace --all-targets --no-fail-fast

lint: ## Formatting check and clippy with warnings denied
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

bench: ## Criterion benchmarks (against the sandbox on loopback)
	$(CARGO) bench --workspace

demo: ## Run the sandbox with demo data on $(SANDBOX_LISTEN)
	$(CARGO) run --release -p espocrm-sandbox -- --listen $(SANDBOX_LISTEN)

sandbox: demo ## Same as demo

clean: ## Remove build output
	$(CARGO) clean
