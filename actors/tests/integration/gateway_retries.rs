//! Which failures the gateway tries again, how often, and after how long.

use std::num::NonZeroUsize;
use std::time::Duration;

use espomcp_actors::{EspoRequest, Method, RateLimit, UpstreamError};
use serde_json::json;
use tokio::net::TcpListener;

use crate::mock::{MockServer, Reply, config, gateway, nonzero};

#[tokio::test]
async fn should_retry_get_on_503_until_it_succeeds() {
    let server = MockServer::start(|seen| {
        if seen.index < 2 {
            Reply::status(503)
        } else {
            Reply::json(r#"{"id":"a"}"#)
        }
    })
    .await;
    let gateway = gateway(config(&server.base_url)).await;

    let response = gateway
        .send(EspoRequest::get(["Account", "a"]))
        .await
        .expect("the third attempt succeeds");

    assert_eq!(response.body, json!({"id": "a"}));
    assert_eq!(server.count(), 3);
    let stats = gateway.stats().await.expect("stats");
    assert_eq!((stats.sent, stats.retried), (3, 2));
}

#[tokio::test]
async fn should_give_up_on_503_after_max_attempts() {
    let server =
        MockServer::start(|_| Reply::status(503).header("x-status-reason", "Maintenance")).await;
    let gateway = gateway(config(&server.base_url)).await;

    let error = gateway
        .send(EspoRequest::get(["Account"]))
        .await
        .expect_err("every attempt fails");

    assert_eq!(
        error,
        UpstreamError::Status {
            status: 503,
            reason: Some("Maintenance".into()),
            body: serde_json::Value::Null
        }
    );
    assert_eq!(server.count(), 3, "3 attempts in total, no more");
}

#[tokio::test]
async fn should_retry_get_on_429_after_retry_after() {
    let server = MockServer::start(|seen| {
        if seen.index == 0 {
            Reply::status(429).header("retry-after", "1")
        } else {
            Reply::json("true")
        }
    })
    .await;
    let gateway = gateway(config(&server.base_url)).await;

    let response = gateway
        .send(EspoRequest::get(["Account"]))
        .await
        .expect("the retry succeeds");

    assert_eq!(response.body, json!(true));
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    let waited = seen[1].arrived.duration_since(seen[0].arrived);
    assert!(
        waited >= Duration::from_secs(1),
        "retried after only {waited:?}"
    );
}

#[tokio::test]
async fn should_not_wait_out_a_retry_after_longer_than_allowed() {
    let server = MockServer::start(|_| Reply::status(429).header("retry-after", "120")).await;
    let gateway = gateway(config(&server.base_url)).await;

    let error = gateway
        .send(EspoRequest::get(["Account"]))
        .await
        .expect_err("rate limited");

    assert_eq!(
        error,
        UpstreamError::RateLimited {
            retry_after: Some(Duration::from_secs(120))
        }
    );
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn should_send_retries_through_the_rate_limiter() {
    // Burst 1 at 5 per second: the retry needs a fresh cell, 200 ms after the first attempt.
    // A request before it opens the connection, so that both attempts measured travel over an
    // open one: connecting first would delay the first attempt's arrival, not the retry's.
    let server = MockServer::start(|seen| {
        if seen.index == 1 {
            Reply::status(502)
        } else {
            Reply::json("true")
        }
    })
    .await;
    let mut config = config(&server.base_url);
    config.rate_limit = Some(RateLimit::per_second(nonzero(5)).with_burst(nonzero(1)));
    let gateway = gateway(config).await;
    gateway
        .send(EspoRequest::get(["App", "user"]))
        .await
        .expect("the connection opens");

    gateway
        .send(EspoRequest::get(["Account"]))
        .await
        .expect("the retry succeeds");

    let seen = &server.seen()[1..];
    assert_eq!(seen.len(), 2);
    let waited = seen[1].arrived.duration_since(seen[0].arrived);
    assert!(
        waited >= Duration::from_millis(150),
        "retried after only {waited:?}"
    );
}

#[tokio::test]
async fn should_not_retry_500() {
    let server = MockServer::start(|_| Reply::status(500)).await;
    let gateway = gateway(config(&server.base_url)).await;

    let error = gateway
        .send(EspoRequest::get(["Account", "a", "bogusLink"]))
        .await
        .expect_err("500");

    assert_eq!(error.status(), Some(500));
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn should_never_retry_writes() {
    for reply in [
        Reply::status(503),
        Reply::status(502),
        Reply::status(429).header("retry-after", "0"),
    ] {
        let server = MockServer::start(move |_| reply.clone()).await;
        let gateway = gateway(config(&server.base_url)).await;
        for method in [Method::Post, Method::Put, Method::Patch, Method::Delete] {
            let request =
                EspoRequest::new(method, ["Account", "a"]).with_body(json!({"name": "x"}));
            gateway.send(request).await.expect_err("the write fails");
        }
        assert_eq!(server.count(), 4, "one attempt per write");
    }
}

#[tokio::test]
async fn should_retry_get_after_a_timeout_but_not_post() {
    let server = MockServer::start(|seen| {
        if seen.index == 0 || seen.method == "POST" {
            Reply::json("true").delay(Duration::from_secs(10))
        } else {
            Reply::json(r#"{"retried":true}"#)
        }
    })
    .await;
    let mut config = config(&server.base_url);
    config.request_timeout = Duration::from_secs(1);
    let gateway = gateway(config).await;

    let response = gateway
        .send(EspoRequest::get(["Account"]))
        .await
        .expect("the second attempt is fast");
    assert_eq!(response.body, json!({"retried": true}));
    assert_eq!(server.count(), 2);

    let error = gateway
        .send(EspoRequest::post(["Account"], json!({"name": "Acme"})))
        .await
        .expect_err("the POST times out");
    assert_eq!(error, UpstreamError::Timeout);
    assert_eq!(server.count(), 3, "the POST was sent once");
}

#[tokio::test]
async fn should_retry_get_on_connection_errors_within_the_bound() {
    // A port that was just free: connections are refused.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let mut config = config(&format!("http://{address}"));
    config.max_concurrent = NonZeroUsize::new(1).expect("1 is not zero");
    let gateway = gateway(config).await;

    let error = gateway
        .send(EspoRequest::get(["Account"]))
        .await
        .expect_err("nothing listens");
    assert!(
        matches!(error, UpstreamError::Connection { .. }),
        "{error:?}"
    );
    assert_eq!(gateway.stats().await.expect("stats").sent, 3);

    gateway
        .send(EspoRequest::post(["Account"], json!({})))
        .await
        .expect_err("nothing listens");
    assert_eq!(
        gateway.stats().await.expect("stats").sent,
        4,
        "the POST was tried once"
    );
}
