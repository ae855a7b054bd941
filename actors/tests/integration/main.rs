//! Integration tests of the actors against a scripted HTTP server on `127.0.0.1:0`.
//!
//! One test binary; each module is one concern. `mock` is the scripted server: it records what it
//! saw (raw path, query, headers, body, arrival time) and how many requests it held at once, and
//! answers what the test's script says (status, headers, body, delay).

mod gateway_limits;
mod gateway_requests;
mod gateway_retries;
mod metadata;
mod mock;
mod schema;
