//! The HTTP face of the sandbox: one dispatcher that routes `/api/v1/...` the way EspoCRM's
//! router does (specific routes first, then the generic record routes, entity types matched
//! case-insensitively, Slim's HTML 404 for paths no route matches), after authenticating every
//! request on its own as EspoCRM does (API key, `Espo-Authorization`, HTTP Basic).
//!
//! The routes, one module per family: `records` (the generic record routes), `app` (`App/user`,
//! `Metadata`, `Settings`), `stream` (streams, notes, following), `global_search`, `activities`
//! (activities and attendees), `kanban`, `email` (drafts, e-mails of records, what one user
//! sees of them), `email_template` (rendering), `admin` (users and roles) and `openapi`
//! (EspoCRM 10's OpenAPI document); `auth` authenticates and keeps the auth tokens of password
//! logins.
//!
//! `attachment` uploads files and serves them back (`Attachment`, `Attachment/file/{id}`,
//! 10.0's `{E}/{id}/streamAttachments`).
//!
//! `action` holds the record actions (`POST Action`: 10.0's lock and unlock).

mod action;
mod activities;
mod admin;
mod app;
mod attachment;
mod auth;
mod email;
mod email_template;
mod global_search;
mod kanban;
mod openapi;
mod records;
mod stream;

use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDateTime;
use serde_json::{Map, Value};

use crate::acl::Access;
use crate::error::ApiError;
use crate::list;
use crate::model::Metadata;
use crate::store::{Actor, Store};
use crate::version::EspoVersion;

pub use auth::{AuthTokens, Caller};

/// Everything a request handler may touch. The store sits behind one mutex that is never held
/// across an await, so a request sees and leaves the CRM in a consistent state.
#[derive(Debug)]
pub struct ApiState {
    pub store: Mutex<Store>,
    /// Addresses API users may not send from although `App/user` lists them (the system
    /// address, unusable without SMTP).
    pub system_email: String,
    /// Settings changed over the recorded ones (`SandboxConfig::settings`).
    pub settings: Map<String, Value>,
    /// The EspoCRM version the sandbox answers as.
    pub version: EspoVersion,
    /// The auth tokens of password logins (per-person sessions).
    pub auth_tokens: auth::AuthTokens,
}

impl ApiState {
    pub fn store(&self) -> MutexGuard<'_, Store> {
        // A poisoned lock only means a handler panicked mid-request; the data is still usable.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The current time, UTC, as EspoCRM stores it.
pub fn now() -> NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

/// The site root, where a record's link (`{url}/#Opportunity/view/{id}`) leads. The sandbox
/// has no web UI; rather than a 404 the page says what this is and which record was meant
/// (the part after `#`, which browsers never send), with no data and no key in it.
pub fn site_root() -> Response {
    const PAGE: &str = "<!doctype html>\n<html><head><meta charset=\"utf-8\">\
<title>espocrm-sandbox</title></head><body>\n<h1>espocrm-sandbox</h1>\n\
<p>This is the in-memory EspoCRM of espomcp's demo (<code>espomcp --demo</code>). It has no web \
interface: its records live in memory for as long as the espomcp process that started it.</p>\n\
<p>Record: <code id=\"record\">(none)</code>. Ask your agent to read it (the <code>get</code> \
tool), or point espomcp at a real EspoCRM to open records in EspoCRM itself.</p>\n\
<script>var h=decodeURIComponent(location.hash.slice(1));\
if(h){document.getElementById('record').textContent=h;}</script>\n</body></html>\n";
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        PAGE,
    )
        .into_response()
}

/// Slim's 404 page, returned for paths that match no route.
const NOT_FOUND_PAGE: &str = "<!doctype html><html lang=\"en\">    <head>        <meta charset=\"utf-8\">        <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">        <title>404 Not Found</title>        <style>            body{margin:0;padding:30px;font:12px/1.5 Helvetica,Arial,Verdana,sans-serif}            h1{margin:0;font-size:48px;font-weight:normal;line-height:48px}            strong{display:inline-block;width:65px}        </style>    </head>    <body>        <h1>404 Not Found</h1>        <div><p>The requested resource could not be found. Please verify the URI and try again.</p></div>        <a href=\"#\" onclick=\"window.history.go(-1)\">Go Back</a>    </body></html>";

pub fn route_not_found() -> Response {
    let mut r = (StatusCode::NOT_FOUND, NOT_FOUND_PAGE).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html;charset=UTF-8"),
    );
    r
}

