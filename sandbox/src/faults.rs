//! Fault injection and observation, for tests of the layer above the sandbox: added latency,
//! a share of 500s, 429s with `Retry-After`, connections dropped mid-response, and answers of
//! the test's own for chosen routes ([`InjectedAnswer`]: any status, body, headers, or a huge
//! body streamed in chunks, as a broken or hostile EspoCRM or proxy would send them); and what
//! the sandbox saw — requests by route, the peak number in flight, arrival times, and how much
//! of a streamed body was handed to the connection.
//!
//! Shares are exact rather than random: with a 30 % error share, exactly 3 of every 10
//! eligible requests fail, so a test's expectations do not depend on luck.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// Which requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum FaultScope {
    #[default]
    All,
    /// GET and HEAD only.
    Reads,
    /// Everything but GET and HEAD.
    Writes,
}

impl FaultScope {
    fn applies(self, method: &Method) -> bool {
        let read = method == Method::GET || method == Method::HEAD;
        match self {
            FaultScope::All => true,
            FaultScope::Reads => read,
            FaultScope::Writes => !read,
        }
    }
}

/// The faults in force; settable at start and at run time (`PUT /__sandbox/faults`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct FaultConfig {
    /// Delay added before every answer.
    pub latency_ms: u64,
    /// Share (0.0–1.0) of eligible requests answered with `error_status` and an empty body.
    pub error_rate: f64,
    /// The status of injected errors: 500 when unset (EspoCRM's unhandled error), or e.g. 503
    /// (maintenance mode, or a proxy in front of EspoCRM).
    pub error_status: Option<u16>,
    pub error_scope: FaultScope,
    /// Share of eligible requests answered 429 with `Retry-After`.
    pub rate_limit_rate: f64,
    pub retry_after_secs: u64,
    /// Share of eligible requests whose connection is dropped mid-response.
    pub drop_rate: f64,
    pub drop_scope: FaultScope,
    /// Answers of the test's own, each for one route; the first whose route matches wins.
    pub answers: Vec<InjectedAnswer>,
}

/// An answer given instead of the sandbox's own to every request of one route.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct InjectedAnswer {
    /// The route it answers, as [`route_key`] writes it: `"GET Account/{id}"`, `"GET Account"`
    /// (the list), `"POST Account"`.
    pub route: String,
    /// 200 when unset.
    pub status: Option<u16>,
    /// The body, byte for byte (it need not be JSON).
    pub body: String,
    /// Extra headers, e.g. `X-Status-Reason`; `Content-Type` is `application/json` unless set.
    pub headers: BTreeMap<String, String>,
    /// When set, the body is streamed in chunks without a `Content-Length`: `body` first, then
    /// spaces up to this many bytes in all (so the whole is still valid JSON when `body` is).
    pub streamed_bytes: Option<u64>,
}

impl InjectedAnswer {
    /// An answer with this status and body for `route`.
    pub fn new(route: impl Into<String>, status: u16, body: impl Into<String>) -> Self {
        Self {
            route: route.into(),
            status: Some(status),
            body: body.into(),
            ..Self::default()
        }
    }

    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    fn response(&self, control: Arc<Control>) -> Response {
        let status = self
            .status
            .and_then(|code| StatusCode::from_u16(code).ok())
            .unwrap_or(StatusCode::OK);
        let body = match self.streamed_bytes {
            Some(total) => Body::from_stream(Filler {
                first: Some(Bytes::from(self.body.clone())),
                remaining: total.saturating_sub(self.body.len() as u64),
                control,
            }),
            None => Body::from(self.body.clone()),
        };
        let mut response = Response::new(body);
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert("Content-Type", HeaderValue::from_static("application/json"));
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.insert(name, value);
            }
        }
        response
    }
}

/// Spaces to stream a huge body with, a chunk at a time.
static FILLER: [u8; 64 * 1024] = [b' '; 64 * 1024];

/// A streamed body: the injected text, then spaces; counts what it hands to the connection.
struct Filler {
    first: Option<Bytes>,
    remaining: u64,
    control: Arc<Control>,
}

