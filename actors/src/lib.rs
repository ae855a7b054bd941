//! The actors of espomcp and the typed messages that travel between them.
//!
//! Each piece of shared mutable state has exactly one owner here, an actor (ractor); everything
//! else holds a cloneable handle, sends it typed messages and awaits the answer with a timeout.
//! No lock is shared and no mailbox is held across network I/O, so each concurrency rule is a
//! property of one actor and can be read, and tested, in one file.
//!
//! # Layout
//!
//! - `gateway.rs` — [`Gateway`]: the only owner of the HTTP client, the API key, the rate limiter
//!   and the in-flight budget; queues, limits and retries every request to EspoCRM.
//! - `retry.rs` — [`RetryPolicy`]: which failures are retried (reads only), how often, how long
//!   to wait.
//! - `endpoint.rs` — the base URL (`.../api/v1/`) and the encoding of path segments and queries,
//!   so no value can change the path it is put into.
//! - `wire.rs` — [`EspoRequest`], [`EspoResponse`]: what callers send and get back.
//! - `error.rs` — [`UpstreamError`] (a failed request, as a value) and [`SpawnError`].
//! - `secret.rs` — [`ApiKey`], which never shows itself.

mod endpoint;
mod error;
mod gateway;
mod retry;
mod secret;
mod wire;

pub use endpoint::normalize_base_url;
pub use error::{SpawnError, UpstreamError};
pub use gateway::{Gateway, GatewayConfig, GatewayStats, RateLimit};
pub use retry::RetryPolicy;
pub use secret::ApiKey;
pub use wire::{EspoRequest, EspoResponse, Method};