/// A 200 answer with EspoCRM's JSON and caching headers.
pub fn ok(value: Value) -> Response {
    let mut r = (StatusCode::OK, value.to_string()).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache, must-revalidate, post-check=0, pre-check=0"),
    );
    h.insert(header::EXPIRES, HeaderValue::from_static("0"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    let now = chrono::Utc::now();
    if let Ok(v) = HeaderValue::from_str(&now.timestamp().to_string()) {
        h.insert("X-App-Timestamp", v);
    }
    if let Ok(v) = HeaderValue::from_str(&now.format("%a, %d %b %Y %H:%M:%S GMT").to_string()) {
        h.insert(header::LAST_MODIFIED, v);
    }
    r
}

/// A 200 answer with one rendered record (500 if it vanished, which cannot happen under the lock).
pub fn render_ok(
    store: &Store,
    entity: &crate::model::EntityDef,
    id: &str,
    set: crate::store::AttributeSet<'_>,
    viewer: &str,
) -> Result<Response, ApiError> {
    let body = store
        .render(entity, id, set, viewer)
        .ok_or_else(ApiError::internal)?;
    Ok(ok(Value::Object(body)))
}

/// One parsed request, as the handlers see it.
pub struct Request<'a> {
    pub method: &'a Method,
    pub segments: Vec<String>,
    pub query: Map<String, Value>,
    pub headers: &'a HeaderMap,
    pub body: &'a Bytes,
    pub caller: Caller,
    pub access: Access,
    /// The EspoCRM version the sandbox answers as.
    pub version: EspoVersion,
    /// The store's description of the entity types when the request started.
    metadata: Arc<Metadata>,
}

impl Request<'_> {
    /// The description of the entity types, as it was when this request started.
    pub fn meta(&self) -> &Metadata {
        &self.metadata
    }

    /// The JSON body; invalid JSON is an unhandled error in EspoCRM (500, no reason).
    pub fn json(&self) -> Result<Value, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Object(Map::new()));
        }
        serde_json::from_slice(self.body).map_err(|_| ApiError::internal())
    }

    pub fn json_object(&self) -> Result<Map<String, Value>, ApiError> {
        match self.json()? {
            Value::Object(m) => Ok(m),
            _ => Err(ApiError::bad_request("")),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The caller as the store records them: creator and modifier of what they write.
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: self.caller.user_id.clone(),
            is_admin: self.caller.is_admin,
        }
    }

    /// `offset` and `maxSize` for the routes that page by hand: unreadable values are the
    /// defaults, and `maxSize` is at most [`list::MAX_SIZE`].
    pub fn page(&self) -> (usize, usize) {
        let int = |k: &str| {
            self.query
                .get(k)
                .and_then(Value::as_str)
                .and_then(|s| s.trim().parse::<usize>().ok())
        };
        (
            int("offset").unwrap_or(0),
            int("maxSize").unwrap_or(list::MAX_SIZE).min(list::MAX_SIZE),
        )
    }
}