impl futures_core::Stream for Filler {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let chunk = match self.first.take() {
            Some(first) => first,
            None if self.remaining == 0 => return Poll::Ready(None),
            None => {
                let n = self.remaining.min(FILLER.len() as u64);
                self.remaining -= n;
                Bytes::from_static(&FILLER[..n as usize])
            }
        };
        self.control
            .streamed
            .fetch_add(chunk.len() as u64, Ordering::SeqCst);
        Poll::Ready(Some(Ok(chunk)))
    }
}

/// Counts one kind of fault so that exactly `rate` of the eligible requests get it.
#[derive(Debug, Default)]
struct Share(AtomicU64);

impl Share {
    fn hit(&self, rate: f64) -> bool {
        if rate <= 0.0 {
            return false;
        }
        let n = self.0.fetch_add(1, Ordering::Relaxed) as f64;
        ((n + 1.0) * rate).floor() > (n * rate).floor()
    }
}

/// What the sandbox saw, for assertions.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub requests_total: u64,
    /// `"GET Account/{id}"` → count.
    pub requests_by_route: BTreeMap<String, u64>,
    pub in_flight: usize,
    pub peak_in_flight: usize,
    /// Arrival times, milliseconds since the sandbox started (or the stats were reset).
    pub arrivals_ms: Vec<u64>,
    pub faults_injected: u64,
    /// Bytes of streamed injected bodies handed to connections (`InjectedAnswer::streamed_bytes`).
    pub streamed_bytes: u64,
}

impl Stats {
    /// Requests whose route key starts with `prefix` (e.g. `"GET Metadata"`, `"DELETE "`).
    pub fn count(&self, prefix: &str) -> u64 {
        self.requests_by_route
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v)
            .sum()
    }

    /// The most requests that arrived within any window of `window_ms`.
    pub fn max_in_window(&self, window_ms: u64) -> usize {
        let mut best = 0;
        let mut start = 0;
        for end in 0..self.arrivals_ms.len() {
            while self.arrivals_ms[end] - self.arrivals_ms[start] >= window_ms {
                start += 1;
            }
            best = best.max(end - start + 1);
        }
        best
    }
}

/// Shared between the middleware and the `Sandbox` handle.
#[derive(Debug)]
pub struct Control {
    config: Mutex<FaultConfig>,
    errors: Share,
    limits: Share,
    drops: Share,
    in_flight: AtomicUsize,
    /// `Stats::streamed_bytes`, counted by the streams themselves.
    streamed: AtomicU64,
    stats: Mutex<Stats>,
    epoch: Mutex<Instant>,
}

impl Control {
    pub fn new(config: FaultConfig) -> Arc<Control> {
        Arc::new(Control {
            config: Mutex::new(config),
            errors: Share::default(),
            limits: Share::default(),
            drops: Share::default(),
            in_flight: AtomicUsize::new(0),
            streamed: AtomicU64::new(0),
            stats: Mutex::new(Stats::default()),
            epoch: Mutex::new(Instant::now()),
        })
    }

    pub fn set_faults(&self, config: FaultConfig) {
        *self.config.lock().unwrap_or_else(|p| p.into_inner()) = config;
    }

