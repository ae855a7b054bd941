//! The metadata cache, seen from EspoCRM: one fetch for any number of concurrent cold lookups,
//! kept for SERVER_METADATA_TTL_SECS, fetched again after it; a failed fetch is not kept.

use std::time::Duration;

use espocrm_sandbox::{FaultConfig, FaultScope};
use serde_json::json;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::common::{Era, Server, let_time_pass, sandbox, success_of};

async fn schemas_at_once(server: &Server, n: usize) {
    let mut tasks = JoinSet::new();
    let types = ["Account", "Contact", "Opportunity", "Lead", "Task"];
    for i in 0..n {
        let peer = server.client.peer().clone();
        let entity = types[i % types.len()];
        let params = rmcp::model::CallToolRequestParams::new("get_schema")
            .with_arguments(json!({"entityType": entity}).as_object().unwrap().clone());
        tasks.spawn(async move { (entity, peer.call_tool(params).await) });
    }
    while let Some(joined) = tasks.join_next().await {
        let (entity, result) = joined.expect("the task ran");
        let schema = success_of(&result.expect("no protocol error"), "get_schema");
        assert_eq!(schema["entityType"], entity);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_fetch_for_twenty_concurrent_cold_lookups() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Modern).await;
    sandbox.reset_stats();
    schemas_at_once(&server, 20).await;
    let stats = sandbox.stats();
    assert_eq!(
        stats.count("GET Metadata"),
        1,
        "{:?}",
        stats.requests_by_route
    );
    assert_eq!(
        stats.count("GET App/user"),
        1,
        "{:?}",
        stats.requests_by_route
    );
    assert_eq!(stats.requests_total, 2, "get_schema needs nothing else");
    // Warm: no more fetches.
    schemas_at_once(&server, 5).await;
    server
        .ok("search", json!({"entityType": "Account", "limit": 1}))
        .await;
    assert_eq!(sandbox.stats().count("GET Metadata"), 1);
    server.stop().await;
}

/// In process, on tokio's clock: the TTL passes without waiting for it.
#[tokio::test]
async fn fetched_again_after_the_ttl() {
    let sandbox = sandbox().await;
    let server = Server::builder(&sandbox)
        .env("SERVER_METADATA_TTL_SECS", 1)
        .start_in_process()
        .await;
    sandbox.reset_stats();
    let started = Instant::now();
    schemas_at_once(&server, 20).await;
    assert_eq!(sandbox.stats().count("GET Metadata"), 1);
    let_time_pass(Duration::from_secs(1)).await;
    server
        .ok("get_schema", json!({"entityType": "Account"}))
        .await;
    assert!(
        sandbox.stats().count("GET Metadata") >= 2,
        "no fetch after the TTL"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "fetched again before the TTL: {:?}",
        started.elapsed()
    );
    let stats = sandbox.stats();
    assert_eq!(
        stats.count("GET Metadata"),
        2,
        "{:?}",
        stats.requests_by_route
    );
    assert_eq!(
        stats.count("GET App/user"),
        2,
        "{:?}",
        stats.requests_by_route
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_fetch_is_not_kept() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Legacy).await;
    sandbox.set_faults(FaultConfig {
        error_rate: 1.0,
        error_scope: FaultScope::Reads,
        ..FaultConfig::default()
    });
    let error = server
        .err_code("list_entity_types", json!({}), "UPSTREAM_ERROR")
        .await;
    assert!(
        error["message"].as_str().unwrap().contains("500"),
        "{error:?}"
    );
    sandbox.set_faults(FaultConfig::default());
    let types = server.ok("list_entity_types", json!({})).await;
    assert!(!types["entityTypes"].as_array().unwrap().is_empty());
    assert_eq!(sandbox.stats().count("GET Metadata"), 2);
    server.stop().await;
}
