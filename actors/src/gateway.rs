//! HttpGateway: the one way out to EspoCRM.
//!
//! The gateway actor is the only owner of the HTTP client, the API credential, the rate limiter
//! and the count of requests in flight. A `Send` joins a FIFO queue; the actor starts queued
//! requests while fewer than `max_concurrent` are in flight and the limiter has a cell for them.
//! Each started request runs in its own task, which replies to the caller directly and then tells
//! the actor `Done`, so the mailbox is never held across network I/O. When the limiter says "not
//! yet", the actor asks to be woken when the next cell is due instead of sleeping in a handler.
//! "At most N in flight, at most R per second with burst B" therefore holds by construction, and
//! retries of reads (see `retry.rs`) come back through the same queue, under the same limits.
//!
//! Callers hold a [`Gateway`]: a cloneable handle whose `send` waits for the answer with a
//! timeout, so a dead or stuck actor cannot hang them. They never see the actor or reply ports.

use std::collections::VecDeque;
use std::num::{NonZeroU32, NonZeroUsize};
use std::time::{Duration, Instant};

use governor::clock::{Clock, MonotonicClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Url};
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::endpoint::{build_url, normalize_base_url};
use crate::error::{SpawnError, UpstreamError};
use crate::plumbing;
use crate::retry::{Failure, RetryPolicy};
use crate::secret::{ApiKey, Scrubber, Secret, bounded};
use crate::wire::{EspoRequest, EspoResponse};

const ACTOR_NAME: &str = "HTTP gateway";

/// Headers that carry credentials: only the gateway sets them, callers may not.
const CREDENTIAL_HEADERS: [&str; 6] = [
    "x-api-key",
    "authorization",
    "espo-authorization",
    "x-hmac-authorization",
    "proxy-authorization",
    "cookie",
];

/// The longest the TCP and TLS handshake may take (never longer than a whole attempt).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The shortest wait for an answer from the actor, queueing and retries included.
const MIN_REPLY_TIMEOUT: Duration = Duration::from_secs(120);

/// Room for the queue and the backoff in the reply timeout, besides the attempts themselves.
const REPLY_MARGIN: Duration = Duration::from_secs(30);

/// The most characters of an upstream explanation (`X-Status-Reason`, a header it quotes, a
/// transport error) that an error carries: enough for any message EspoCRM writes.
pub const MAX_REASON_CHARS: usize = 500;

/// How the gateway reaches EspoCRM and how hard it may push it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GatewayConfig {
    /// `ESPOCRM_URL` as configured; with or without `/api/v1`, normalised when the gateway starts.
    pub base_url: String,
    pub api_key: ApiKey,
    /// Requests in flight at once, retries included.
    pub max_concurrent: NonZeroUsize,
    /// Requests started per second; `None` turns the limiter off.
    pub rate_limit: Option<RateLimit>,
    /// The whole of one attempt: connecting, sending, and reading the full answer.
    pub request_timeout: Duration,
    /// Just the TCP and TLS handshake, so an unreachable host fails fast.
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
    /// Verify the server's TLS certificate. Turn off only for a self-signed test instance.
    pub verify_tls: bool,
    /// How long `Gateway::send` waits for an answer, queueing and retries included, before it
    /// gives up on the actor. Longer than the request timeout times the attempts.
    pub reply_timeout: Duration,
    /// The largest answer body read; a longer one is abandoned while it streams in and the
    /// request fails with [`UpstreamError::ResponseTooLarge`].
    pub max_response_bytes: u64,
    /// Credentials besides the API key that must never come back from upstream (the HTTP
    /// transport's token): every answer is scrubbed of them as of the key.
    pub other_secrets: Vec<Secret>,
}

/// What espomcp's configuration decides about the way out: each field is one of its settings
/// (`src/config.rs`), so the gateway has no defaults of its own for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewaySettings {
    pub max_concurrent: NonZeroUsize,
    pub rate_limit: Option<RateLimit>,
    pub request_timeout: Duration,
    pub verify_tls: bool,
    pub max_response_bytes: u64,
}

