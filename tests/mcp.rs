//! Integration tests of the `espomcp` binary: each test starts an in-process EspoCRM sandbox,
//! spawns the real server over stdio and talks MCP to it with rmcp's client, on the 2025-11-25
//! handshake or the 2026-07-28 `server/discover` lifecycle. Tests about timing (expiry, TTLs,
//! cancellations, retries) run the same server in process instead, over an in-memory pipe, and
//! move tokio's paused clock rather than wait in real time.
//!
//! - `common`: starting sandboxes and servers (child process or in process), calling tools,
//!   reading the sandbox directly, letting time pass on tokio's clock.
//! - `eras`: identity, instructions and tools on both protocol eras; protocol errors.
//! - `read_tools`: the success path of every read tool, on both eras, checked against the data.
//! - `errors`: every error code the read tools produce.
//! - `human_delete`: deletes a person confirms through the client (elicitation on the
//!   handshake, an input-required round with a sealed requestState on 2026-07-28).
//! - `power_tools`: get_many, global_search, aggregate (progress, cancellation, ceiling,
//!   currencies), upcoming_activities and whoami, checked against the data.
//! - `lists`: every list argument's cap (schema and refusal), draft_email's recipient forms.
//! - `limits`: requests in flight, requests per second, bounded retries (the acceptance tests).
//! - `metadata`: one metadata fetch per miss, and its TTL.
//! - `logs`: stdout is protocol only; logs never carry the API key; exit when stdin closes.
//! - `prompts`: the six workflow prompts: listed, rendered, edited on disk.
//! - `reliability`: 500s and drops under load, the upstream restarting, 1,000 mixed calls,
//!   stdin closed, malformed input on stdin.
//! - `resources`: `espocrm://` resources and completions on both eras, checked against the data.
//! - `structured`: every tool's outputSchema, and each answer valid against it (jsonschema).
//! - `toolsets`: read-only mode, toolsets and the entity-type allow-list: tools/list, the
//!   refusal of hidden tools, INVALID_ENTITY_TYPE on every path, the flags.
//! - `http`: the Streamable HTTP transport: the bearer token, Host/Origin checks, both eras,
//!   graceful shutdown.
//! - `framing`: every bad input gets an answer: raw stdin lines and HTTP bodies that are not
//!   JSON, not a message or too long; params that do not fit; tool arguments named.
//! - `cli`: `tools`, `call`, `check`, `--help`, and a missing configuration.
//! - `seed`: `espomcp seed` against the sandbox: creates once, finds the second time, resets
//!   only its own records; stdout holds only the API key.
//! - `live`: the live scenarios, on a sandbox prepared by `espomcp seed`, and on a real EspoCRM
//!   when ESPOCRM_LIVE_URL and ESPOCRM_LIVE_API_KEY are set.
//! - `audit`: the audit log of write tool calls.
//! - `concurrency`: lost updates and locked records on both EspoCRM versions (RECORD_CHANGED,
//!   RECORD_LOCKED, versionNumber in reads), and what `check` reports of them.
//! - `send_block`: no mail as a side effect: Email reminders, links into target lists and
//!   campaigns, notes and Case status changes mailed to portal users are `SEND_BLOCKED` with no
//!   write upstream; notes are internal; `check` reports EspoCRM's own notification mail.
//! - `compose`: docker-compose.yml parses, with pinned images and the documented services.
//! - `install`: the Dockerfile, the Claude Desktop bundle's manifest, server.json, the release
//!   workflow, the crate's metadata and licence, and the README's client snippets.
//! - `upstream`: a broken or hostile upstream: echoed secrets masked in results and logs, the
//!   answer size cap, answers of the wrong shape as UPSTREAM_ERROR.

#[path = "mcp/audit.rs"]
mod audit;
#[path = "mcp/cli.rs"]
mod cli;
#[path = "mcp/common.rs"]
mod common;
#[path = "mcp/compose.rs"]
mod compose;
#[path = "mcp/concurrency.rs"]
mod concurrency;
#[path = "mcp/eras.rs"]
mod eras;
#[path = "mcp/errors.rs"]
mod errors;
#[path = "mcp/framing.rs"]
mod framing;
#[path = "mcp/http.rs"]
mod http;
#[path = "mcp/human_delete.rs"]
mod human_delete;
#[path = "mcp/install.rs"]
mod install;
#[path = "mcp/limits.rs"]
mod limits;
#[path = "mcp/lists.rs"]
mod lists;
#[path = "mcp/live.rs"]
mod live;
#[path = "mcp/logs.rs"]
mod logs;
#[path = "mcp/metadata.rs"]
mod metadata;
#[path = "mcp/power_tools.rs"]
mod power_tools;
#[path = "mcp/prompts.rs"]
mod prompts;
#[path = "mcp/read_tools.rs"]
mod read_tools;
#[path = "mcp/reliability.rs"]
mod reliability;
#[path = "mcp/resources.rs"]
mod resources;
#[path = "mcp/seed.rs"]
mod seed;
#[path = "mcp/send_block.rs"]
mod send_block;
#[path = "mcp/structured.rs"]
mod structured;
#[path = "mcp/toolsets.rs"]
mod toolsets;
#[path = "mcp/upstream.rs"]
mod upstream;
#[path = "mcp/write_tools.rs"]
mod write_tools;
