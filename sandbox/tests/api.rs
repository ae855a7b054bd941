//! The sandbox's REST API, end to end: every test starts its own sandbox on `127.0.0.1:0`, talks
//! to it over HTTP the way espomcp does, and checks the answer against what a real EspoCRM 8.4.2
//! answered to the same request (statuses, `X-Status-Reason` texts, content types, bodies), then
//! the state the sandbox is left in.
//!
//! # Layout
//! - `common`: starting a sandbox, making requests as each actor, decoding answers, listing helpers.
//! - `auth`: credentials, the read-only key's refusals, routing of unknown entities and paths.
//! - `list`: paging, ordering, `select`, text search, named filters, `searchParams`, `X-No-Total`.
//! - `where_filters`: every `where` operator checked against a full listing, and the errors.
//! - `crud`: create, read, update, delete; validation, duplicates, derived attributes.
//! - `links`: related lists, relate and unrelate.
//! - `concurrency`: `versionNumber` and 409 `modified` (10.0); `locks`: locked records (10.0);
//!   `record_rules`: duplicate flags, unknown links and create defaults on both versions.
//! - `stream`: posts, record streams, the user's stream, following.
//! - `kanban`: groups, per-user ordering, moving cards.
//! - `attachment`: uploads, downloads, adoption by Note/Email/Case, who may read whose file.
//! - `email`: drafts, the `from` rules, sending without SMTP, templates.
//! - `admin`: roles and API users, `App/user`, metadata, global search, activities.
//! - `openapi`: EspoCRM 10's OpenAPI document and who may read it.
//! - `token`: the person user's password login, auth tokens, logging out.
//! - `faults`: injected latency, errors, 429s, dropped connections, statistics, robustness.
//! - `versions`: what 10.0 adds to metadata, `App/user` and records; `GET Metadata?key=`.

// A test crate root looks for its modules next to it; they live in `api/` instead.
#[path = "api/common.rs"]
mod common;

#[path = "api/admin.rs"]
mod admin;
#[path = "api/attachment.rs"]
mod attachment;
#[path = "api/auth.rs"]
mod auth;
#[path = "api/concurrency.rs"]
mod concurrency;
#[path = "api/crud.rs"]
mod crud;
#[path = "api/email.rs"]
mod email;
#[path = "api/faults.rs"]
mod faults;
#[path = "api/kanban.rs"]
mod kanban;
#[path = "api/links.rs"]
mod links;
#[path = "api/list.rs"]
mod list;
#[path = "api/locks.rs"]
mod locks;
#[path = "api/openapi.rs"]
mod openapi;
#[path = "api/record_rules.rs"]
mod record_rules;
#[path = "api/stream.rs"]
mod stream;
#[path = "api/token.rs"]
mod token;
#[path = "api/versions.rs"]
mod versions;
#[path = "api/where_filters.rs"]
mod where_filters;
