//! The Streamable HTTP transport: `espomcp serve --http 127.0.0.1:8765` (`SERVER_HTTP_ADDR`)
//! serves MCP at `/mcp` through rmcp's `StreamableHttpService`, stateless, in axum. Both
//! protocol eras work: the 2025-11-25 `initialize` handshake (answered without a session) and
//! the 2026-07-28 per-request `server/discover` lifecycle.
//!
//! In front of MCP, in this order:
//! - the bearer token (`SERVER_HTTP_TOKEN`): when set, every request must carry
//!   `Authorization: Bearer <token>`, compared in constant time; otherwise 401 with
//!   `WWW-Authenticate`. Required off loopback (the configuration refuses to start without it);
//! - DNS-rebinding defences, by rmcp: the `Host` must be a loopback name, the bound address or
//!   one of `SERVER_HTTP_ALLOWED_HOSTS`, and a browser's `Origin`, when sent, must name one of
//!   those hosts (403 otherwise);
//! - a request body limit ([`MAX_REQUEST_BODY_BYTES`], 413 above it), and every body checked
//!   as JSON-RPC (`framing.rs`: 400 with a `-32700`/`-32600` error for what is not a message).
//!
//! `/.well-known/…` (OAuth discovery: `oauth-protected-resource`, `oauth-authorization-server`,
//! `openid-configuration`) answers 404 with a JSON body saying that a static bearer token is
//! needed, without asking for one: a 401 there, or a challenge naming `resource_metadata`,
//! makes clients start an OAuth flow espomcp does not offer ("Interactive OAuth requires a
//! TTY") instead of telling the user to configure the token.
//!
//! All HTTP clients are one caller as far as delete previews are concerned (`http`): the token
//! is the only identity a stateless request carries, and there is one token. SIGTERM or SIGINT
//! stops accepting connections and lets the calls in flight finish; a second signal exits at once.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;

use crate::config::{BearerToken, Config};
use crate::runtime::Runtime;
use crate::server::EspoMcp;

/// The largest request body accepted (MCP requests are small JSON; a long note or email body
/// fits many times over).
pub const MAX_REQUEST_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The path of the MCP endpoint.
pub const ENDPOINT: &str = "/mcp";

/// The caller delete previews are bound to over HTTP.
pub const HTTP_CALLER: &str = "http";

