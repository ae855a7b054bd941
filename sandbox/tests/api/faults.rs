//! Fault injection and observation, for the tests of the layers above the sandbox: added
//! latency, an exact share of 500s, 429s with `Retry-After`, connections dropped mid-body, the
//! per-route statistics and peak concurrency, the `/__sandbox` control routes — and robustness:
//! malformed query strings, wrongly typed JSON and huge bodies never get a 5xx where EspoCRM
//! would not give one, and the sandbox keeps answering afterwards.

use std::time::{Duration, Instant};

use espocrm_sandbox::{FaultConfig, FaultScope};
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Api, JSON, rows_of};

async fn still_answers(api: &Api) {
    let page = api
        .get("Account?maxSize=1&select=name")
        .send()
        .await
        .ok_json();
    assert_eq!(page["total"], json!(api.sandbox.count("Account")));
}

#[tokio::test]
async fn should_add_latency_to_every_answer_200() {
    let api = Api::start().await;
    api.sandbox.set_faults(FaultConfig {
        latency_ms: 150,
        ..FaultConfig::default()
    });
    for path in ["Account?maxSize=1", "App/user"] {
        let started = Instant::now();
        api.get(path).send().await.ok_json();
        assert!(
            started.elapsed() >= Duration::from_millis(150),
            "{path} took {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn should_fail_exact_share_of_requests_500() {
    let api = Api::start().await;
    api.sandbox.set_faults(FaultConfig {
        error_rate: 0.3,
        ..FaultConfig::default()
    });
    let mut failed = 0;
    for _ in 0..20 {
        let r = api.get("Account?maxSize=1&select=name").send().await;
        match r.status {
            500 => {
                failed += 1;
                assert_eq!(r.body, "", "an injected 500 has no body");
            }
            200 => {
                r.ok_json();
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(failed, 6, "exactly 30 % of 20");
    assert_eq!(api.sandbox.stats().faults_injected, 6);
}

#[tokio::test]
async fn should_fail_only_the_chosen_methods_500() {
    let api = Api::start().await;
    api.sandbox.set_faults(FaultConfig {
        error_rate: 1.0,
        error_scope: FaultScope::Writes,
        ..FaultConfig::default()
    });
    still_answers(&api).await;
    let r = api
        .post("Account", &json!({"name": "Never Stored Ltd."}))
        .send()
        .await;
    assert_eq!(r.status, 500);
    assert!(
        api.sandbox
            .find("Account", "name", &json!("Never Stored Ltd."))
            .is_empty(),
        "an injected failure does not reach the store"
    );
}

#[tokio::test]
async fn should_limit_rate_with_retry_after_429() {
    let api = Api::start().await;
    api.sandbox.set_faults(FaultConfig {
        rate_limit_rate: 0.5,
        retry_after_secs: 7,
        ..FaultConfig::default()
    });
    let mut limited = 0;
    for _ in 0..10 {
        let r = api.get("Account?maxSize=1").send().await;
        if r.status == 429 {
            limited += 1;
            assert_eq!(r.header("Retry-After").as_deref(), Some("7"));
        } else {
            r.ok_json();
        }
    }
    assert_eq!(limited, 5);
    api.sandbox.set_faults(FaultConfig::default());
    still_answers(&api).await;
}

#[tokio::test]
async fn should_drop_connection_mid_body_200() {
    let api = Api::start().await;
    api.sandbox.set_faults(FaultConfig {
        drop_rate: 1.0,
        ..FaultConfig::default()
    });
    let outcome = match api.get("Account?maxSize=1").builder().send().await {
        Err(e) => Err(e),
        Ok(response) => response.text().await.map(|_| ()),
    };
    assert!(outcome.is_err(), "reading the body fails");
    api.sandbox.set_faults(FaultConfig::default());
    still_answers(&api).await;
}

#[tokio::test]
async fn should_count_requests_by_route_200() {
    let api = Api::start().await;
    api.sandbox.reset_stats();
    for _ in 0..3 {
        api.get("Account?maxSize=1").send().await.ok_json();
    }
    let apex = api.find_one("Account", "name", "Apex Health Co.");
    api.get(&format!("Account/{apex}")).send().await.ok_json();
    api.get(&format!("Account/{apex}/contacts"))
        .send()
        .await
        .ok_json();
    api.get("Metadata").send().await.ok_json();
    api.get("Kanban/Opportunity?maxSize=1")
        .send()
        .await
        .ok_json();
    let stats = api.sandbox.stats();
    assert_eq!(stats.requests_total, 7);
    assert_eq!(stats.requests_by_route.get("GET Account"), Some(&3));
    assert_eq!(stats.requests_by_route.get("GET Account/{id}"), Some(&1));
    assert_eq!(
        stats.requests_by_route.get("GET Account/{id}/contacts"),
        Some(&1)
    );
    assert_eq!(stats.requests_by_route.get("GET Metadata"), Some(&1));
    assert_eq!(
        stats.requests_by_route.get("GET Kanban/Opportunity"),
        Some(&1)
    );
    assert_eq!(stats.count("GET Account"), 5);
    assert_eq!(stats.arrivals_ms.len(), 7);
    assert_eq!(stats.in_flight, 0);
    assert_eq!(stats.faults_injected, 0);
}

#[tokio::test]
async fn should_record_peak_concurrency_200() {
    let api = Api::start().await;
    api.sandbox.set_faults(FaultConfig {
        latency_ms: 200,
        ..FaultConfig::default()
    });
    let (a, b, c, d) = tokio::join!(
        api.get("Account?maxSize=1").send(),
        api.get("Contact?maxSize=1").send(),
        api.get("Lead?maxSize=1").send(),
        api.get("App/user").send(),
    );
    for r in [a, b, c, d] {
        r.ok_json();
    }
    let stats = api.sandbox.stats();
    assert!(stats.peak_in_flight >= 2, "peak {}", stats.peak_in_flight);
    assert!(stats.max_in_window(1000) >= 2);
    assert_eq!(stats.in_flight, 0);
}

#[tokio::test]
async fn should_control_faults_and_stats_over_http_204() {
    let api = Api::start().await;
    let r = api
        .control(Method::POST, "reset-stats")
        .send()
        .await
        .expect("the control route answers");
    assert_eq!(r.status().as_u16(), 204);
    let r = api
        .control(Method::PUT, "faults")
        .json(&json!({"errorRate": 1.0}))
        .send()
        .await
        .expect("the control route answers");
    assert_eq!(r.status().as_u16(), 204);
    let r = api.get("Account?maxSize=1").send().await;
    assert_eq!(r.status, 500);

    let stats: Value = api
        .control(Method::GET, "stats")
        .send()
        .await
        .expect("the control route answers")
        .json()
        .await
        .expect("stats are JSON");
    assert_eq!(
        stats["requestsTotal"],
        json!(1),
        "control routes are not counted"
    );
    assert_eq!(stats["requestsByRoute"]["GET Account"], json!(1));
    assert_eq!(stats["faultsInjected"], json!(1));
    assert!(stats["peakInFlight"].is_u64());

    let r = api
        .control(Method::PUT, "faults")
        .json(&json!({}))
        .send()
        .await
        .expect("the control route answers");
    assert_eq!(r.status().as_u16(), 204);
    still_answers(&api).await;
}

// ------------------------------------------------------------------------------ robustness

/// Query strings EspoCRM handles without a server error, and the status it gives.
fn malformed_queries() -> Vec<(String, u16)> {
    let long = "a".repeat(10 * 1024);
    vec![
        ("Account?maxSize[=2&select=name".into(), 200),
        ("Account?x]]=1&select=name&maxSize=2".into(), 200),
        ("Account?[select]=name&maxSize=2".into(), 200),
        ("Account?select=name&maxSize=2&a[b][c=1".into(), 200),
        ("Account?select=%zz&maxSize=2".into(), 200),
        ("Account?select=name%&maxSize=2%4".into(), 200),
        ("Account?%=%&select=name&maxSize=1".into(), 200),
        (
            "Account?textFilter=%E0%A4%A&select=name&maxSize=2".into(),
            200,
        ),
        ("Account?&&&select=name&&maxSize=2&&".into(), 200),
        (format!("Account?select={long}&maxSize=2"), 200),
        (format!("Account?textFilter={long}&maxSize=2"), 200),
        (format!("Account?{long}={long}&maxSize=2"), 200),
        (format!("Account?orderBy={long}"), 400),
        ("Account?maxSize=99999999999999999999999999".into(), 403),
        ("Account?order=%00&orderBy=name".into(), 400),
        ("Account?searchParams=".into(), 400),
    ]
}

#[tokio::test]
async fn should_survive_malformed_query_strings_200() {
    let api = Api::start().await;
    for (path, status) in malformed_queries() {
        let r = api.get(&path).send().await;
        let shown: String = path.chars().take(80).collect();
        assert_eq!(
            r.status,
            status,
            "{shown}: {:?} {:?}",
            r.reason(),
            r.body.chars().take(200).collect::<String>()
        );
        assert_eq!(r.content_type(), JSON, "{shown}");
    }
    // Where values of every shape: an answer, never a dropped connection, and no 5xx other
    // than EspoCRM's own unhandled-error shape (500, empty body, no reason).
    let long = "b".repeat(10 * 1024);
    let odd_wheres = [
        format!("where[0][type]=equals&where[0][attribute]=name&where[0][value]={long}"),
        "where[0][type]=equals&where[0][attribute]=name&where[0][value][x][y]=1".into(),
        "where[0][type]=in&where[0][attribute]=industry&where[0][value][]=Software".into(),
        "where[0][type]=or&where[0][value]=x".into(),
        "where[0][type]=and&where[0][value][0]=x".into(),
        "where=nothing".into(),
        "where[=1".into(),
        "where[0][type]=greaterThan&where[0][attribute]=name&where[0][value]=%zz".into(),
        "where[0][type]=lastXDays&where[0][attribute]=createdAt&where[0][value]=abc".into(),
    ];
    for query in &odd_wheres {
        let r = api
            .get(&format!("Account?{query}&select=name&maxSize=1"))
            .send()
            .await;
        let shown: String = query.chars().take(80).collect();
        assert!(
            r.status < 500 || (r.status == 500 && r.body.is_empty() && r.reason().is_none()),
            "{shown}: {} {:?}",
            r.status,
            r.reason()
        );
    }
    still_answers(&api).await;
}

#[tokio::test]
async fn should_validate_wrongly_typed_json_400() {
    let api = Api::start().await;
    let before = api.sandbox.count("Opportunity");
    let cases = [
        (
            json!({"name": "Typed", "amount": "lots", "closeDate": "2027-01-23"}),
            "amount",
        ),
        (
            json!({"name": "Typed", "amount": 5, "closeDate": 20270123}),
            "closeDate",
        ),
        (
            json!({"name": "Typed", "amount": 5, "closeDate": "2027-01-23", "stage": 7}),
            "stage",
        ),
    ];
    for (body, field) in cases {
        let r = api.post("Opportunity", &body).send().await;
        r.expect_status(400);
        assert_eq!(
            r.json()["messageTranslation"]["data"]["field"],
            json!(field)
        );
    }
    assert_eq!(api.sandbox.count("Opportunity"), before);
    // Bodies that are not objects, and values of the wrong shape: no crash.
    for raw in [
        "[1,2,3]",
        "\"text\"",
        "42",
        "null",
        "{\"name\": {\"nested\": true}}",
        "{\"name\": [\"a\"]}",
    ] {
        let r = api
            .request(Method::POST, "Account")
            .raw_body(raw)
            .send()
            .await;
        assert!(
            r.status < 500 || (r.status == 500 && r.body.is_empty() && r.reason().is_none()),
            "{raw}: {} {:?}",
            r.status,
            r.reason()
        );
    }
    let apex = api.find_one("Account", "name", "Apex Health Co.");
    for raw in [
        "[]",
        "{\"name\": 12}",
        "{\"contactsIds\": \"x\"}",
        "{\"emailAddressData\": 5}",
    ] {
        let r = api
            .request(Method::PUT, &format!("Account/{apex}"))
            .raw_body(raw)
            .send()
            .await;
        assert!(
            r.status < 500 || (r.status == 500 && r.body.is_empty() && r.reason().is_none()),
            "{raw}: {} {:?}",
            r.status,
            r.reason()
        );
    }
    still_answers(&api).await;
}

#[tokio::test]
async fn should_store_large_text_200() {
    let api = Api::start().await;
    let description = "x".repeat(1024 * 1024);
    let created = api
        .post(
            "Account",
            &json!({"name": "Huge Description Ltd.", "description": description}),
        )
        .send()
        .await
        .ok_json();
    let id = created["id"].as_str().expect("an id");
    let read = api.get(&format!("Account/{id}")).send().await.ok_json();
    assert_eq!(
        read["description"].as_str().map(str::len),
        Some(description.len())
    );
    // A body bigger still: refused or stored, but no server error.
    let bigger = "y".repeat(3 * 1024 * 1024);
    let r = api
        .post(
            "Account",
            &json!({"name": "Bigger Ltd.", "description": bigger}),
        )
        .send()
        .await;
    assert!(r.status < 500, "{} {:?}", r.status, r.reason());
    still_answers(&api).await;
    let page = api.list("Account", "maxSize=1&select=name").await;
    assert_eq!(rows_of(&page).len(), 1);
}

#[tokio::test]
async fn should_cut_long_text_in_list_rows_200() {
    let api = Api::start().await;
    let description = "z".repeat(20_000);
    let created = api
        .post(
            "Account",
            &json!({"name": "Long Description Ltd.", "description": description}),
        )
        .send()
        .await
        .ok_json();
    let (_, rows) = api.fetch_all("Account", "select=name,description").await;
    let row = rows
        .iter()
        .find(|r| r["id"] == created["id"])
        .expect("listed");
    assert_eq!(
        row["description"].as_str().map(str::len),
        Some(10_000),
        "list text is cut to 10000 characters"
    );
}