    pub fn faults(&self) -> FaultConfig {
        self.config
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn stats(&self) -> Stats {
        let mut s = self.stats.lock().unwrap_or_else(|p| p.into_inner()).clone();
        s.in_flight = self.in_flight.load(Ordering::SeqCst);
        s.streamed_bytes = self.streamed.load(Ordering::SeqCst);
        s
    }

    pub fn reset_stats(&self) {
        self.streamed.store(0, Ordering::SeqCst);
        *self.stats.lock().unwrap_or_else(|p| p.into_inner()) = Stats::default();
        *self.epoch.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    fn arrive(&self, route: String) {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let elapsed = self
            .epoch
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed();
        let mut s = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        s.requests_total += 1;
        *s.requests_by_route.entry(route).or_default() += 1;
        s.peak_in_flight = s.peak_in_flight.max(now);
        s.arrivals_ms.push(elapsed.as_millis() as u64);
    }

    fn injected(&self) {
        self.stats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .faults_injected += 1;
    }
}

/// Decrements the in-flight count however the request ends (even if the client goes away).
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// `"GET Account/{id}/contacts"`: the route a request took, ids folded.
pub fn route_key(method: &Method, path: &str) -> String {
    let rest = path
        .strip_prefix("/api/v1")
        .unwrap_or(path)
        .trim_start_matches('/');
    let mut parts: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let special = [
        "App",
        "Metadata",
        "Settings",
        "Stream",
        "GlobalSearch",
        "Kanban",
    ];
    if parts.first() == Some(&"Activities") && parts.len() >= 3 {
        parts[2] = "{id}";
    } else if parts.len() >= 2 && !special.contains(&parts[0]) {
        parts[1] = "{id}";
    }
    format!("{method} {}", parts.join("/"))
}

/// The middleware: observe, then inject the faults in force.
pub async fn layer(State(control): State<Arc<Control>>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/__sandbox") {
        return next.run(request).await;
    }
    let method = request.method().clone();
    let route = route_key(&method, request.uri().path());
    control.arrive(route.clone());
    let _guard = InFlight(&control.in_flight);
    let config = control.faults();
    if config.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(config.latency_ms)).await;
    }
    if let Some(answer) = config.answers.iter().find(|answer| answer.route == route) {
        control.injected();
        return answer.response(control.clone());
    }
    if config.error_scope.applies(&method) && control.errors.hit(config.error_rate) {
        control.injected();
        let status = config
            .error_status
            .and_then(|code| StatusCode::from_u16(code).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (status, "").into_response();
    }
    if control.limits.hit(config.rate_limit_rate) {
        control.injected();
        let mut r = (StatusCode::TOO_MANY_REQUESTS, "").into_response();
        if let Ok(v) = HeaderValue::from_str(&config.retry_after_secs.to_string()) {
            r.headers_mut().insert("Retry-After", v);
        }
        return r;
    }
    if config.drop_scope.applies(&method) && control.drops.hit(config.drop_rate) {
        control.injected();
        let mut r = Response::new(crate::api::broken_body());
        r.headers_mut()
            .insert("Content-Type", HeaderValue::from_static("application/json"));
        return r;
    }
    next.run(request).await
}

/// Control routes for a sandbox in another process.
pub async fn get_stats(State(control): State<Arc<Control>>) -> axum::Json<Stats> {
    axum::Json(control.stats())
}

pub async fn put_faults(
    State(control): State<Arc<Control>>,
    axum::Json(config): axum::Json<FaultConfig>,
) -> StatusCode {
    control.set_faults(config);
    StatusCode::NO_CONTENT
}

pub async fn reset_stats(State(control): State<Arc<Control>>) -> StatusCode {
    control.reset_stats();
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_exact() {
        let s = Share::default();
        let hits = (0..100).filter(|_| s.hit(0.3)).count();
        assert_eq!(hits, 30);
        let none = Share::default();
        assert_eq!((0..50).filter(|_| none.hit(0.0)).count(), 0);
    }

    #[test]
    fn route_keys_fold_ids() {
        assert_eq!(
            route_key(&Method::GET, "/api/v1/Account/6b05838b2c728cbdb"),
            "GET Account/{id}"
        );
        assert_eq!(
            route_key(&Method::POST, "/api/v1/Account/x/contacts"),
            "POST Account/{id}/contacts"
        );
        assert_eq!(
            route_key(&Method::GET, "/api/v1/Kanban/Opportunity"),
            "GET Kanban/Opportunity"
        );
        assert_eq!(route_key(&Method::GET, "/api/v1/Metadata"), "GET Metadata");
    }

    #[test]
    fn window_counts() {
        let s = Stats {
            arrivals_ms: vec![0, 10, 20, 1500, 1510],
            ..Stats::default()
        };
        assert_eq!(s.max_in_window(1000), 3);
    }
}