impl GatewayConfig {
    /// The configured settings, with the gateway's own timing around them: the handshake gets
    /// at most 10 s, reads up to 3 attempts, and a caller waits at least 120 s and long enough
    /// for every attempt to take the whole request timeout, plus 30 s for the queue and the
    /// backoff.
    pub fn new(base_url: impl Into<String>, api_key: ApiKey, settings: GatewaySettings) -> Self {
        let GatewaySettings {
            max_concurrent,
            rate_limit,
            request_timeout,
            verify_tls,
            max_response_bytes,
        } = settings;
        let retry = RetryPolicy::default();
        let worst_case = request_timeout.saturating_mul(retry.max_attempts.get()) + REPLY_MARGIN;
        Self {
            base_url: base_url.into(),
            api_key,
            max_concurrent,
            rate_limit,
            request_timeout,
            connect_timeout: CONNECT_TIMEOUT.min(request_timeout),
            retry,
            verify_tls,
            reply_timeout: MIN_REPLY_TIMEOUT.max(worst_case),
            max_response_bytes,
            other_secrets: Vec::new(),
        }
    }
}

/// A rate of request starts, with room for a burst after a quiet period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: NonZeroU32,
    /// Requests that may start back to back after a quiet period.
    pub burst: NonZeroU32,
}

impl RateLimit {
    /// `per_second` requests per second, with a burst of the same size.
    pub fn per_second(per_second: NonZeroU32) -> Self {
        Self {
            per_second,
            burst: per_second,
        }
    }

    pub fn with_burst(self, burst: NonZeroU32) -> Self {
        Self { burst, ..self }
    }

    fn quota(self) -> Quota {
        Quota::per_second(self.per_second).allow_burst(self.burst)
    }
}

/// A snapshot of the gateway's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GatewayStats {
    /// Attempts running now.
    pub in_flight: usize,
    /// Requests waiting for a slot or for the limiter.
    pub queued: usize,
    /// Reads waiting out a backoff before they rejoin the queue.
    pub backing_off: usize,
    /// Attempts started since the gateway started, retries included.
    pub sent: u64,
    /// Of those, the retries.
    pub retried: u64,
}

/// The callers' handle to the gateway actor.
#[derive(Debug, Clone)]
pub struct Gateway {
    actor: ActorRef<GatewayMsg>,
    reply_timeout: Duration,
}

impl Gateway {
    /// Starts the gateway. The join handle completes when the actor has stopped.
    pub async fn spawn(config: GatewayConfig) -> Result<(Self, JoinHandle<()>), SpawnError> {
        let base_url = normalize_base_url(&config.base_url)?;
        let mut api_key = HeaderValue::from_str(config.api_key.expose())
            .map_err(|_| SpawnError::InvalidApiKey)?;
        api_key.set_sensitive(true);
        let reply_timeout = config.reply_timeout;
        let args = GatewayArgs {
            config,
            base_url,
            api_key,
        };
        let (actor, join) = plumbing::spawn(ACTOR_NAME, GatewayActor, args).await?;
        Ok((
            Self {
                actor,
                reply_timeout,
            },
            join,
        ))
    }

    /// Sends one request and waits for its answer; a failure is the error value, whatever it was.
    pub async fn send(&self, request: EspoRequest) -> Result<EspoResponse, UpstreamError> {
        let send = |reply| GatewayMsg::Send(request, reply);
        plumbing::call(&self.actor, send, self.reply_timeout)
            .await
            .map_err(|silence| silence.unavailable(ACTOR_NAME))?
    }

    /// The gateway's counters right now.
    pub async fn stats(&self) -> Result<GatewayStats, UpstreamError> {
        plumbing::call(&self.actor, GatewayMsg::Stats, self.reply_timeout)
            .await
            .map_err(|silence| silence.unavailable(ACTOR_NAME))
    }

    /// How long `send` waits before giving up on the actor.
    pub fn reply_timeout(&self) -> Duration {
        self.reply_timeout
    }

    /// Stops the actor. Requests still queued are dropped and their callers get `Unavailable`;
    /// attempts already running finish and reply.
    pub fn stop(&self) {
        self.actor.stop(None);
    }
}

/// The gateway actor. Stateless itself; everything lives in [`GatewayState`].
pub(crate) struct GatewayActor;

