//! espomcp: an MCP server for EspoCRM.
//!
//! # Layout
//! - [`cli`]: the command line: `serve` (stdio, or `--http`), `tools`, `call`, `check`, `seed`,
//!   `sandbox`; each subcommand takes only its own flags.
//! - [`runtime`]: starts the actors and the server (and, with `--demo`, an in-process sandbox).
//! - [`server`]: the rmcp `ServerHandler`: capabilities, routing to the tool routers, the audit
//!   watch and the per-call time limit.
//! - [`tools`]: the tools, one file per toolset (read with the power tools, write, delete with
//!   its human confirmation, notes, kanban, email), the catalogue of their declarations, and the
//!   portable schemas of their parameters and answers.
//! - [`validate`]: pure validators of names, ids, list caps, `where` filters and write data.
//! - [`rules`]: one rule per value format (email, URL, phone, date, date-time), asked by the
//!   validators, the configuration, `draft_email`, the log redaction and `aggregate`.
//! - [`espo`]: EspoCRM's wire model: fields to attributes, list queries, the shape of answers.
//! - [`resources`] and [`completions`]: `espocrm://` resources and `completion/complete`, both
//!   served by the tools' own code.
//! - [`config`]: the settings, from built-in defaults, the TOML file and the environment, checked.
//! - [`telemetry`]: logging to stderr (and a file), and the redaction of bodies logged at TRACE.
//! - [`error`]: [`error::ToolError`] and the stable error codes tool calls fail with.
//! - [`toolsets`]: which tools are served (toolsets, read-only mode) and which entity types
//!   tools may touch.
//! - [`http`]: the Streamable HTTP transport (`serve --http`), with its bearer token and
//!   Origin/Host checks.
//! - [`outbound`]: the one check of every write sent to EspoCRM: nothing that would make EspoCRM
//!   send mail (`SEND_BLOCKED`).
//! - [`stdio`]: the stdio transport (newline-delimited JSON-RPC, every line answered), and
//!   [`framing`]: what is a message and the JSON-RPC error for what is not, on both transports.
//! - [`audit`]: the audit log of write tool calls (`SERVER_AUDIT_LOG`).
//! - [`seed`]: `espomcp seed`, which prepares a real EspoCRM for trying espomcp.
//!
//! The in-memory EspoCRM used by the tests, the benchmarks and the demo is the
//! `espocrm-sandbox` crate (sandbox/).
//!
//! # What is public, and for whom
//! Every module is public because the binary, the tests and the benchmarks reach into it: the
//! binary runs [`cli`]; the integration tests start a server in process from a [`Config`] with a
//! [`Runtime`] over [`stdio::StdioTransport`], and check [`config::SETTINGS`] and [`seed`]; the
//! benchmarks time [`validate`] and [`espo::query`] alone. The names most of them need are
//! re-exported here.

// Tool errors carry the message, suggestion and details an agent acts on; they are returned
// once per failed call, never in a loop, so their size does not matter.
#![allow(clippy::result_large_err)]

pub mod audit;
pub mod cli;
pub mod completions;
pub mod config;
pub mod error;
pub mod espo;
pub mod framing;
pub mod http;
pub mod outbound;
pub mod resources;
pub mod rules;
pub mod runtime;
pub mod seed;
pub mod server;
pub mod stdio;
pub mod telemetry;
pub mod tools;
pub mod toolsets;
pub mod validate;

pub use cli::Cli;
pub use config::{Config, LoadOptions};
pub use error::{ErrorCode, ToolError};
pub use runtime::Runtime;
pub use server::EspoMcp;
