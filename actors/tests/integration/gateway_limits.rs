//! The gateway's limits as the server sees them: concurrency and rate.

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use espomcp_actors::{EspoRequest, GatewayStats, RateLimit};
use tokio::task::JoinSet;

use crate::mock::{MockServer, Reply, config, gateway, nonzero};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn should_keep_at_most_max_concurrent_requests_in_flight() {
    let server = MockServer::start(|_| {
        Reply::json(r#"{"total":0,"list":[]}"#).delay(Duration::from_millis(50))
    })
    .await;
    let mut config = config(&server.base_url);
    config.max_concurrent = NonZeroUsize::new(3).expect("3 is not zero");
    let gateway = gateway(config).await;

    let mut sends = JoinSet::new();
    for _ in 0..50 {
        let gateway = gateway.clone();
        sends.spawn(async move { gateway.send(EspoRequest::get(["Account"])).await });
    }
    while let Some(outcome) = sends.join_next().await {
        let response = outcome
            .expect("the send task finished")
            .expect("the request succeeded");
        assert_eq!(response.status, 200);
    }

    assert_eq!(server.count(), 50);
    assert!(
        server.peak_in_flight() <= 3,
        "peak {}",
        server.peak_in_flight()
    );
    assert_eq!(
        server.peak_in_flight(),
        3,
        "the budget was never used in full"
    );
    let stats = gateway.stats().await.expect("stats");
    assert_eq!(
        stats,
        GatewayStats {
            in_flight: 0,
            queued: 0,
            backing_off: 0,
            sent: 50,
            retried: 0
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn should_start_at_most_burst_plus_rate_times_elapsed() {
    let server = MockServer::start(|_| Reply::json("true")).await;
    let mut config = config(&server.base_url);
    config.max_concurrent = NonZeroUsize::new(64).expect("64 is not zero");
    config.rate_limit = Some(RateLimit::per_second(nonzero(10)).with_burst(nonzero(5)));
    // Taken before the limiter exists, so every elapsed time below is an over-estimate.
    let started = Instant::now();
    let gateway = gateway(config).await;

    let mut sends = JoinSet::new();
    for _ in 0..40 {
        let gateway = gateway.clone();
        sends.spawn(async move { gateway.send(EspoRequest::get(["Account"])).await });
    }
    while let Some(outcome) = sends.join_next().await {
        outcome
            .expect("the send task finished")
            .expect("the request succeeded");
    }
    let elapsed = started.elapsed();

    // 5 at once, then one every 100 ms: the 40th cannot start before 3.5 s.
    assert!(
        elapsed >= Duration::from_millis(3500),
        "took only {elapsed:?}"
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 40);
    for (index, request) in seen.iter().enumerate() {
        let count = (index + 1) as f64;
        let at = request.arrived.duration_since(started).as_secs_f64();
        assert!(
            count <= 5.0 + 10.0 * at,
            "{count} requests had arrived after {at:.3} s, more than burst + rate × t"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn should_stay_within_both_limits_at_once() {
    let server = MockServer::start(|_| Reply::json("true").delay(Duration::from_millis(150))).await;
    let mut config = config(&server.base_url);
    config.max_concurrent = NonZeroUsize::new(2).expect("2 is not zero");
    config.rate_limit = Some(RateLimit::per_second(nonzero(20)).with_burst(nonzero(10)));
    let started = Instant::now();
    let gateway = gateway(config).await;

    let mut sends = JoinSet::new();
    for _ in 0..12 {
        let gateway = gateway.clone();
        sends.spawn(async move { gateway.send(EspoRequest::get(["Task"])).await });
    }
    while let Some(outcome) = sends.join_next().await {
        outcome
            .expect("the send task finished")
            .expect("the request succeeded");
    }

    assert!(
        server.peak_in_flight() <= 2,
        "peak {}",
        server.peak_in_flight()
    );
    for (index, request) in server.seen().iter().enumerate() {
        let at = request.arrived.duration_since(started).as_secs_f64();
        assert!((index + 1) as f64 <= 10.0 + 20.0 * at);
    }
}
