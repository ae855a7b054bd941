//! espomcp: an MCP server for EspoCRM.
//!
//! # Layout
//! - [`cli`]: the command line (`espomcp sandbox`, and the MCP server commands as they land).
//!
//! The in-memory EspoCRM used by the tests, the benchmarks and the demo is the
//! `espocrm-sandbox` crate (sandbox/).

pub mod cli;
pub mod espo;
pub mod validate;
