//! When a failed request is tried again, and after how long.
//!
//! Only idempotent reads (GET) are retried, and only on failures that say "try later": 429,
//! 502/503/504, timeouts and broken connections. EspoCRM also answers 500 to malformed requests
//! (a `where` item without `attribute`, an unknown link name), so a 500 is final. Writes are never
//! retried: a POST that timed out may have created the record. The number of attempts is bounded;
//! waits grow exponentially with jitter, and a `Retry-After` from the server is honoured as the
//! least wait — unless it is longer than we are willing to wait, then the caller gets the error.

use std::num::NonZeroU32;
use std::time::Duration;

use crate::error::UpstreamError;
use crate::wire::Method;

/// How the gateway retries idempotent reads.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in total, the first one included; 1 turns retries off.
    pub max_attempts: NonZeroU32,
    /// The wait before the first retry; it doubles for each further retry.
    pub initial_backoff: Duration,
    /// The longest wait between attempts that the doubling can reach.
    pub max_backoff: Duration,
    /// A `Retry-After` longer than this is not waited out: the caller gets the error at once,
    /// with the wait in it, rather than a tool call that hangs for minutes.
    pub max_retry_after: Duration,
}

const DEFAULT_MAX_ATTEMPTS: NonZeroU32 = NonZeroU32::new(3).expect("3 is not zero");

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn never() -> Self {
        Self {
            max_attempts: NonZeroU32::MIN,
            ..Self::default()
        }
    }

    /// The same policy with a different bound on attempts.
    pub fn with_max_attempts(mut self, max_attempts: NonZeroU32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// The same policy with different backoff bounds.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    /// The same policy with a different longest `Retry-After` that is waited out.
    pub fn with_max_retry_after(mut self, max_retry_after: Duration) -> Self {
        self.max_retry_after = max_retry_after;
        self
    }

    /// How long to wait before attempt `attempts_made + 1`, or `None` when the failure is final.
    pub(crate) fn delay_before_retry(
        &self,
        method: Method,
        failure: &Failure,
        attempts_made: u32,
    ) -> Option<Duration> {
        if !method.is_idempotent_read() || attempts_made >= self.max_attempts.get() {
            return None;
        }
        let worth_retrying = match &failure.error {
            UpstreamError::RateLimited { .. }
            | UpstreamError::Timeout
            | UpstreamError::Connection { .. } => true,
            UpstreamError::Status { status, .. } => matches!(status, 502..=504),
            _ => false,
        };
        if !worth_retrying {
            return None;
        }
        let backoff = self.backoff(attempts_made);
        match failure.retry_after {
            Some(wait) if wait > self.max_retry_after => None,
            Some(wait) => Some(wait.max(backoff)),
            None => Some(backoff),
        }
    }

    /// Exponential backoff with "equal jitter": half the step is fixed, half is random, so
    /// retries from many callers spread out but never come sooner than half the step.
    fn backoff(&self, attempts_made: u32) -> Duration {
        let doublings = attempts_made.saturating_sub(1).min(30);
        let step = self
            .initial_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff);
        let half = step / 2;
        let half_nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(fastrand::u64(0..=half_nanos))
    }
}

/// A failed attempt as the gateway sees it: the caller's error plus the server's wait hint.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub error: UpstreamError,
    /// `Retry-After` in seconds, from a 429 or 503.
    pub retry_after: Option<Duration>,
}

impl From<UpstreamError> for Failure {
    fn from(error: UpstreamError) -> Self {
        Self {
            error,
            retry_after: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn status(status: u16) -> Failure {
        UpstreamError::Status {
            status,
            reason: None,
            body: Value::Null,
        }
        .into()
    }

    #[test]
    fn should_retry_transient_failures_of_reads_only() {
        let policy = RetryPolicy::default();
        for failure in [
            status(502),
            status(503),
            status(504),
            UpstreamError::Timeout.into(),
            UpstreamError::Connection {
                message: "reset".into(),
            }
            .into(),
            UpstreamError::RateLimited { retry_after: None }.into(),
        ] {
            assert!(
                policy
                    .delay_before_retry(Method::Get, &failure, 1)
                    .is_some(),
                "{failure:?}"
            );
            for write in [Method::Post, Method::Put, Method::Patch, Method::Delete] {
                assert_eq!(policy.delay_before_retry(write, &failure, 1), None);
            }
        }
    }

    #[test]
    fn should_not_retry_final_answers() {
        let policy = RetryPolicy::default();
        for failure in [
            status(500),
            status(400),
            UpstreamError::AuthFailed.into(),
            UpstreamError::NotFound { reason: None }.into(),
        ] {
            assert_eq!(
                policy.delay_before_retry(Method::Get, &failure, 1),
                None,
                "{failure:?}"
            );
        }
    }

    #[test]
    fn should_stop_at_the_attempt_bound() {
        let policy = RetryPolicy::default();
        assert!(
            policy
                .delay_before_retry(Method::Get, &status(503), 2)
                .is_some()
        );
        assert_eq!(
            policy.delay_before_retry(Method::Get, &status(503), 3),
            None
        );
        assert_eq!(
            RetryPolicy::never().delay_before_retry(Method::Get, &status(503), 1),
            None
        );
    }

    #[test]
    fn should_grow_backoff_within_bounds() {
        let policy = RetryPolicy::default()
            .with_max_attempts(NonZeroU32::new(20).expect("20 is not zero"))
            .with_backoff(Duration::from_millis(100), Duration::from_secs(1));
        for attempts_made in 1..20 {
            let step = Duration::from_millis(100)
                .saturating_mul(1 << (attempts_made - 1).min(30))
                .min(Duration::from_secs(1));
            let delay = policy.backoff(attempts_made);
            assert!(
                delay >= step / 2 && delay <= step,
                "{attempts_made}: {delay:?}"
            );
        }
    }

    #[test]
    fn should_honour_retry_after_up_to_the_limit() {
        let policy = RetryPolicy::default().with_max_retry_after(Duration::from_secs(10));
        let asked = |seconds| Failure {
            error: UpstreamError::RateLimited {
                retry_after: Some(Duration::from_secs(seconds)),
            },
            retry_after: Some(Duration::from_secs(seconds)),
        };
        assert_eq!(
            policy.delay_before_retry(Method::Get, &asked(7), 1),
            Some(Duration::from_secs(7))
        );
        assert_eq!(policy.delay_before_retry(Method::Get, &asked(11), 1), None);
    }
}
