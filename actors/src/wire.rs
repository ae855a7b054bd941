//! The EspoCRM request and response as they travel between callers and the gateway.
//!
//! A request names its path as a list of raw segments and its query as raw pairs; the gateway
//! does all the encoding (see `endpoint.rs`), so a caller cannot build a URL by hand and no
//! value — an id, a link name, a search term — can change the path or the query it is put into.

use serde_json::Value;

/// The HTTP methods the EspoCRM API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    /// Only reads may be retried: repeating a write that timed out could apply it twice.
    pub fn is_idempotent_read(self) -> bool {
        matches!(self, Self::Get)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }

    pub(crate) fn to_reqwest(self) -> reqwest::Method {
        match self {
            Self::Get => reqwest::Method::GET,
            Self::Post => reqwest::Method::POST,
            Self::Put => reqwest::Method::PUT,
            Self::Patch => reqwest::Method::PATCH,
            Self::Delete => reqwest::Method::DELETE,
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One request to the EspoCRM REST API, relative to `.../api/v1/`.
#[derive(Debug, Clone, PartialEq)]
pub struct EspoRequest {
    pub method: Method,
    /// Raw, unencoded segments, e.g. `["Account", id, "contacts"]`. Each becomes exactly one
    /// path segment: `/`, `?`, `#`, `%` inside a value are percent-encoded, and the gateway
    /// refuses segments that are empty, `.` or `..` (URL rules would fold those away).
    pub path_segments: Vec<String>,
    /// Raw, unencoded pairs in order, e.g. `("where[0][type]", "equals")`.
    pub query: Vec<(String, String)>,
    /// The JSON body, for writes.
    pub body: Option<Value>,
    /// Extra headers EspoCRM understands, e.g. `X-Skip-Duplicate-Check: true`, `X-No-Total: true`.
    /// Credentials cannot be set here; the gateway refuses `X-Api-Key` and authorisation headers.
    pub headers: Vec<(String, String)>,
}

impl EspoRequest {
    /// A request with no query, body or extra headers.
    pub fn new<I, S>(method: Method, path_segments: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            method,
            path_segments: path_segments.into_iter().map(Into::into).collect(),
            query: Vec::new(),
            body: None,
            headers: Vec::new(),
        }
    }

    pub fn get<I, S>(path_segments: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::new(Method::Get, path_segments)
    }

    pub fn post<I, S>(path_segments: I, body: Value) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::new(Method::Post, path_segments).with_body(body)
    }

    pub fn with_query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    pub fn with_body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// `GET Account/abc` — for logs. Holds no query values (they may be personal data).
    pub fn describe(&self) -> String {
        format!("{} {}", self.method, self.path_segments.join("/"))
    }
}

/// A successful (2xx) answer from EspoCRM.
#[derive(Debug, Clone, PartialEq)]
pub struct EspoResponse {
    pub status: u16,
    /// `X-Status-Reason`, rarely present on success but kept when it is.
    pub status_reason: Option<String>,
    /// The parsed JSON body; `Value::Null` when the body was empty.
    pub body: Value,
}
