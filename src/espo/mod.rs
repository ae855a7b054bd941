//! EspoCRM's wire model: how its fields become attributes, and how a validated list request
//! becomes the PHP-style query pairs its REST API reads.
//!
//! What is written here is what EspoCRM 8.4.2 was observed to do, in recorded exchanges with a real server; the
//! validators in [`crate::validate`] rely on it to refuse what EspoCRM would answer with a bare
//! 500, a 400 that names no alternative, or a silent drop.
//!
//! # Layout
//!
//! - `answer.rs` — EspoCRM's answers read by shape ([`record`](answer::record),
//!   [`list_page`](answer::list_page)): any other shape is `UPSTREAM_ERROR`, never "nothing".
//! - `attributes.rs` — field → attribute expansion (`account` → `accountId`, `accountName`) and
//!   each attribute's [`AttributeKind`](attributes::AttributeKind).
//! - `query.rs` — [`ListQuery`](query::ListQuery): `where[i][…]`, `select`, `orderBy`, `order`,
//!   `maxSize`, `offset`, `textFilter` as raw pairs for
//!   [`EspoRequest::query`](espomcp_actors::EspoRequest).
//! - `wire_tests.rs` (tests only) — generated filters over a real schema, validated, encoded,
//!   put into a URL by the gateway's builder and read back by the sandbox's PHP-style decoder.

pub mod answer;
pub mod attributes;
pub mod query;
#[cfg(test)]
mod wire_tests;
