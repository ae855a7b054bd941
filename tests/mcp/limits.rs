//! The limits on what espomcp asks of EspoCRM (the acceptance tests): requests in
//! flight, requests per second with a burst, and bounded retries of transient failures, all
//! observed from the sandbox's side.
//!
//! The sandbox cannot answer 503 (its faults are 500s, 429s with Retry-After, dropped
//! connections and latency), so the retries of transient failures are shown with 429s and
//! dropped connections; the 500 that is final is in `errors.rs`.

use std::time::{Duration, Instant};

use espocrm_sandbox::{FaultConfig, FaultScope};
use serde_json::json;
use tokio::task::JoinSet;

use crate::common::{
    Direct, Era, Server, fast_forward, let_time_pass, sandbox, settle, success_of,
};

async fn account_ids(sandbox: &espocrm_sandbox::Sandbox, n: usize) -> Vec<String> {
    let ids: Vec<String> = Direct::new(sandbox)
        .all("Account")
        .await
        .iter()
        .take(n)
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), n);
    ids
}

/// Runs one `get` per id at once; returns the records' ids in the order of `ids`.
async fn get_all_at_once(server: &Server, ids: &[String]) -> Vec<String> {
    let mut tasks = JoinSet::new();
    for (i, id) in ids.iter().enumerate() {
        let peer = server.client.peer().clone();
        let params = rmcp::model::CallToolRequestParams::new("get").with_arguments(
            json!({"entityType": "Account", "id": id, "select": ["name"]})
                .as_object()
                .unwrap()
                .clone(),
        );
        tasks.spawn(async move { (i, peer.call_tool(params).await) });
    }
    let mut found = vec![String::new(); ids.len()];
    while let Some(joined) = tasks.join_next().await {
        let (i, result) = joined.expect("the task ran");
        let result = result.expect("no protocol error");
        let record = success_of(&result, "get");
        found[i] = record["id"].as_str().unwrap().to_owned();
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_max_concurrent_requests_in_flight() {
    let sandbox = sandbox().await;
    let ids = account_ids(&sandbox, 50).await;
    let server = Server::builder(&sandbox)
        .env("SERVER_RATE_LIMIT_MAX_CONCURRENT", 3)
        .env("SERVER_RATE_LIMIT_REQUESTS_PER_SECOND", 0)
        .era(Era::Modern)
        .start()
        .await;
    server.ok("list_entity_types", json!({})).await;
    sandbox.set_faults(FaultConfig {
        latency_ms: 50,
        ..FaultConfig::default()
    });
    sandbox.reset_stats();
    let found = get_all_at_once(&server, &ids).await;
    assert_eq!(found, ids, "each call got its own record");
    let stats = sandbox.stats();
    assert_eq!(stats.count("GET Account/{id}"), 50);
    assert!(
        stats.peak_in_flight <= 3,
        "{} requests were in flight at once",
        stats.peak_in_flight
    );
    assert_eq!(stats.peak_in_flight, 3, "the budget is used");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_rate_times_elapsed_plus_burst() {
    let sandbox = sandbox().await;
    let ids = account_ids(&sandbox, 40).await;
    let server = Server::builder(&sandbox)
        .env("SERVER_RATE_LIMIT_REQUESTS_PER_SECOND", 10)
        .env("SERVER_RATE_LIMIT_BURST", 5)
        .start()
        .await;
    // The server has sent nothing yet, so its bucket is full; the metadata fetch (2 requests)
    // comes out of the same budget as the 40 reads.
    sandbox.reset_stats();
    let started = Instant::now();
    let found = get_all_at_once(&server, &ids).await;
    let elapsed = started.elapsed();
    assert_eq!(found, ids);
    let stats = sandbox.stats();
    assert_eq!(stats.count("GET Account/{id}"), 40);
    let sent = stats.requests_total;
    assert_eq!(sent, 42, "{:?}", stats.requests_by_route);
    // 42 requests, 5 at once and then 10 a second: at least 3.7 s.
    assert!(
        elapsed >= Duration::from_millis(3500),
        "40 calls took only {elapsed:?}"
    );
    // For every k-th arrival at t ms (since the bucket was full): k <= 5 + 10 t / 1000, with
    // one request of tolerance for timing noise.
    for (k, t) in stats.arrivals_ms.iter().enumerate() {
        let k = k as f64 + 1.0;
        let allowed = 5.0 + 10.0 * (*t as f64) / 1000.0 + 1.0;
        assert!(k <= allowed, "arrival {k} at {t} ms (at most {allowed})");
    }
    // And in any window: at most burst + rate × window (+2 for timing noise at both ends).
    for window_ms in [300u64, 500, 1000, 2000] {
        let allowed = 5 + 10 * window_ms as usize / 1000 + 2;
        let seen = stats.max_in_window(window_ms);
        assert!(
            seen <= allowed,
            "{seen} requests within {window_ms} ms (at most {allowed})"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_retried_after_its_retry_after() {
    let sandbox = sandbox().await;
    let ids = account_ids(&sandbox, 2).await;
    let server = Server::start(&sandbox, Era::Legacy).await;
    server.ok("list_entity_types", json!({})).await;
    // Exact shares: with 0.5, the 1st request passes, the 2nd is refused, the 3rd passes…
    sandbox.set_faults(FaultConfig {
        rate_limit_rate: 0.5,
        retry_after_secs: 1,
        ..FaultConfig::default()
    });
    let first = server
        .ok("get", json!({"entityType": "Account", "id": ids[0]}))
        .await;
    assert_eq!(first["id"], ids[0].as_str());
    sandbox.reset_stats();
    let started = Instant::now();
    let second = server
        .ok("get", json!({"entityType": "Account", "id": ids[1]}))
        .await;
    let elapsed = started.elapsed();
    assert_eq!(second["id"], ids[1].as_str());
    let stats = sandbox.stats();
    assert_eq!(stats.count("GET Account/{id}"), 2, "one 429, one retry");
    assert_eq!(stats.faults_injected, 1);
    assert!(
        elapsed >= Duration::from_secs(1),
        "Retry-After: 1 was not waited out ({elapsed:?})"
    );
    sandbox.set_faults(FaultConfig::default());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_429s_are_retried_within_the_bound() {
    let sandbox = sandbox().await;
    let ids = account_ids(&sandbox, 1).await;
    let server = Server::start(&sandbox, Era::Legacy).await;
    server.ok("list_entity_types", json!({})).await;
    sandbox.set_faults(FaultConfig {
        rate_limit_rate: 1.0,
        retry_after_secs: 1,
        ..FaultConfig::default()
    });
    sandbox.reset_stats();
    let started = Instant::now();
    let error = server
        .err_code(
            "get",
            json!({"entityType": "Account", "id": ids[0]}),
            "RATE_LIMITED",
        )
        .await;
    let elapsed = started.elapsed();
    assert_eq!(error["retryable"], true);
    assert_eq!(
        sandbox.stats().count("GET Account/{id}"),
        3,
        "three attempts in all, no more"
    );
    assert!(
        elapsed >= Duration::from_secs(2),
        "two waits of 1 s: {elapsed:?}"
    );
    sandbox.set_faults(FaultConfig::default());
    server.assert_still_serving().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_retried() {
    let sandbox = sandbox().await;
    let ids = account_ids(&sandbox, 2).await;
    let server = Server::start(&sandbox, Era::Legacy).await;
    server.ok("list_entity_types", json!({})).await;
    sandbox.set_faults(FaultConfig {
        drop_rate: 0.5,
        drop_scope: FaultScope::Reads,
        ..FaultConfig::default()
    });
    server
        .ok("get", json!({"entityType": "Account", "id": ids[0]}))
        .await;
    sandbox.reset_stats();
    let record = server
        .ok("get", json!({"entityType": "Account", "id": ids[1]}))
        .await;
    assert_eq!(record["id"], ids[1].as_str());
    let stats = sandbox.stats();
    assert_eq!(stats.count("GET Account/{id}"), 2, "one drop, one retry");
    assert_eq!(stats.faults_injected, 1);

    // Every attempt dropped: three attempts, then a retryable upstream error.
    sandbox.set_faults(FaultConfig {
        drop_rate: 1.0,
        drop_scope: FaultScope::Reads,
        ..FaultConfig::default()
    });
    sandbox.reset_stats();
    let error = server
        .err_code(
            "get",
            json!({"entityType": "Account", "id": ids[0]}),
            "UPSTREAM_ERROR",
        )
        .await;
    assert_eq!(error["retryable"], true, "{error:?}");
    assert_eq!(sandbox.stats().count("GET Account/{id}"), 3);
    sandbox.set_faults(FaultConfig::default());
    server.assert_still_serving().await;
    server.stop().await;
}

/// A 503 (EspoCRM in maintenance, or a proxy) is transient: reads are retried, up to the bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_is_retried_within_the_bound() {
    let sandbox = sandbox().await;
    let ids = account_ids(&sandbox, 2).await;
    let server = Server::builder(&sandbox)
        .env("SERVER_RATE_LIMIT_REQUESTS_PER_SECOND", 0)
        .start()
        .await;
    server.ok("list_entity_types", json!({})).await;
    // Every other read fails (exactly: the sandbox's shares are counted, not random). The
    // first read passes; the next call's first attempt fails and its retry succeeds.
    sandbox.set_faults(FaultConfig {
        error_rate: 0.5,
        error_status: Some(503),
        error_scope: FaultScope::Reads,
        ..FaultConfig::default()
    });
    server
        .ok("get", json!({"entityType": "Account", "id": ids[1]}))
        .await;
    sandbox.reset_stats();
    let record = server
        .ok("get", json!({"entityType": "Account", "id": ids[0]}))
        .await;
    assert_eq!(record["id"], ids[0].as_str());
    let stats = sandbox.stats();
    assert_eq!(stats.count("GET Account/{id}"), 2, "one 503, one retry");
    assert_eq!(stats.faults_injected, 1);

    // Always 503: exactly three attempts, then a retryable upstream error.
    sandbox.set_faults(FaultConfig {
        error_rate: 1.0,
        error_status: Some(503),
        error_scope: FaultScope::Reads,
        ..FaultConfig::default()
    });
    sandbox.reset_stats();
    let error = server
        .err_code(
            "get",
            json!({"entityType": "Account", "id": ids[1]}),
            "UPSTREAM_ERROR",
        )
        .await;
    assert_eq!(error["retryable"], true, "{error:?}");
    assert_eq!(sandbox.stats().count("GET Account/{id}"), 3);
    sandbox.set_faults(FaultConfig::default());
    server.assert_still_serving().await;
    server.stop().await;
}

/// Retries of reads go through the same limits as first attempts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_stay_within_the_in_flight_budget() {
    let sandbox = sandbox().await;
    let ids = account_ids(&sandbox, 12).await;
    let server = Server::builder(&sandbox)
        .env("SERVER_RATE_LIMIT_MAX_CONCURRENT", 2)
        .env("SERVER_RATE_LIMIT_REQUESTS_PER_SECOND", 0)
        .start()
        .await;
    server.ok("list_entity_types", json!({})).await;
    sandbox.set_faults(FaultConfig {
        latency_ms: 30,
        drop_rate: 0.5,
        drop_scope: FaultScope::Reads,
        ..FaultConfig::default()
    });
    sandbox.reset_stats();
    let mut tasks = JoinSet::new();
    for id in &ids {
        let peer = server.client.peer().clone();
        let params = rmcp::model::CallToolRequestParams::new("get").with_arguments(
            json!({"entityType": "Account", "id": id})
                .as_object()
                .unwrap()
                .clone(),
        );
        tasks.spawn(async move { peer.call_tool(params).await });
    }
    let mut succeeded = 0;
    while let Some(joined) = tasks.join_next().await {
        let result = joined.expect("the task ran").expect("no protocol error");
        if result.is_error == Some(true) {
            // A call can be unlucky three times in a row; then it says so, retryably.
            let error = crate::common::error_of(&result, "get");
            assert_eq!(error["code"], "UPSTREAM_ERROR", "{error:?}");
            assert_eq!(error["retryable"], true, "{error:?}");
        } else {
            succeeded += 1;
        }
    }
    assert!(succeeded > 0);
    let stats = sandbox.stats();
    assert!(stats.count("GET Account/{id}") > 12, "some were retried");
    assert!(stats.peak_in_flight <= 2, "{}", stats.peak_in_flight);
    sandbox.set_faults(FaultConfig::default());
    server.stop().await;
}

/// A call the client cancels while it still waits in the gateway's queue is not sent: MCP
/// receivers should stop processing a cancelled request, and the gateway drops queued requests
/// whose caller has gone. In process, on tokio's clock: the slow answer and the watch for a
/// second request pass without waiting for them.
#[tokio::test]
async fn a_cancelled_call_still_queued_is_not_sent() {
    use rmcp::model::{CallToolRequest, CallToolRequestParams, ClientRequest};
    use rmcp::service::PeerRequestOptions;

    let sandbox = sandbox().await;
    let ids = account_ids(&sandbox, 6).await;
    let server = Server::builder(&sandbox)
        .env("SERVER_RATE_LIMIT_MAX_CONCURRENT", 1)
        .env("SERVER_RATE_LIMIT_REQUESTS_PER_SECOND", 0)
        .start_in_process()
        .await;
    server.ok("list_entity_types", json!({})).await;
    // A long answer for the one call in flight, so the cancellations certainly reach the
    // server while the other five still wait in the gateway's queue, however loaded the machine.
    sandbox.set_faults(FaultConfig {
        latency_ms: 1500,
        ..FaultConfig::default()
    });
    sandbox.reset_stats();
    let send = |id: &str| {
        let params = CallToolRequestParams::new("get").with_arguments(
            json!({"entityType": "Account", "id": id})
                .as_object()
                .unwrap()
                .clone(),
        );
        server.client.peer().send_cancellable_request(
            ClientRequest::CallToolRequest(CallToolRequest::new(params)),
            PeerRequestOptions::no_options(),
        )
    };
    // The first call takes the only slot; wait until EspoCRM sees it, so the order in which
    // the server happens to start its tasks cannot matter.
    let first = send(&ids[0]).await.expect("sent");
    // The deadline is on tokio's clock, which the paused window moves.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    fast_forward(Duration::from_secs(1), async {
        while sandbox.stats().count("GET Account/{id}") < 1
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    // Five more wait in the gateway's queue behind it; the client gives up on all of them.
    let mut queued = Vec::new();
    for id in &ids[1..] {
        queued.push(send(id).await.expect("sent"));
    }
    // rmcp's client may write a cancellation ahead of the request it cancels (they take
    // different paths to the transport), and a server ignores cancellations of requests it has
    // not seen. Give the requests a moment to reach the server first; the call in flight holds
    // the only slot for 1.5 s, so they are still queued when the cancellations arrive.
    let_time_pass(Duration::from_millis(300)).await;
    for handle in queued {
        handle
            .cancel(Some("the user gave up".into()))
            .await
            .expect("cancelled");
    }
    fast_forward(Duration::from_secs(2), first.await_response())
        .await
        .expect("the first call answers");
    // A second request would start as soon as the first finished; give it time to show up.
    let_time_pass(Duration::from_millis(2000)).await;
    settle().await;
    let stats = sandbox.stats();
    let sent = stats.count("GET Account/{id}");
    sandbox.set_faults(FaultConfig::default());
    server.assert_still_serving().await;
    server.stop().await;
    assert_eq!(
        sent, 1,
        "cancelled calls were still sent to EspoCRM: {:?} at {:?} ms",
        stats.requests_by_route, stats.arrivals_ms
    );
}