/// The host names every server accepts in `Host` and `Origin`.
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Serves MCP over HTTP at `address` until SIGTERM/SIGINT; the exit code is the process's.
pub async fn serve(runtime: &Runtime, config: &Config, address: SocketAddr) -> ExitCode {
    let listener = match tokio::net::TcpListener::bind(address).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!("cannot listen on {address}: {e}");
            eprintln!("espomcp: cannot listen on {address}: {e}");
            return ExitCode::from(2);
        }
    };
    let bound = listener.local_addr().unwrap_or(address);
    let hosts = allowed_hosts(bound, &config.server.http_allowed_hosts);
    let app = router(
        runtime.server.for_caller(HTTP_CALLER),
        config.server.http_token.clone(),
        &hosts,
    );
    tracing::info!(
        "serving MCP over HTTP at http://{bound}{ENDPOINT} ({})",
        if config.server.http_token.is_some() {
            "bearer token required"
        } else {
            "no token: loopback only"
        }
    );

    let shutdown = CancellationToken::new();
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .into_future();
    tokio::pin!(server);
    let mut signals = match Signals::new() {
        Ok(signals) => signals,
        Err(e) => {
            tracing::error!("cannot listen for signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    let finished = tokio::select! {
        finished = &mut server => finished,
        signal = signals.next() => {
            tracing::info!("{signal}: no new connections; finishing the calls in flight");
            shutdown.cancel();
            tokio::select! {
                finished = &mut server => finished,
                signal = signals.next() => {
                    tracing::warn!("{signal} again: exiting without waiting for the calls in flight");
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    match finished {
        Ok(()) => {
            tracing::info!("HTTP server stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("HTTP server failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The axum app: `/mcp` behind the token check. Public so tests and embedders can mount it.
pub fn router(server: EspoMcp, token: Option<BearerToken>, hosts: &[String]) -> axum::Router {
    let mcp = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(NeverSessionManager::default()),
        StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_sse_keep_alive(None)
            .with_allowed_hosts(hosts.iter().cloned())
            .with_allowed_origins(allowed_origins(hosts))
            .enforce_origin_validation()
            .with_max_request_body_bytes(MAX_REQUEST_BODY_BYTES),
    );
    // Every JSON-RPC body is decided on before rmcp answers it (framing.rs).
    let mcp = axum::Router::new()
        .fallback_service(mcp)
        .layer(axum::middleware::from_fn(|request, next| {
            crate::framing::check_http_body(MAX_REQUEST_BODY_BYTES, request, next)
        }));
    axum::Router::new()
        .nest_service(ENDPOINT, mcp)
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(token),
            require_token,
        ))
        // Added after the token layer, so not behind it: discovery must not answer 401.
        .route("/.well-known/{*document}", axum::routing::any(no_oauth))
}

/// What OAuth discovery finds: nothing, and why. The error fields are OAuth's own names
/// (RFC 6749 §5.2), so a client that shows them shows the explanation.
async fn no_oauth() -> Response {
    let body = serde_json::json!({
        "error": "not_found",
        "error_description": "espomcp does not use OAuth: it needs a static bearer token. \
            Configure your MCP client to send the header `Authorization: Bearer <token>` with \
            the token the server was started with (SERVER_HTTP_TOKEN)."
    });
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}

/// Loopback names, the bound address unless it is a wildcard, and the configured extras.
pub fn allowed_hosts(bound: SocketAddr, extra: &[String]) -> Vec<String> {
    let mut hosts: Vec<String> = LOOPBACK_HOSTS.iter().map(|h| (*h).to_owned()).collect();
    if !bound.ip().is_unspecified() && !bound.ip().is_loopback() {
        hosts.push(bound.ip().to_string());
    }
    for host in extra {
        if !hosts.contains(host) {
            hosts.push(host.clone());
        }
    }
    hosts
}

/// `http(s)://HOST:*` for each allowed host: a page may talk to the server only from a host
/// that could have been the server's own.
fn allowed_origins(hosts: &[String]) -> Vec<String> {
    hosts
        .iter()
        .map(|host| host_part(host))
        .flat_map(|host| [format!("http://{host}:*"), format!("https://{host}:*")])
        .collect()
}

/// The host of `host[:port]`, bracketed if it is an IPv6 address.
fn host_part(host: &str) -> String {
    if let Some(rest) = host.strip_prefix('[') {
        return format!("[{}]", rest.split(']').next().unwrap_or_default());
    }
    match host.matches(':').count() {
        0 => host.to_owned(),
        1 => host.split(':').next().unwrap_or_default().to_owned(),
        _ => format!("[{host}]"),
    }
}

/// The bearer-token check, before anything of MCP runs. Without a configured token (loopback
/// only) every request passes.
async fn require_token(
    State(token): State<Arc<Option<BearerToken>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = token.as_ref() else {
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, credentials) = value.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| credentials.trim())
        });
    match given {
        Some(given) if token_matches(given, expected) => next.run(request).await,
        Some(_) => unauthorized(
            "Bearer realm=\"espomcp\", error=\"invalid_token\"",
            "the bearer token is wrong",
        ),
        None => unauthorized(
            "Bearer realm=\"espomcp\"",
            "this server requires Authorization: Bearer <SERVER_HTTP_TOKEN>",
        ),
    }
}

/// Compares in constant time (for tokens of the same length; the length itself is not secret
/// enough to matter).
fn token_matches(given: &str, expected: &BearerToken) -> bool {
    given.as_bytes().ct_eq(expected.expose().as_bytes()).into()
}

fn unauthorized(challenge: &'static str, message: &str) -> Response {
    tracing::info!("refused an HTTP request: {message}");
    let mut response = (StatusCode::UNAUTHORIZED, format!("{message}\n")).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    response
}

/// SIGTERM and SIGINT (Ctrl-C), as one stream.
struct Signals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                terminate: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// The next signal's name.
    async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.terminate.recv() => "SIGTERM",
                _ = self.interrupt.recv() => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_allow_loopback_the_bound_address_and_the_configured_hosts() {
        let hosts = allowed_hosts(
            "10.0.0.5:8765".parse().expect("address"),
            &["mcp.example.com".to_owned(), "localhost".to_owned()],
        );
        assert_eq!(
            hosts,
            [
                "localhost",
                "127.0.0.1",
                "::1",
                "10.0.0.5",
                "mcp.example.com"
            ]
        );
        let wildcard = allowed_hosts("0.0.0.0:8765".parse().expect("address"), &[]);
        assert_eq!(wildcard, ["localhost", "127.0.0.1", "::1"]);
    }

    #[test]
    fn should_derive_origins_from_hosts() {
        let origins = allowed_origins(&[
            "::1".to_owned(),
            "mcp.example.com:8443".to_owned(),
            "[fe80::1]:80".to_owned(),
        ]);
        assert_eq!(
            origins,
            [
                "http://[::1]:*",
                "https://[::1]:*",
                "http://mcp.example.com:*",
                "https://mcp.example.com:*",
                "http://[fe80::1]:*",
                "https://[fe80::1]:*",
            ]
        );
    }

    #[test]
    fn should_compare_tokens_exactly() {
        let token = BearerToken::new("0123456789abcdef-secret");
        assert!(token_matches("0123456789abcdef-secret", &token));
        assert!(!token_matches("0123456789abcdef-secreT", &token));
        assert!(!token_matches("0123456789abcdef", &token));
        assert!(!token_matches("", &token));
    }
}
