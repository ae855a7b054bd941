//! The metadata cache: one fetch per miss however many callers missed, expiry, failures.

use std::sync::Arc;
use std::time::Duration;

use espomcp_actors::{MetadataCache, UpstreamError};
use tokio::task::JoinSet;

use crate::mock::{MockServer, Reply, Seen, config, gateway};

const METADATA: &str = include_str!("../fixtures/metadata.json");
const APP_USER: &str = include_str!("../fixtures/app-user.json");

/// EspoCRM's two metadata routes, each held for `delay` so concurrent misses overlap the fetch.
fn espo_metadata(delay: Duration) -> impl Fn(&Seen) -> Reply + Send + Sync + 'static {
    move |seen| match seen.path.as_str() {
        "/api/v1/Metadata" => Reply::json(METADATA).delay(delay),
        "/api/v1/App/user" => Reply::json(APP_USER).delay(delay),
        _ => Reply::status(404),
    }
}

async fn cache(server: &MockServer, ttl: Duration) -> MetadataCache {
    let gateway = gateway(config(&server.base_url)).await;
    let (cache, _join) = MetadataCache::spawn(gateway, ttl)
        .await
        .expect("the cache starts");
    cache
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn should_fetch_once_for_twenty_concurrent_cold_lookups() {
    let server = MockServer::start(espo_metadata(Duration::from_millis(200))).await;
    let cache = cache(&server, Duration::from_secs(600)).await;

    let mut lookups = JoinSet::new();
    for _ in 0..20 {
        let cache = cache.clone();
        lookups.spawn(async move { cache.schema().await });
    }
    let mut schemas = Vec::new();
    while let Some(outcome) = lookups.join_next().await {
        schemas.push(
            outcome
                .expect("the lookup task finished")
                .expect("a schema"),
        );
    }

    assert_eq!(server.count_path("Metadata"), 1);
    assert_eq!(server.count_path("App/user"), 1);
    assert!(
        schemas
            .iter()
            .all(|schema| Arc::ptr_eq(schema, &schemas[0]))
    );
    assert!(schemas[0].entity("Account").is_some());
}

#[tokio::test]
async fn should_serve_a_fresh_schema_without_fetching() {
    let server = MockServer::start(espo_metadata(Duration::ZERO)).await;
    let cache = cache(&server, Duration::from_secs(600)).await;

    let first = cache.schema().await.expect("a schema");
    for _ in 0..5 {
        let again = cache.schema().await.expect("a schema");
        assert!(Arc::ptr_eq(&first, &again));
    }
    assert_eq!(server.count_path("Metadata"), 1);
}

/// Moves tokio's clock, which the cache's expiry reads, `by` forward at once. The clock runs on
/// in real time afterwards: the fetches go over a real socket, and a paused clock would jump
/// ahead to the next timer (a request timeout) whenever the runtime waits for it.
async fn skip(by: Duration) {
    tokio::time::pause();
    tokio::time::advance(by).await;
    tokio::time::resume();
}

#[tokio::test]
async fn should_fetch_again_after_the_ttl() {
    const TTL: Duration = Duration::from_secs(600);
    let server = MockServer::start(espo_metadata(Duration::ZERO)).await;
    let cache = cache(&server, TTL).await;

    cache.schema().await.expect("a schema");
    assert_eq!(server.count_path("Metadata"), 1);

    skip(TTL - Duration::from_secs(1)).await;
    cache.schema().await.expect("a schema");
    assert_eq!(server.count_path("Metadata"), 1, "served until the TTL");

    skip(Duration::from_secs(1)).await;
    cache.schema().await.expect("a schema");
    assert_eq!(server.count_path("Metadata"), 2);
    assert_eq!(server.count_path("App/user"), 2);
}

#[tokio::test]
async fn should_fetch_again_after_invalidate() {
    let server = MockServer::start(espo_metadata(Duration::ZERO)).await;
    let cache = cache(&server, Duration::from_secs(600)).await;

    cache.schema().await.expect("a schema");
    cache.invalidate();
    cache.schema().await.expect("a schema");

    assert_eq!(server.count_path("Metadata"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn should_give_a_failed_fetch_to_every_waiter_and_not_keep_it() {
    let healthy = espo_metadata(Duration::ZERO);
    let server = MockServer::start(move |seen| {
        if seen.path == "/api/v1/Metadata" && seen.index < 2 {
            Reply::status(403)
                .header("x-status-reason", "No access.")
                .delay(Duration::from_millis(200))
        } else {
            healthy(seen)
        }
    })
    .await;
    let cache = cache(&server, Duration::from_secs(600)).await;

    let mut lookups = JoinSet::new();
    for _ in 0..5 {
        let cache = cache.clone();
        lookups.spawn(async move { cache.schema().await });
    }
    while let Some(outcome) = lookups.join_next().await {
        let error = outcome
            .expect("the lookup task finished")
            .expect_err("the fetch failed");
        assert_eq!(
            error,
            UpstreamError::PermissionDenied {
                reason: Some("No access.".into()),
                body: serde_json::Value::Null
            }
        );
    }
    assert_eq!(
        server.count_path("Metadata"),
        1,
        "the waiters shared one fetch"
    );

    cache.schema().await.expect("the failure was not cached");
    cache.schema().await.expect("now cached");
    assert_eq!(server.count_path("Metadata"), 2);
}

#[tokio::test]
async fn should_report_metadata_of_an_unexpected_shape() {
    let server = MockServer::start(|seen| match seen.path.as_str() {
        "/api/v1/Metadata" => Reply::json(r#"{"scopes":{}}"#),
        _ => Reply::json(APP_USER),
    })
    .await;
    let cache = cache(&server, Duration::from_secs(600)).await;

    let error = cache.schema().await.expect_err("no entityDefs");
    assert!(
        matches!(&error, UpstreamError::InvalidResponse { message, .. } if message.contains("entityDefs")),
        "{error:?}"
    );
}

/// A restriction that arrives while a fetch is under way is not lost: the view the fetch answers
/// with, and the one it leaves cached, are restricted by it.
#[tokio::test]
async fn should_restrict_a_view_fetched_while_the_restriction_arrived() {
    let server = MockServer::start(espo_metadata(Duration::from_millis(300))).await;
    let cache = cache(&server, Duration::from_secs(600)).await;

    let lookup = tokio::spawn({
        let cache = cache.clone();
        async move { cache.view().await }
    });
    // The fetch has started (the first request reached the server) before the restriction.
    while server.count_path("Metadata") + server.count_path("App/user") == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cache.restrict(Arc::new(|name: &str| name == "Account"));

    let view = lookup
        .await
        .expect("the lookup task finished")
        .expect("a view");
    assert!(view.full.entity("Opportunity").is_some());
    assert!(view.restricted.entity("Account").is_some());
    assert!(view.restricted.entity("Opportunity").is_none());
    let cached = cache.view().await.expect("the cached view");
    assert!(
        Arc::ptr_eq(&view, &cached),
        "the restricted view is the one cached"
    );
    assert_eq!(server.count_path("Metadata"), 1);
}
