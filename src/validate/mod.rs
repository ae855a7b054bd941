//! Pure validators: everything a tool call names or asks for is checked here, against the
//! schema where there is one, before it can become an EspoCRM request.
//!
//! Nothing in this module does I/O or holds state: each validator takes the caller's value (and
//! the [`Schema`](espomcp_actors::Schema) or [`EntityType`](espomcp_actors::EntityType) it is
//! checked against) and returns either the validated value, spelled as EspoCRM spells it, or a
//! [`ValidationError`] that names the offending part and says what would have been accepted.
//!
//! # Layout
//!
//! - `error.rs` — [`ValidationError`]: the refusals, their stable codes, messages and
//!   suggestions.
//! - `names.rs` — entity types, fields and attributes, links, ids, `limit`/`offset`, `select`,
//!   `orderBy`/`order`.
//! - `where_clause.rs` — the `where` filter: the caller's conditions in, a validated
//!   [`Where`](where_clause::Where) tree out.
//! - `write/` — the `data` of a create or an update: every attribute writable, every value
//!   fitting its field, every required field given; refusals come all at once, as
//!   [`WriteErrors`](write::WriteErrors).
//! - `lists.rs` — [`BoundedVec`](lists::BoundedVec): every list argument has a cap, stated in
//!   its schema (`maxItems`) and enforced while it is read; `draft_email`'s recipients.
//! - `suggest.rs` — close matches for misspelt names.
//! - `deserialize.rs` — which argument a value of the wrong shape is about (tool arguments,
//!   MCP request params).

pub mod deserialize;
pub mod error;
pub mod lists;
pub mod names;
#[cfg(test)]
pub(crate) mod strategies;
mod suggest;
#[cfg(test)]
pub(crate) mod test_schema;
pub mod where_clause;
pub mod write;

pub use error::ValidationError;
