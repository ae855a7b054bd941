# espomcp — the short names for everything. `make help` lists them.
CARGO ?= cargo
SANDBOX_LISTEN ?= 127.0.0.1:8080

# The binary the client tests start: the debug build in CARGO_TARGET_DIR (default target/).
ESPOMCP_BIN ?= $(abspath $(or $(CARGO_TARGET_DIR),target))/debug/espomcp

.PHONY: help build test test-clients test-live lint fmt bench demo sandbox compose-up compose-down replay clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-13s %s\n", $$1, $$2}'

build: ## Build every crate, release mode
	$(CARGO) build --release --workspace

test: ## Run the whole test suite (what CI runs): the Rust tests, then the client tests
	$(CARGO) nextest run --workspace --all-targets --no-fail-fast
	@$(MAKE) --no-print-directory test-clients

test-clients: ## espomcp --demo against the TypeScript SDK, the MCP Inspector CLI and the Python SDK (tests/clients)
	@node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' 2>/dev/null || \
		{ echo "make test-clients: needs Node 20 or later with npm (found: $$(node --version 2>/dev/null || echo none))" >&2; exit 2; }
	$(CARGO) build -p espomcp
	@cd tests/clients && if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
		npm ci --no-audit --no-fund; \
	fi
	@cd tests/clients && if [ ! -f .venv/installed ] || [ python/requirements.txt -nt .venv/installed ]; then \
		rm -rf .venv && python3 -m venv .venv && \
		.venv/bin/pip install --quiet --disable-pip-version-check -r python/requirements.txt && touch .venv/installed; \
	fi
	cd tests/clients && ESPOMCP_BIN="$(ESPOMCP_BIN)" node --test --test-reporter=spec *.test.mjs

test-live: ## The live scenarios against a real EspoCRM (ESPOCRM_LIVE_URL, ESPOCRM_LIVE_API_KEY)
	@if [ -z "$$ESPOCRM_LIVE_URL" ] || [ -z "$$ESPOCRM_LIVE_API_KEY" ]; then \
		echo "make test-live: set ESPOCRM_LIVE_URL and ESPOCRM_LIVE_API_KEY (the key espomcp seed printed)" >&2; \
		exit 2; \
	fi
	$(CARGO) nextest run -p espomcp --test mcp --no-capture -E 'test(=live::against_live_espocrm)'

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

compose-up: ## Start a real EspoCRM 8.4.2 in Docker (docker-compose.yml, credentials in .env)
	@test -f .env || { echo "make compose-up: copy .env.example to .env and set its passwords first" >&2; exit 2; }
	docker compose --env-file .env up -d --wait

compose-down: ## Stop it (the data volumes are kept; `docker compose down -v` removes them)
	docker compose --env-file .env down

clean: ## Remove build output
	$(CARGO) clean
