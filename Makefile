# espomcp — the short names for everything. `make help` lists them.
CARGO ?= cargo
# Not 8080: docker-compose.yml's EspoCRM listens there.
SANDBOX_LISTEN ?= 127.0.0.1:8089
# Where cargo builds (CARGO_TARGET_DIR when set) and where `make mcpb` takes the binary from.
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
BINARY_DIR ?= $(TARGET_DIR)/release
# The MCPB command-line tool that validates and packs the bundle (npm, run through npx).
MCPB_CLI ?= @anthropic-ai/mcpb@2.1.2
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)

# The binary the client tests start: the debug build in TARGET_DIR.
ESPOMCP_BIN ?= $(abspath $(TARGET_DIR))/debug/espomcp

.PHONY: help build install mcpb test test-clients test-live lint fmt bench demo sandbox compose-up compose-down replay clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/$$(SANDBOX_LISTEN)/$(SANDBOX_LISTEN)/' | awk -F':.*## ' '{printf "  %-13s %s\n", $$1, $$2}'

build: ## Build every crate, release mode
	$(CARGO) build --release --workspace

install: ## Install the espomcp binary into ~/.cargo/bin (cargo install --path .)
	$(CARGO) install --locked --path .

mcpb: ## Claude Desktop extension for this machine: dist/espomcp-VERSION-OS-ARCH.mcpb (needs Node)
	$(CARGO) build --release --locked -p espomcp --bin espomcp
	rm -rf $(TARGET_DIR)/mcpb && mkdir -p $(TARGET_DIR)/mcpb/server dist
	cp $(BINARY_DIR)/espomcp $(TARGET_DIR)/mcpb/server/espomcp
	cp LICENSE $(TARGET_DIR)/mcpb/
	@# The bundle holds this machine's binary only: say so in its manifest.
	node -e 'const m = require("./mcpb/manifest.json"); m.compatibility.platforms = [process.platform]; console.log(JSON.stringify(m, null, 2))' > $(TARGET_DIR)/mcpb/manifest.json
	npx --yes $(MCPB_CLI) validate $(TARGET_DIR)/mcpb/manifest.json
	npx --yes $(MCPB_CLI) pack $(TARGET_DIR)/mcpb dist/espomcp-$(VERSION)-$$(node -p 'process.platform + "-" + process.arch').mcpb

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

demo: ## Serve MCP over stdio on built-in demo data (espomcp --demo), what a client launches
	$(CARGO) run --release -- --demo

sandbox: ## Run the EspoCRM REST sandbox with demo data on $(SANDBOX_LISTEN)
	$(CARGO) run --release -- sandbox --listen $(SANDBOX_LISTEN)

compose-up: ## Start a real EspoCRM 8.4.2 in Docker (docker-compose.yml, credentials in .env)
	@test -f .env || { echo "make compose-up: copy .env.example to .env and set its passwords first" >&2; exit 2; }
	docker compose --env-file .env up -d --wait

compose-down: ## Stop it (the data volumes are kept; `docker compose down -v` removes them)
	docker compose --env-file .env down

clean: ## Remove build output
	$(CARGO) clean