pub(crate) struct GatewayArgs {
    config: GatewayConfig,
    base_url: Url,
    /// Already checked and marked sensitive by `Gateway::spawn`.
    api_key: HeaderValue,
}

pub(crate) enum GatewayMsg {
    /// A caller's request; joins the queue.
    Send(
        EspoRequest,
        RpcReplyPort<Result<EspoResponse, UpstreamError>>,
    ),
    /// An attempt has finished and freed its slot; `Some` when it is to be tried again later.
    Done(Option<RetryLater>),
    /// A read whose backoff is over rejoins the queue.
    Requeue(Job),
    /// The limiter's next cell is due.
    WakeUp,
    Stats(RpcReplyPort<GatewayStats>),
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, MonotonicClock, NoOpMiddleware<Instant>>;

pub(crate) struct GatewayState {
    /// Holds the `X-Api-Key` default header; tasks get clones (a handle to the same pool).
    /// Made for the first request, not at start: setting up TLS touches about a megabyte of
    /// code and data that a server nobody has called yet does not need (BENCHMARKS.md).
    client: Option<Client>,
    client_settings: ClientSettings,
    base_url: Url,
    /// `None` when rate limiting is off.
    limiter: Option<Limiter>,
    max_concurrent: usize,
    request_timeout: Duration,
    retry: RetryPolicy,
    /// What every answer goes through before anyone sees it (see [`Answers`]).
    answers: Answers,
    /// Requests in arrival order; retries go to the front, they have waited longest.
    queue: VecDeque<Job>,
    /// Decremented by `Done`, which every started attempt sends exactly once (see `Slot`).
    in_flight: usize,
    backing_off: usize,
    /// A `WakeUp` is on its way; set when the limiter refused, cleared when it arrives.
    wake_up_pending: bool,
    sent: u64,
    retried: u64,
}

/// What the HTTP client is made with.
pub(crate) struct ClientSettings {
    default_headers: HeaderMap,
    connect_timeout: Duration,
    verify_tls: bool,
}

impl ClientSettings {
    fn build(&self) -> Result<Client, reqwest::Error> {
        Client::builder()
            .default_headers(self.default_headers.clone())
            .connect_timeout(self.connect_timeout)
            // A redirect to another host would carry the API key with it.
            .redirect(reqwest::redirect::Policy::none())
            .tls_danger_accept_invalid_certs(!self.verify_tls)
            .build()
    }
}

/// A request with everything needed to attempt it, and the caller waiting for it.
pub(crate) struct Job {
    request: EspoRequest,
    url: Url,
    headers: HeaderMap,
    reply: RpcReplyPort<Result<EspoResponse, UpstreamError>>,
    /// Attempts already made.
    attempts: u32,
}

pub(crate) struct RetryLater {
    job: Job,
    after: Duration,
}

impl Actor for GatewayActor {
    type Msg = GatewayMsg;
    type State = GatewayState;
    type Arguments = GatewayArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: GatewayArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let GatewayArgs {
            config,
            base_url,
            api_key,
        } = args;
        let mut default_headers = HeaderMap::new();
        default_headers.insert(HeaderName::from_static("x-api-key"), api_key);
        default_headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let client_settings = ClientSettings {
            default_headers,
            connect_timeout: config.connect_timeout,
            verify_tls: config.verify_tls,
        };
        if !config.verify_tls {
            tracing::warn!("TLS certificate verification is off for {base_url}");
        }
        let limiter = config
            .rate_limit
            .map(|rate| RateLimiter::direct_with_clock(rate.quota(), MonotonicClock));
        Ok(GatewayState {
            client: None,
            client_settings,
            base_url,
            limiter,
            max_concurrent: config.max_concurrent.get(),
            request_timeout: config.request_timeout,
            answers: Answers {
                scrubber: Scrubber::new(&config.api_key, &config.other_secrets),
                max_bytes: config.max_response_bytes,
            },
            retry: config.retry,
            queue: VecDeque::new(),
            in_flight: 0,
            backing_off: 0,
            wake_up_pending: false,
            sent: 0,
            retried: 0,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            GatewayMsg::Send(request, reply) => match state.prepare(&request) {
                Ok((url, headers)) => state.queue.push_back(Job {
                    request,
                    url,
                    headers,
                    reply,
                    attempts: 0,
                }),
                Err(error) => {
                    let _ = reply.send(Err(error));
                }
            },
            GatewayMsg::Done(retry) => {
                state.in_flight = state.in_flight.saturating_sub(1);
                if let Some(RetryLater { job, after }) = retry {
                    state.backing_off += 1;
                    // If the actor stops meanwhile, the job is dropped and its caller is told.
                    myself.send_after(after, move || GatewayMsg::Requeue(job));
                }
            }
            GatewayMsg::Requeue(job) => {
                state.backing_off = state.backing_off.saturating_sub(1);
                state.queue.push_front(job);
            }
            GatewayMsg::WakeUp => state.wake_up_pending = false,
            GatewayMsg::Stats(reply) => {
                let _ = reply.send(state.stats());
            }
        }
        state.start_ready(&myself);
        Ok(())
    }
}

impl GatewayState {
    /// Checks and encodes a request once, before it queues, so a bad one is answered at once.
    fn prepare(&self, request: &EspoRequest) -> Result<(Url, HeaderMap), UpstreamError> {
        let url = build_url(&self.base_url, &request.path_segments, &request.query)?;
        let headers = extra_headers(&request.headers)?;
        Ok((url, headers))
    }

