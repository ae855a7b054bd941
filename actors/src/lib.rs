//! The actors of espomcp and the typed messages that travel between them.
//!
//! Each piece of shared mutable state has exactly one owner here, an actor (ractor); everything
//! else holds a cloneable handle, sends it typed messages and awaits the answer with a timeout.
//! No lock is shared and no mailbox is held across network I/O, so each concurrency rule is a
//! property of one actor and can be read, and tested, in one file.
//!
//! A failed request is a value in the reply, never a failure of an actor: handlers return `Err`
//! only if the actor itself is broken. There is no supervisor yet, on purpose: no handler has a
//! failure path short of a bug, and a restarted gateway would have lost its queue's reply ports
//! anyway, so its callers would see the same `Unavailable` error. `spawn` returns each actor's
//! join handle so the binary can notice one that stopped.
//!
//! # Layout
//!
//! - `gateway.rs` — [`Gateway`]: the only owner of the HTTP client, the API key, the rate limiter
//!   and the in-flight budget; queues, limits and retries every request to EspoCRM.
//! - `retry.rs` — [`RetryPolicy`]: which failures are retried (reads only), how often, how long
//!   to wait.
//! - `endpoint.rs` — the base URL (`.../api/v1/`) and the encoding of path segments and queries,
//!   so no value can change the path it is put into.
//! - `metadata.rs` — [`MetadataCache`]: the only owner of the parsed schema; one fetch per miss,
//!   however many callers missed, kept for a TTL; with it, what is derived from the schema once
//!   per fetch ([`SchemaView`]: the schema restricted to the allowed entity types, and
//!   `get_schema`'s rendered answers).
//! - `schema.rs` — [`Schema`]: entity types, fields, links and the API user's rights, parsed from
//!   `GET Metadata` and `GET App/user`.
//! - `deletes.rs` — [`DeleteConfirmations`]: the only owner of pending delete previews; a
//!   preview of one record, claimed once by whoever made it, before it expires; its status can
//!   be looked at without claiming it.
//! - `prompts/` — [`PromptStore`]: the only owner of the prompt template files. `mod.rs` holds
//!   the store and its actor; `catalogue.rs` the six prompts and their arguments; `files.rs` the
//!   reading of a template and the atomic writing of a default on first use; `template.rs` the
//!   template syntax.
//! - `plumbing.rs` — how every handle above starts its actor and waits for an answer with a
//!   timeout, and the `Unavailable` error a caller gets when none comes.
//! - `wire.rs` — [`EspoRequest`], [`EspoResponse`]: what callers send and get back.
//! - `json.rs` — [`parse_json`]: an answer's body as a `serde_json::Value`, equal to serde_json's
//!   own parse, with each object's map made at its final size.
//! - `error.rs` — [`UpstreamError`] (a failed request, as a value) and [`SpawnError`].
//! - `secret.rs` — [`ApiKey`] and [`Secret`], which never show themselves, and the [`Scrubber`]
//!   that takes them out of every answer from upstream.

mod deletes;
mod endpoint;
mod error;
mod gateway;
mod json;
mod metadata;
mod plumbing;
mod prompts;
mod retry;
mod schema;
mod secret;
mod wire;

pub use deletes::{
    ClaimOutcome, DeleteConfirmations, HeldPreview, PendingDelete, PreviewStatus, RecordState,
};
pub use endpoint::{build_url, normalize_base_url};
pub use error::{SpawnError, UpstreamError};
pub use gateway::{
    Gateway, GatewayConfig, GatewaySettings, GatewayStats, MAX_REASON_CHARS, RateLimit,
};
pub use json::parse as parse_json;
pub use metadata::{MetadataCache, Rendered, Restriction, SchemaView};
pub use prompts::{PromptArgumentInfo, PromptError, PromptInfo, PromptStore, RenderedPrompt};
pub use retry::RetryPolicy;
pub use schema::{
    AccessLevel, AccessLevels, Action, CurrentUser, EntityType, Field, FieldType, InternalNotes,
    Link, LinkType, MailNotifications, Schema, SchemaError, ScopeAccess,
};
pub use secret::{ApiKey, MASK, Scrubber, Secret, bounded};
pub use wire::{EspoRequest, EspoResponse, Method};
