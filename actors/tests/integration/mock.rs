//! A scripted stand-in for EspoCRM that records what reached it.
//!
//! The script is a function of the request seen (and its arrival index), so a test can say
//! "503 twice, then 200" or "delay Metadata by 200 ms" in one closure. The server runs until the
//! `MockServer` is dropped.

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use espomcp_actors::{ApiKey, Gateway, GatewayConfig, GatewaySettings, RetryPolicy};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub const API_KEY: &str = "test-api-key-1234";

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// 0 for the first request the server received, and so on.
    pub index: usize,
    pub method: String,
    /// As sent, still percent-encoded.
    pub path: String,
    /// As sent, still encoded; `None` when there was no `?`.
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub arrived: Instant,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// What the server answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    /// Held before answering (the request counts as in flight meanwhile).
    pub delay: Duration,
}

impl Reply {
    pub fn json(body: impl Into<String>) -> Self {
        Self::status(200)
            .header("content-type", "application/json")
            .body(body)
    }

    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: String::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }

    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

type Script = dyn Fn(&Seen) -> Reply + Send + Sync;

struct Recorder {
    script: Box<Script>,
    seen: Mutex<Vec<Seen>>,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
}

pub struct MockServer {
    pub base_url: String,
    recorder: Arc<Recorder>,
    server: JoinHandle<()>,
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl MockServer {
    pub async fn start(script: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
        let recorder = Arc::new(Recorder {
            script: Box::new(script),
            seen: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            peak_in_flight: AtomicUsize::new(0),
        });
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let address = listener
            .local_addr()
            .expect("a bound listener has an address");
        let app = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&recorder));
        let server = tokio::spawn(async move {
            // Ends when the test drops the server (abort) or the runtime stops.
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base_url: format!("http://{address}"),
            recorder,
            server,
        }
    }

    /// Everything received so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.recorder
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn count(&self) -> usize {
        self.seen().len()
    }

    /// Requests whose raw path is `/api/v1/` followed by `path`.
    pub fn count_path(&self, path: &str) -> usize {
        let wanted = format!("/api/v1/{path}");
        self.seen()
            .iter()
            .filter(|seen| seen.path == wanted)
            .count()
    }

    pub fn peak_in_flight(&self) -> usize {
        self.recorder.peak_in_flight.load(Ordering::SeqCst)
    }
}

async fn answer(State(recorder): State<Arc<Recorder>>, request: Request) -> Response {
    let arrived = Instant::now();
    let now = recorder.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    recorder.peak_in_flight.fetch_max(now, Ordering::SeqCst);

    let (parts, body) = request.into_parts();
    let body = to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default()
        .to_vec();
    let reply = {
        let mut seen = recorder.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let request = Seen {
            index: seen.len(),
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers: parts.headers,
            body,
            arrived,
        };
        let reply = (recorder.script)(&request);
        seen.push(request);
        reply
    };
    tokio::time::sleep(reply.delay).await;
    recorder.in_flight.fetch_sub(1, Ordering::SeqCst);

    let mut response = Response::new(Body::from(reply.body));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).expect("a valid status in the script");
    for (name, value) in reply.headers {
        response.headers_mut().insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).expect("a valid header value in the script"),
        );
    }
    response
}

/// A gateway config for tests: no rate limit, quick backoff, a bounded reply timeout.
pub fn config(base_url: &str) -> GatewayConfig {
    let settings = GatewaySettings {
        max_concurrent: NonZeroUsize::new(8).expect("8 is not zero"),
        rate_limit: None,
        request_timeout: Duration::from_secs(10),
        verify_tls: true,
        max_response_bytes: 32 * 1024 * 1024,
    };
    let mut config = GatewayConfig::new(base_url, ApiKey::new(API_KEY), settings);
    config.reply_timeout = Duration::from_secs(60);
    config.retry =
        RetryPolicy::default().with_backoff(Duration::from_millis(10), Duration::from_millis(50));
    config
}

pub async fn gateway(config: GatewayConfig) -> Gateway {
    let (gateway, _join) = Gateway::spawn(config).await.expect("the gateway starts");
    gateway
}

pub fn nonzero(value: u32) -> NonZeroU32 {
    NonZeroU32::new(value).expect("a non-zero value in the test")
}