    /// Starts queued requests while a slot is free and the limiter agrees.
    fn start_ready(&mut self, myself: &ActorRef<GatewayMsg>) {
        while self.in_flight < self.max_concurrent {
            let Some(next) = self.queue.front() else {
                return;
            };
            if next.reply.is_closed() {
                // The caller gave up; do not spend a cell, and never send a write nobody awaits.
                self.queue.pop_front();
                continue;
            }
            if let Some(limiter) = &self.limiter
                && let Err(not_until) = limiter.check()
            {
                if !self.wake_up_pending {
                    self.wake_up_pending = true;
                    let wait = not_until.wait_time_from(MonotonicClock.now());
                    myself.send_after(wait, || GatewayMsg::WakeUp);
                }
                return;
            }
            let Some(job) = self.queue.pop_front() else {
                return;
            };
            self.start(job, myself.clone());
        }
    }

    /// The HTTP client, made now if this is the first request.
    fn client(&mut self) -> Result<Client, reqwest::Error> {
        if let Some(client) = &self.client {
            return Ok(client.clone());
        }
        let client = self.client_settings.build()?;
        self.client = Some(client.clone());
        Ok(client)
    }

    fn start(&mut self, mut job: Job, myself: ActorRef<GatewayMsg>) {
        let client = match self.client() {
            Ok(client) => client,
            Err(error) => {
                // Nothing was sent; the next request tries to make the client again.
                let _ = job.reply.send(Err(UpstreamError::Connection {
                    message: format!("the HTTP client could not be set up: {error}"),
                }));
                return;
            }
        };
        self.in_flight += 1;
        self.sent += 1;
        if job.attempts > 0 {
            self.retried += 1;
        }
        job.attempts += 1;
        let timeout = self.request_timeout;
        let retry = self.retry.clone();
        let answers = self.answers.clone();
        // Made before the task so that even a task dropped unpolled gives its slot back.
        let mut slot = Slot {
            gateway: myself,
            retry: None,
        };
        tokio::spawn(async move {
            let started = Instant::now();
            let outcome = attempt(&client, &job, timeout, &answers).await;
            let elapsed_ms = started.elapsed().as_millis();
            match outcome {
                Ok(response) => {
                    tracing::debug!(
                        request = %job.request.describe(),
                        status = response.status,
                        elapsed_ms,
                        "EspoCRM answered"
                    );
                    let _ = job.reply.send(Ok(response));
                }
                Err(failure) => {
                    let delay =
                        retry.delay_before_retry(job.request.method, &failure, job.attempts);
                    match delay {
                        Some(after) if !job.reply.is_closed() => {
                            tracing::debug!(
                                request = %job.request.describe(),
                                error = %failure.error,
                                attempt = job.attempts,
                                retry_in_ms = after.as_millis(),
                                "retrying"
                            );
                            slot.retry = Some(RetryLater { job, after });
                        }
                        _ => {
                            tracing::debug!(
                                request = %job.request.describe(),
                                error = %failure.error,
                                attempt = job.attempts,
                                elapsed_ms,
                                "request failed"
                            );
                            let _ = job.reply.send(Err(failure.error));
                        }
                    }
                }
            }
            drop(slot);
        });
    }

