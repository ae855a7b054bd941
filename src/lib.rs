//! espomcp: an MCP server for EspoCRM.
//!
//! # Layout
//! - [`cli`]: the command line (`espomcp sandbox`, and the MCP server commands as they land).
//! - [`config`]: the settings, from built-in defaults, the TOML file and the environment, checked.
//! - [`telemetry`]: logging to stderr (and a file), and the redaction of bodies logged at TRACE.
//! - [`error`]: [`error::ToolError`] and the stable error codes tool calls fail with.
//!
//! The in-memory EspoCRM used by the tests, the benchmarks and the demo is the
//! `espocrm-sandbox` crate (sandbox/).

pub mod cli;
pub mod config;
pub mod error;
pub mod telemetry;
pub mod espo;
pub mod validate;
