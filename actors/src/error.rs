//! The errors that cross this crate's boundary.
//!
//! [`UpstreamError`] is what a caller gets when a request to EspoCRM did not produce a success:
//! it keeps the HTTP status and EspoCRM's own explanation (the `X-Status-Reason` header, and the
//! body where EspoCRM sends one) so the MCP layer can turn it into a precise tool error. It is
//! `Clone` because one failed metadata fetch is handed to every caller that waited for it.
//! [`SpawnError`] is what can go wrong while starting an actor, before any request is made.

use std::time::Duration;

use serde_json::Value;

/// Why a request to EspoCRM did not succeed.
///
/// A failed request is a value, never a failure of the gateway: the gateway keeps serving.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum UpstreamError {
    /// 401: the API key is unknown, or the user behind it is inactive. EspoCRM sends no reason.
    #[error("EspoCRM rejected the API key (401)")]
    AuthFailed,

    /// 403: the API user's role does not allow this. EspoCRM's reason is e.g. `No read access.`;
    /// the body carries details when it has them (linking to a record that does not exist).
    #[error("EspoCRM denied access (403){}", describe(.reason))]
    PermissionDenied { reason: Option<String>, body: Value },

    /// 404: no such record, or no such entity type (`Controller 'Foo' does not exist.`).
    #[error("EspoCRM found nothing there (404){}", describe(.reason))]
    NotFound { reason: Option<String> },

    /// 409 `duplicate`: the record would duplicate existing ones; `duplicates` is EspoCRM's
    /// array of them.
    #[error("EspoCRM found duplicates (409){}", describe(.reason))]
    Conflict {
        reason: Option<String>,
        duplicates: Value,
    },

    /// 409 `modified`: the record changed since the version the save was based on
    /// (`X-Version-Number`). `values` are the stored values of the attributes the save would
    /// have changed, `version_number` the record's version now.
    #[error("the record changed since the version the save was based on (409 modified){}", describe_version(.version_number))]
    Modified {
        values: Value,
        version_number: Option<i64>,
    },

    /// 409 `cannotModifyLockedRecord` or `cannotRemoveLockedRecord` (the `reason`): the record is
    /// locked. `field` is the label of the field whose change was refused, when EspoCRM names it.
    #[error("EspoCRM refused to change a locked record (409): {reason}")]
    Locked {
        reason: String,
        field: Option<String>,
    },

    /// 409 for any other reason (`cannotRemoveUsed`, `fieldAlreadyExists`, …): the request
    /// conflicts with the state of EspoCRM; the body carries EspoCRM's `messageTranslation`.
    #[error("EspoCRM refused the request as conflicting (409){}", describe(.reason))]
    OtherConflict { reason: Option<String>, body: Value },

    /// 429: EspoCRM (or a proxy in front of it) asks us to slow down.
    #[error("EspoCRM is rate limiting us (429){}", describe_wait(.retry_after))]
    RateLimited { retry_after: Option<Duration> },

    /// No complete answer within the configured per-request timeout.
    #[error("EspoCRM did not answer within the request timeout")]
    Timeout,

    /// The connection could not be made or broke before an answer arrived.
    #[error("could not reach EspoCRM: {message}")]
    Connection { message: String },

    /// Any other non-success status: 400 validation failures, 500, 502/503/504, unexpected
    /// redirects. `reason` is `X-Status-Reason` (or where a redirect pointed).
    #[error("EspoCRM answered {status}{}", describe(.reason))]
    Status {
        status: u16,
        reason: Option<String>,
        body: Value,
    },

    /// The answer was not what the EspoCRM API sends, e.g. HTML where JSON was due, or metadata
    /// that does not have the expected shape.
    #[error("EspoCRM's answer could not be understood (status {status}): {message}")]
    InvalidResponse { status: u16, message: String },

    /// The answer's body is longer than `max_response_bytes`; it was abandoned while it was
    /// read, never held whole.
    #[error("EspoCRM's answer (status {status}) is larger than the cap of {} bytes ({} MiB)", .limit, .limit / (1024 * 1024))]
    ResponseTooLarge { status: u16, limit: u64 },

    /// The request was refused before it was sent, e.g. a path segment that would change the
    /// path (`..`, empty) or an extra header that may not be set by callers.
    #[error("request not sent: {message}")]
    InvalidRequest { message: String },

    /// The actor that should have answered is gone, or did not answer within its reply timeout.
    #[error("the {actor} is not available: {message}")]
    Unavailable {
        actor: &'static str,
        message: String,
    },
}

impl UpstreamError {
    /// The HTTP status EspoCRM answered with, when there was an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::AuthFailed => Some(401),
            Self::PermissionDenied { .. } => Some(403),
            Self::NotFound { .. } => Some(404),
            Self::Conflict { .. }
            | Self::Modified { .. }
            | Self::Locked { .. }
            | Self::OtherConflict { .. } => Some(409),
            Self::RateLimited { .. } => Some(429),
            Self::Status { status, .. }
            | Self::InvalidResponse { status, .. }
            | Self::ResponseTooLarge { status, .. } => Some(*status),
            Self::Timeout
            | Self::Connection { .. }
            | Self::InvalidRequest { .. }
            | Self::Unavailable { .. } => None,
        }
    }

    /// Whether trying the same request again later may succeed (for the caller's advice; the
    /// gateway's own retry rules are in `retry.rs` and also depend on the method).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::RateLimited { .. }
            | Self::Timeout
            | Self::Connection { .. }
            | Self::Unavailable { .. } => true,
            Self::Status { status, .. } => matches!(status, 502..=504),
            Self::AuthFailed
            | Self::PermissionDenied { .. }
            | Self::NotFound { .. }
            | Self::Conflict { .. }
            | Self::Modified { .. }
            | Self::Locked { .. }
            | Self::OtherConflict { .. }
            | Self::InvalidResponse { .. }
            | Self::ResponseTooLarge { .. }
            | Self::InvalidRequest { .. } => false,
        }
    }

    /// EspoCRM's `X-Status-Reason`, when it gave one.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::PermissionDenied { reason, .. }
            | Self::NotFound { reason }
            | Self::Conflict { reason, .. }
            | Self::OtherConflict { reason, .. }
            | Self::Status { reason, .. } => reason.as_deref(),
            Self::Locked { reason, .. } => Some(reason),
            Self::Modified { .. } => Some("modified"),
            _ => None,
        }
    }
}

fn describe(reason: &Option<String>) -> String {
    match reason {
        Some(reason) => format!(": {reason}"),
        None => String::new(),
    }
}

fn describe_version(version_number: &Option<i64>) -> String {
    match version_number {
        Some(version) => format!("; it is at version {version} now"),
        None => String::new(),
    }
}

fn describe_wait(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(wait) => format!("; retry after {} s", wait.as_secs()),
        None => String::new(),
    }
}

/// Why an actor could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// `ESPOCRM_URL` is not an `http(s)://` address this crate can put paths under.
    #[error("invalid EspoCRM URL {url:?}: {message}")]
    InvalidBaseUrl { url: String, message: String },

    /// The API key cannot be sent as an HTTP header value (control characters, non-ASCII).
    #[error("the API key contains characters that cannot be sent in a header")]
    InvalidApiKey,

    /// The HTTP client could not be built (TLS backend initialisation).
    #[error("could not build the HTTP client: {0}")]
    HttpClient(String),

    /// The actor runtime refused to start the actor.
    #[error("could not start the {actor}: {message}")]
    Actor {
        actor: &'static str,
        message: String,
    },
}