    fn stats(&self) -> GatewayStats {
        GatewayStats {
            in_flight: self.in_flight,
            queued: self.queue.len(),
            backing_off: self.backing_off,
            sent: self.sent,
            retried: self.retried,
        }
    }
}

/// One in-flight slot, held by the attempt's task. Dropping it — when the attempt is over, or if
/// the task panics or is cancelled — tells the actor `Done`, so the slot is never lost.
struct Slot {
    gateway: ActorRef<GatewayMsg>,
    retry: Option<RetryLater>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        // Fails only when the actor is gone; a retry's caller then learns it from the dropped port.
        let _ = self
            .gateway
            .send_message(GatewayMsg::Done(self.retry.take()));
    }
}

/// Checks and converts the caller's extra headers.
fn extra_headers(headers: &[(String, String)]) -> Result<HeaderMap, UpstreamError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let invalid = |what: &str| UpstreamError::InvalidRequest {
            message: format!("header {name:?}: {what}"),
        };
        let header_name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid("not a header name"))?;
        if CREDENTIAL_HEADERS.contains(&header_name.as_str()) {
            return Err(invalid("credentials are set by the gateway only"));
        }
        let header_value =
            HeaderValue::from_str(value).map_err(|_| invalid("not a valid header value"))?;
        map.append(header_name, header_value);
    }
    Ok(map)
}

/// What every answer goes through, in this one place, so no caller can forget it: the size cap
/// while it is read, then the scrubbing of the configured secrets out of everything upstream
/// wrote (body, `X-Status-Reason`, the headers an error quotes, transport error texts), and the
/// bound on how much of an explanation is quoted.
#[derive(Debug, Clone)]
pub(crate) struct Answers {
    scrubber: Scrubber,
    /// `GatewayConfig::max_response_bytes`.
    max_bytes: u64,
}

impl Answers {
    /// Upstream text as it may be quoted: without secrets, cut to [`MAX_REASON_CHARS`].
    fn quote(&self, text: &str) -> String {
        bounded(&self.scrubber.scrub(text), MAX_REASON_CHARS).into_owned()
    }
}

