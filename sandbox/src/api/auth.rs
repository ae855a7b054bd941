//! Authentication as EspoCRM does it, on every request: `Espo-Authorization`
//! (base64 `user:password`, preferred when present), HTTP Basic, or `X-Api-Key` for API users.
//! Every failure is a 401 with an empty `text/html` body; without any credentials EspoCRM adds
//! `WWW-Authenticate: Basic realm=""` unless the request looks like its own web client's.
//!
//! Auth tokens (EspoCRM's `AuthToken` records, its per-person sessions) live here too: every
//! request authenticated through `Espo-Authorization` with a real password creates one, and
//! `App/user` answers it as `token`. The password part of a login is first looked up as a
//! token, so `base64(user:token)` works with or without `Espo-Authorization-By-Token: true`;
//! with that header only a token is accepted. `POST App/destroyAuthToken` ends a token.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

use super::{Request, ok};
use crate::error::ApiError;
use crate::random::Rng;
use crate::store::Store;

/// The authenticated user.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: String,
    pub is_admin: bool,
    /// The auth token this request used or was given (`Espo-Authorization` logins only), which
    /// `App/user` answers as `token`.
    pub auth_token: Option<String>,
}

/// The auth tokens a sandbox has issued, active or ended. Tokens never expire on their own:
/// EspoCRM's idle limit (48 h) outlives any sandbox.
#[derive(Debug)]
pub struct AuthTokens {
    state: Mutex<TokenState>,
}

#[derive(Debug)]
struct TokenState {
    /// Makes the 32-hex token strings; its own sequence, so logins do not shift record ids.
    random: Rng,
    tokens: HashMap<String, AuthToken>,
}

#[derive(Debug, Clone)]
struct AuthToken {
    user_id: String,
    /// The user's password when the token was made: EspoCRM keeps the password hash in the
    /// token, so a changed password ends every token made with the old one.
    password: String,
    /// False once destroyed (EspoCRM inactivates rather than deletes).
    active: bool,
}

impl AuthTokens {
    /// No tokens yet; token strings follow from `seed`.
    pub fn new(seed: u64) -> AuthTokens {
        AuthTokens {
            state: Mutex::new(TokenState {
                random: Rng::new(seed ^ 0x5eed_70ce_a17b_0001),
                tokens: HashMap::new(),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, TokenState> {
        // A poisoned lock only means a handler panicked; the tokens are still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn find(&self, token: &str) -> Option<AuthToken> {
        self.state().tokens.get(token).cloned()
    }

    fn create(&self, user_id: &str, password: &str) -> String {
        let mut state = self.state();
        let token = loop {
            let candidate = format!(
                "{:016x}{:016x}",
                state.random.next_u64(),
                state.random.next_u64()
            );
            if !state.tokens.contains_key(&candidate) {
                break candidate;
            }
        };
        state.tokens.insert(
            token.clone(),
            AuthToken {
                user_id: user_id.to_owned(),
                password: password.to_owned(),
                active: true,
            },
        );
        token
    }

    /// Ends a token; false if it never existed.
    fn inactivate(&self, token: &str) -> bool {
        match self.state().tokens.get_mut(token) {
            Some(t) => {
                t.active = false;
                true
            }
            None => false,
        }
    }
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

/// A user who may log in with a password (not an API user), by user name.
fn password_user<'s>(store: &'s Store, user_name: &str) -> Option<(&'s String, &'s str)> {
    let (id, record) = store.all("User").find(|(_, u)| {
        u.get("userName").and_then(Value::as_str) == Some(user_name)
            && u.get("type").and_then(Value::as_str) != Some("api")
    })?;
    let stored = record.get("password").and_then(Value::as_str)?;
    Some((id, stored))
}

fn caller(store: &Store, id: &str, auth_token: Option<String>) -> Caller {
    Caller {
        user_id: id.to_owned(),
        is_admin: store
            .get("User", id)
            .and_then(|u| u.get("type"))
            .and_then(Value::as_str)
            == Some("admin"),
        auth_token,
    }
}

/// A login with a user name and a password or token, as EspoCRM's `Authentication::login`
/// runs it: the password is first looked up as an active token of that user (a destroyed one
/// counts as none); `by_token_only` (the `Espo-Authorization-By-Token: true` header) accepts
/// nothing else. `issue_token`: the request came through `Espo-Authorization`, so a password
/// login is given a new token.
fn login(
    store: &Store,
    tokens: &AuthTokens,
    user_name: &str,
    password: &str,
    by_token_only: bool,
    issue_token: bool,
) -> Option<Caller> {
    if password.is_empty() {
        return None;
    }
    let (id, stored) = password_user(store, user_name)?;
    if !active(store, id) {
        return None;
    }
    match tokens.find(password).filter(|t| t.active) {
        Some(token) => {
            // The token's user must be the named one, with the password it was made with.
            let valid = token.user_id == *id
                && constant_time_eq(token.password.as_bytes(), stored.as_bytes());
            valid.then(|| caller(store, id, issue_token.then(|| password.to_owned())))
        }
        None if by_token_only => None,
        None => {
            if !constant_time_eq(stored.as_bytes(), password.as_bytes()) {
                return None;
            }
            let token = issue_token.then(|| tokens.create(id, stored));
            Some(caller(store, id, token))
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Finds the user a request speaks for, or the 401 EspoCRM would send.
pub fn authenticate(
    store: &Store,
    tokens: &AuthTokens,
    headers: &HeaderMap,
) -> Result<Caller, Box<Response>> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let by_token_only = text("Espo-Authorization-By-Token") == Some("true");
    if let Some(espo) = text("Espo-Authorization") {
        return decode_pair(espo)
            .and_then(|(u, p)| login(store, tokens, &u, &p, by_token_only, true))
            .ok_or_else(|| Box::new(unauthorized(false)));
    }
    if let Some(basic) = text("Authorization").and_then(|v| v.strip_prefix("Basic ")) {
        return decode_pair(basic)
            .and_then(|(u, p)| login(store, tokens, &u, &p, by_token_only, false))
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
                auth_token: None,
            })
            .ok_or_else(|| Box::new(unauthorized(false)));
    }
    let from_web_client =
        text("X-Requested-With") == Some("XMLHttpRequest") || headers.contains_key(header::REFERER);
    Err(Box::new(unauthorized(!from_web_client)))
}

/// `POST App/destroyAuthToken {"token": …}`, what EspoCRM's logout sends: `true`, after which
/// the token no longer authenticates. No token in the body: 400; a token that never existed:
/// 404 `Auth token not found.`.
pub fn destroy_auth_token(tokens: &AuthTokens, req: &Request<'_>) -> Result<Response, ApiError> {
    let body = req.json_object()?;
    let token = body
        .get("token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::bad_request(""))?;
    if !tokens.inactivate(token) {
        return Err(ApiError::not_found("Auth token not found."));
    }
    Ok(ok(json!(true)))
}