/// The single entry point for `/api/v1/...`.
pub async fn dispatch(
    State(state): State<Arc<ApiState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(rest) = uri.path().strip_prefix("/api/v1") else {
        if method == Method::GET && uri.path() == "/" {
            return site_root();
        }
        return route_not_found();
    };
    let segments: Vec<String> = rest
        .trim_start_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    let segments = if segments.len() == 1 && segments[0].is_empty() {
        Vec::new()
    } else {
        segments
    };
    let query = crate::query_string::parse(uri.query().unwrap_or(""));
    let caller = {
        let store = state.store();
        match auth::authenticate(&store, &state.auth_tokens, &headers) {
            Ok(c) => c,
            Err(r) => return *r,
        }
    };
    let (access, metadata) = {
        let store = state.store();
        (Access::for_user(&store, &caller.user_id), store.meta())
    };
    let request = Request {
        method: &method,
        segments,
        query,
        headers: &headers,
        body: &body,
        caller,
        access,
        version: state.version,
        metadata,
    };
    match route(&state, &request) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn route(state: &ApiState, req: &Request<'_>) -> Result<Response, ApiError> {
    let seg: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let m = req.method;
    let get = m == Method::GET;
    let post = m == Method::POST;
    let put = m == Method::PUT || m == Method::PATCH;
    let delete = m == Method::DELETE;
    if seg.iter().any(|s| s.is_empty()) {
        return Ok(route_not_found());
    }
    match seg.as_slice() {
        [] if get => Ok(ok(Value::String("EspoCRM REST API".into()))),
        ["App", "user"] if get => app::app_user(state, req),
        ["App", "destroyAuthToken"] if post => auth::destroy_auth_token(&state.auth_tokens, req),
        ["OpenApi"] if get && req.version.at_least(EspoVersion::V10_0) => openapi::spec(req),
        ["Metadata"] if get => app::metadata(req),
        ["Settings"] if get => app::settings(state, req),
        ["Stream"] if get => stream::own_stream(state, req),
        ["GlobalSearch"] if get => global_search::global_search(state, req),
        ["Kanban", "order"] if put => kanban::kanban_order(state, req),
        ["Kanban", entity] if get => kanban::kanban(state, req, entity),
        ["EmailTemplate", id, "prepare"] if post => {
            email_template::prepare_template(state, req, id)
        }
        ["Activities", parent, id, kind @ ("activities" | "history")] if get => {
            activities::activities(state, req, parent, id, kind)
        }
        [entity @ ("Meeting" | "Call"), id, "attendees"] if get => {
            activities::attendees(state, req, entity, id)
        }
        ["Action"] if post => action::action(state, req),
        ["Role"] | ["Role", _] => admin::roles(state, req),
        ["Attachment"] if get => attachment::list(state, req),
        ["Attachment"] if post => attachment::upload(state, req),
        ["Attachment", "file", id] if get => attachment::file(state, req, id),
        ["Attachment", id] if get => attachment::read(state, req, id),
        ["Note"] if post => stream::post_note(state, req),
        ["Email"] if post => email::create_email(state, req),
        [e] if get && e.eq_ignore_ascii_case("Email") => email::list_emails(state, req),
        [e, id] if get && e.eq_ignore_ascii_case("Email") => email::read_email(state, req, id),
        [entity, id, link] if get && email::is_email_link(req, entity, link) => {
            email::list_related_emails(state, req, entity, id, link)
        }
        ["User"] if post => admin::create_user(state, req),
        [entity] if get => records::list(state, req, entity),
        [entity] if post => records::create(state, req, entity),
        [entity, id] if get => records::read(state, req, entity, id),
        [entity, id] if put => records::update(state, req, entity, id),
        [entity, id] if delete => records::delete(state, req, entity, id),
        [entity, id, "stream"] if get => stream::record_stream(state, req, entity, id, false),
        [entity, id, "posts"] if get => stream::record_stream(state, req, entity, id, true),
        [entity, id, "subscription"] if put || delete => {
            stream::subscription(state, req, entity, id)
        }
        [entity, id, "streamAttachments"] if get && req.version.at_least(EspoVersion::V10_0) => {
            attachment::stream_attachments(state, req, entity, id)
        }
        [entity, id, link] if get => records::list_related(state, req, entity, id, link),
        [entity, id, link] if post || delete => records::link(state, req, entity, id, link),
        _ => Ok(route_not_found()),
    }
}

/// Resolves a controller name: a described entity type, or the 404 EspoCRM gives for
/// unknown ones. Known scopes without a description (admin-only types) answer 403 to
/// non-admins, as EspoCRM's ACL does.
pub fn entity_for<'m>(
    req: &'m Request<'_>,
    segment: &str,
    action: crate::acl::Action,
) -> Result<&'m crate::model::EntityDef, ApiError> {
    let meta: &'m Metadata = req.meta();
    match meta.resolve(segment) {
        Some(e) => {
            req.access.require(&e.name, action)?;
            Ok(e)
        }
        None if meta.is_known_scope(segment) => Err(action.denied()),
        None => Err(ApiError::unknown_controller(segment)),
    }
}

/// Builds a response body that streams a prefix and then fails, so the client sees the
/// connection drop mid-response (fault injection).
pub fn broken_body() -> Body {
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from_static(b"{\"total\": 1, \"list\": [")),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fault injection: connection dropped",
        )),
    ];
    Body::from_stream(futures_lite_stream(chunks))
}

fn futures_lite_stream(
    items: Vec<Result<Bytes, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    struct Iter(std::vec::IntoIter<Result<Bytes, std::io::Error>>);
    impl futures_core::Stream for Iter {
        type Item = Result<Bytes, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.0.next())
        }
    }
    Iter(items.into_iter())
}
