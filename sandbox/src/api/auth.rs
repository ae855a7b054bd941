//! Authentication as EspoCRM 8 does it, on every request: `Espo-Authorization`
//! (base64 `user:password`, preferred when present), HTTP Basic, or `X-Api-Key` for API users.
//! Every failure is a 401 with an empty `text/html` body; without any credentials EspoCRM adds
//! `WWW-Authenticate: Basic realm=""` unless the request looks like its own web client's.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::Value;

use crate::store::Store;

/// The authenticated user.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: String,
    pub is_admin: bool,
}

fn unauthorized(challenge: bool) -> Response {
    let mut r = (StatusCode::UNAUTHORIZED, "").into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=UTF-8"),
    );
    if challenge {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"\""),
        );
    }
    r
}

fn decode_pair(encoded: &str) -> Option<(String, String)> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn active(store: &Store, id: &str) -> bool {
    store
        .get("User", id)
        .and_then(|u| u.get("isActive"))
        .and_then(Value::as_bool)
        .unwrap_or(true)
}

fn by_password(store: &Store, user_name: &str, password: &str) -> Option<Caller> {
    let (id, record) = store.all("User").find(|(_, u)| {
        u.get("userName").and_then(Value::as_str) == Some(user_name)
            && u.get("type").and_then(Value::as_str) != Some("api")
    })?;
    let stored = record.get("password").and_then(Value::as_str)?;
    if !constant_time_eq(stored.as_bytes(), password.as_bytes()) || !active(store, id) {
        return None;
    }
    Some(Caller {
        user_id: id.clone(),
        is_admin: record.get("type").and_then(Value::as_str) == Some("admin"),
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Finds the user a request speaks for, or the 401 EspoCRM would send.
pub fn authenticate(store: &Store, headers: &HeaderMap) -> Result<Caller, Box<Response>> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(espo) = text("Espo-Authorization") {
        return decode_pair(espo)
            .and_then(|(u, p)| by_password(store, &u, &p))
            .ok_or_else(|| Box::new(unauthorized(false)));
    }
    if let Some(basic) = text("Authorization").and_then(|v| v.strip_prefix("Basic ")) {
        return decode_pair(basic)
            .and_then(|(u, p)| by_password(store, &u, &p))
            .ok_or_else(|| Box::new(unauthorized(false)));
    }
    if let Some(key) = text("X-Api-Key") {
        return store
            .all("User")
            .find(|(_, u)| {
                u.get("type").and_then(Value::as_str) == Some("api")
                    && u.get("apiKey")
                        .and_then(Value::as_str)
                        .is_some_and(|k| constant_time_eq(k.as_bytes(), key.as_bytes()))
            })
            .filter(|(id, _)| active(store, id))
            .map(|(id, _)| Caller {
                user_id: id.clone(),
                is_admin: false,
            })
            .ok_or_else(|| Box::new(unauthorized(false)));
    }
    let from_web_client =
        text("X-Requested-With") == Some("XMLHttpRequest") || headers.contains_key(header::REFERER);
    Err(Box::new(unauthorized(!from_web_client)))
}