/// One attempt: send, read the answer up to the size cap, classify it.
async fn attempt(
    client: &Client,
    job: &Job,
    timeout: Duration,
    answers: &Answers,
) -> Result<EspoResponse, Failure> {
    let mut builder = client
        .request(job.request.method.to_reqwest(), job.url.clone())
        .headers(job.headers.clone())
        .timeout(timeout);
    if let Some(body) = &job.request.body {
        builder = builder.json(body);
    }
    let transport = |error| transport_failure(error, answers);
    let mut response = builder.send().await.map_err(transport)?;
    let status = response.status().as_u16();
    let too_large = || -> Failure {
        UpstreamError::ResponseTooLarge {
            status,
            limit: answers.max_bytes,
        }
        .into()
    };
    // A declared length over the cap is refused before a byte of the body is read; otherwise
    // the body is read chunk by chunk and abandoned as soon as it passes the cap (dropping the
    // response closes the connection), so an endless answer costs at most the cap.
    let declared = response.content_length();
    if declared.is_some_and(|length| length > answers.max_bytes) {
        return Err(too_large());
    }
    let capacity = declared.unwrap_or(0).min(answers.max_bytes);
    let mut body = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if (body.len() + chunk.len()) as u64 > answers.max_bytes {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    classify(status, response.headers(), &body, answers)
}

fn transport_failure(error: reqwest::Error, answers: &Answers) -> Failure {
    let error = error.without_url();
    if error.is_timeout() {
        return UpstreamError::Timeout.into();
    }
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    UpstreamError::Connection {
        message: answers.quote(&message),
    }
    .into()
}

/// Maps a complete HTTP answer to the caller's result. Pure, so the mapping is easy to test.
/// Everything it passes on from upstream has been through `answers` (see [`Answers`]).
pub(crate) fn classify(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    answers: &Answers,
) -> Result<EspoResponse, Failure> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(|value| answers.quote(value))
    };
    let reason = text("x-status-reason");
    let parse = |body: &[u8]| {
        crate::json::parse(body).map(|mut value| {
            answers.scrubber.scrub_parsed(body, &mut value);
            value
        })
    };
    if (200..300).contains(&status) {
        let body = if body.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            parse(body).map_err(|error| UpstreamError::InvalidResponse {
                status,
                message: match text("content-type") {
                    Some(kind) if !kind.contains("json") => {
                        format!("expected JSON, got {kind}; is ESPOCRM_URL the EspoCRM address?")
                    }
                    _ => format!("the body is not JSON: {error}"),
                },
            })?
        };
        return Ok(EspoResponse {
            status,
            status_reason: reason,
            body,
        });
    }
    // Error bodies are JSON when EspoCRM has details, empty or HTML otherwise.
    let body = parse(body).unwrap_or(Value::Null);
    let retry_after = text("retry-after")
        .and_then(|value| value.parse::<u64>().ok())
        .map(Duration::from_secs);
    let error = match status {
        401 => UpstreamError::AuthFailed,
        403 => UpstreamError::PermissionDenied { reason, body },
        404 => UpstreamError::NotFound { reason },
        409 => conflict(reason, body),
        429 => UpstreamError::RateLimited { retry_after },
        300..=399 => UpstreamError::Status {
            status,
            reason: Some(match text("location") {
                Some(location) => {
                    format!("redirected to {location}; set ESPOCRM_URL to the final address")
                }
                None => "redirected; set ESPOCRM_URL to the final address".to_owned(),
            }),
            body: Value::Null,
        },
        _ => UpstreamError::Status {
            status,
            reason,
            body,
        },
    };
    Err(Failure { error, retry_after })
}

