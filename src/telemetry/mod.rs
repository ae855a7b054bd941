//! espomcp's logs: where they go ([`logging`]), and what is taken out of them first
//! ([`redaction`]).
//!
//! [`init`] installs the logger once, early in `main`; at `trace`, bodies are logged through
//! [`redact`] or [`Redacted`], so personal data and credentials never reach a log.

pub mod logging;
pub mod redaction;

pub use logging::{TelemetryError, TelemetryGuard, init};
pub use redaction::{MASK, Redacted, redact};