/// 409 means several things, told apart by `X-Status-Reason`: a duplicate (the body lists the
/// existing records; an array without a reason is read so too), a record changed since the
/// version a save was based on, a locked record, or some other conflict.
fn conflict(reason: Option<String>, body: Value) -> UpstreamError {
    match reason.as_deref() {
        Some("duplicate") => UpstreamError::Conflict {
            reason,
            duplicates: body,
        },
        None if body.is_array() => UpstreamError::Conflict {
            reason,
            duplicates: body,
        },
        Some("modified") => UpstreamError::Modified {
            version_number: body.get("versionNumber").and_then(|version| {
                version
                    .as_i64()
                    .or_else(|| version.as_str().and_then(|text| text.parse().ok()))
            }),
            values: body.get("values").cloned().unwrap_or(Value::Null),
        },
        Some(locked @ ("cannotModifyLockedRecord" | "cannotRemoveLockedRecord")) => {
            UpstreamError::Locked {
                reason: locked.to_owned(),
                field: body
                    .pointer("/messageTranslation/data/field")
                    .and_then(Value::as_str)
                    .map(|label| bounded(label, MAX_REASON_CHARS).into_owned()),
            }
        }
        _ => UpstreamError::OtherConflict { reason, body },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn test_answers() -> Answers {
        Answers {
            scrubber: Scrubber::new(&ApiKey::new(KEY), &[Secret::new("http-token-0123456789")]),
            max_bytes: 32 * 1024 * 1024,
        }
    }

    fn answer(
        status: u16,
        headers: &[(&'static str, &'static str)],
        body: &str,
    ) -> Result<EspoResponse, UpstreamError> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        classify(status, &map, body.as_bytes(), &test_answers()).map_err(|failure| failure.error)
    }

    #[test]
    fn should_map_statuses_to_errors() {
        let reason = |text: &str| Some(text.to_owned());
        let cases = [
            (401, vec![], "", UpstreamError::AuthFailed),
            (
                403,
                vec![("x-status-reason", "No read access.")],
                "",
                UpstreamError::PermissionDenied {
                    reason: reason("No read access."),
                    body: Value::Null,
                },
            ),
            (
                403,
                vec![("x-status-reason", "Can't relate with non-existing record.")],
                r#"{"messageTranslation":{"label":"cannotRelateNonExisting"}}"#,
                UpstreamError::PermissionDenied {
                    reason: reason("Can't relate with non-existing record."),
                    body: json!({"messageTranslation": {"label": "cannotRelateNonExisting"}}),
                },
            ),
            (
                404,
                vec![("x-status-reason", "Record x does not exist.")],
                "",
                UpstreamError::NotFound {
                    reason: reason("Record x does not exist."),
                },
            ),
            (
                404,
                vec![("content-type", "text/html")],
                "<html>Not found</html>",
                UpstreamError::NotFound { reason: None },
            ),
            (
                409,
                vec![("x-status-reason", "duplicate")],
                r#"[{"id":"a","name":"Acme"}]"#,
                UpstreamError::Conflict {
                    reason: reason("duplicate"),
                    duplicates: json!([{"id": "a", "name": "Acme"}]),
                },
            ),
            (
                429,
                vec![("retry-after", "7")],
                "",
                UpstreamError::RateLimited {
                    retry_after: Some(Duration::from_secs(7)),
                },
            ),
            (
                400,
                vec![(
                    "x-status-reason",
                    "Field validation failure; entityType: Account, field: name, type: required.",
                )],
                r#"{"messageTranslation":{"label":"validationFailure"}}"#,
                UpstreamError::Status {
                    status: 400,
                    reason: reason(
                        "Field validation failure; entityType: Account, field: name, type: required.",
                    ),
                    body: json!({"messageTranslation": {"label": "validationFailure"}}),
                },
            ),
            (
                500,
                vec![("x-status-reason", "")],
                "",
                UpstreamError::Status {
                    status: 500,
                    reason: None,
                    body: Value::Null,
                },
            ),
            (
                301,
                vec![("location", "https://crm.example/api/v1/Account")],
                "",
                UpstreamError::Status {
                    status: 301,
                    reason: reason(
                        "redirected to https://crm.example/api/v1/Account; set ESPOCRM_URL to the final address",
                    ),
                    body: Value::Null,
                },
            ),
        ];
        for (status, headers, body, expected) in cases {
            assert_eq!(
                answer(status, &headers, body),
                Err(expected),
                "{status} {headers:?}"
            );
        }
    }

    /// The recorded 409s of EspoCRM 8.4.2 and 10.0.0 (fixtures-10.0: 05-update-version-conflict,
    /// 25-lock-update-conflict, 25-lock-delete-conflict, 24-pipeline-delete-used).
    #[test]
    fn should_tell_the_kinds_of_409_apart_by_their_reason() {
        let cases = [
            (
                vec![("x-status-reason", "modified")],
                r#"{"values":{"website":"https://v1.example.com"},"versionNumber":2}"#,
                UpstreamError::Modified {
                    values: json!({"website": "https://v1.example.com"}),
                    version_number: Some(2),
                },
            ),
            (
                vec![("x-status-reason", "modified")],
                r#"{"values":{"amount":42000,"amountCurrency":"USD"},"versionNumber":"7"}"#,
                UpstreamError::Modified {
                    values: json!({"amount": 42000, "amountCurrency": "USD"}),
                    version_number: Some(7),
                },
            ),
            (
                vec![("x-status-reason", "modified")],
                "",
                UpstreamError::Modified {
                    values: Value::Null,
                    version_number: None,
                },
            ),
            (
                vec![("x-status-reason", "cannotModifyLockedRecord")],
                r#"{"messageTranslation":{"label":"cannotModifyLockedRecord","scope":null,"data":{"field":"Website"}}}"#,
                UpstreamError::Locked {
                    reason: "cannotModifyLockedRecord".into(),
                    field: Some("Website".into()),
                },
            ),
            (
                vec![("x-status-reason", "cannotRemoveLockedRecord")],
                r#"{"messageTranslation":{"label":"cannotRemoveLockedRecord","scope":null,"data":{}}}"#,
                UpstreamError::Locked {
                    reason: "cannotRemoveLockedRecord".into(),
                    field: None,
                },
            ),
            (
                vec![("x-status-reason", "cannotRemoveUsed")],
                r#"{"messageTranslation":{"label":"cannotRemoveUsed","scope":null,"data":{}}}"#,
                UpstreamError::OtherConflict {
                    reason: Some("cannotRemoveUsed".into()),
                    body: json!({"messageTranslation": {"label": "cannotRemoveUsed", "scope": null, "data": {}}}),
                },
            ),
            (
                vec![],
                r#"[{"id":"a","name":"Acme"}]"#,
                UpstreamError::Conflict {
                    reason: None,
                    duplicates: json!([{"id": "a", "name": "Acme"}]),
                },
            ),
            (
                vec![],
                "",
                UpstreamError::OtherConflict {
                    reason: None,
                    body: Value::Null,
                },
            ),
        ];
        for (headers, body, expected) in cases {
            let error = answer(409, &headers, body);
            assert_eq!(error, Err(expected.clone()), "{headers:?} {body}");
            assert_eq!(expected.status(), Some(409));
            assert!(!expected.is_transient());
        }
    }

    #[test]
    fn should_parse_success_bodies() {
        assert_eq!(answer(200, &[], "true").map(|r| r.body), Ok(json!(true)));
        assert_eq!(answer(200, &[], "").map(|r| r.body), Ok(Value::Null));
        assert_eq!(
            answer(200, &[], r#"{"total":1,"list":[]}"#).map(|r| r.body),
            Ok(json!({"total": 1, "list": []}))
        );
        assert!(matches!(
            answer(200, &[("content-type", "text/html; charset=UTF-8")], "<html></html>"),
            Err(UpstreamError::InvalidResponse { status: 200, message }) if message.contains("text/html")
        ));
    }

    #[test]
    fn should_scrub_the_secrets_from_reasons_and_bodies_of_every_answer() {
        let echo = format!("key {KEY} token http-token-0123456789");
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("x-status-reason"),
            HeaderValue::from_str(&echo).expect("a header value"),
        );
        let body = json!({"name": echo, "list": [echo], KEY: 1}).to_string();
        for status in [200, 400, 403, 404, 409, 500] {
            let shown = match classify(status, &headers, body.as_bytes(), &test_answers()) {
                Ok(response) => format!("{response:?}"),
                Err(failure) => format!("{:?} {}", failure.error, failure.error),
            };
            assert!(!shown.contains(KEY), "{status}: {shown}");
            assert!(!shown.contains("http-token"), "{status}: {shown}");
            assert!(shown.contains("[redacted]"), "{status}: {shown}");
        }
    }

    #[test]
    fn should_cut_a_long_reason_to_a_bound() {
        let long = "x".repeat(5000);
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("x-status-reason"),
            HeaderValue::from_str(&long).expect("a header value"),
        );
        let error = classify(400, &headers, b"", &test_answers()).map_err(|f| f.error);
        let Err(UpstreamError::Status {
            reason: Some(reason),
            ..
        }) = error
        else {
            panic!("not a status error: {error:?}");
        };
        assert_eq!(reason.chars().count(), MAX_REASON_CHARS + 1);
        assert!(reason.ends_with('…'));
    }

    #[test]
    fn should_refuse_credential_headers_from_callers() {
        for name in ["X-Api-Key", "Authorization", "Espo-Authorization"] {
            assert!(matches!(
                extra_headers(&[(name.to_owned(), "x".to_owned())]),
                Err(UpstreamError::InvalidRequest { .. })
            ));
        }
        assert!(extra_headers(&[("X-Skip-Duplicate-Check".to_owned(), "true".to_owned())]).is_ok());
        assert!(
            extra_headers(&[("X-No-Total".to_owned(), "true\r\nX-Api-Key: k".to_owned())]).is_err()
        );
    }

    #[test]
    fn should_not_show_the_api_key_in_config_debug() {
        let settings = GatewaySettings {
            max_concurrent: NonZeroUsize::MIN,
            rate_limit: None,
            request_timeout: Duration::from_secs(30),
            verify_tls: true,
            max_response_bytes: 1024,
        };
        let config = GatewayConfig::new("http://crm.example", ApiKey::new("s3cret"), settings);
        assert!(!format!("{config:?}").contains("s3cret"));
    }
}
