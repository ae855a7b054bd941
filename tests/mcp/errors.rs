//! Every error code the read tools produce, as a tool result with `isError: true` and
//! `{"error": {code, message, suggestion, retryable}}`. Refusals that validation can decide must
//! not reach EspoCRM at all; after each bad call the server keeps serving.

use std::time::Duration;

use espocrm_sandbox::{FaultConfig, FaultScope};
use serde_json::{Value, json};

use crate::common::{
    Direct, Era, Server, assert_no_upstream_request, email_create_only, entity_type_names,
    fast_forward, sandbox,
};

const MISSING_ID: &str = "0123456789abcdef0";

/// Fills the metadata cache, so later requests are the tool's own.
async fn warm(server: &Server) {
    server.ok("list_entity_types", json!({})).await;
}

/// Asserts `code` for each call, none of which may reach EspoCRM; returns the errors.
async fn refused_locally(
    server: &Server,
    sandbox: &espocrm_sandbox::Sandbox,
    code: &str,
    calls: &[(&str, Value)],
) -> Vec<serde_json::Map<String, Value>> {
    let mut errors = Vec::new();
    for (tool, args) in calls {
        let what = format!("{tool} {args}");
        let error = assert_no_upstream_request(sandbox, &what, || {
            server.err_code(tool, args.clone(), code)
        })
        .await;
        assert_eq!(error["retryable"], false, "{what}: {error:?}");
        errors.push(error);
        server.assert_still_serving().await;
    }
    errors
}

fn suggestion(error: &serde_json::Map<String, Value>) -> &str {
    error["suggestion"].as_str().unwrap()
}

fn message(error: &serde_json::Map<String, Value>) -> &str {
    error["message"].as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_entity_type() {
    let sandbox = sandbox().await;
    // Email is the known type this key may not read (its role creates drafts only).
    email_create_only(&sandbox).await;
    let server = Server::start(&sandbox, Era::Legacy).await;
    warm(&server).await;
    let errors = refused_locally(
        &server,
        &sandbox,
        "INVALID_ENTITY_TYPE",
        &[
            ("search", json!({"entityType": "Acount"})),
            ("get_schema", json!({"entityType": "Email"})),
            ("get", json!({"entityType": "Email", "id": MISSING_ID})),
            ("search", json!({"entityType": "Note"})),
            ("get_schema", json!({"entityType": "Acc/ount"})),
            (
                "get_related",
                json!({"entityType": "Nope", "id": MISSING_ID, "link": "contacts"}),
            ),
        ],
    )
    .await;
    assert!(message(&errors[0]).contains("Acount"), "{:?}", errors[0]);
    // A huge name is not echoed whole.
    let huge = "Account".repeat(2000);
    let error = assert_no_upstream_request(&sandbox, "huge name", || {
        server.err_code("search", json!({"entityType": huge}), "INVALID_ENTITY_TYPE")
    })
    .await;
    let shown = serde_json::to_string(&error).unwrap();
    assert!(shown.len() < 2000, "{} characters of error", shown.len());
    assert!(
        suggestion(&errors[0]).contains("Account"),
        "{:?}",
        errors[0]
    );
    assert!(message(&errors[1]).contains("Email"), "{:?}", errors[1]);
    // The readable types are offered instead, not the unreadable one.
    assert!(
        suggestion(&errors[1]).contains("Account"),
        "{:?}",
        errors[1]
    );
    assert!(
        !suggestion(&errors[1]).contains("`Email`"),
        "{:?}",
        errors[1]
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_field() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Legacy).await;
    warm(&server).await;
    let errors = refused_locally(
        &server,
        &sandbox,
        "INVALID_FIELD",
        &[
            (
                "search",
                json!({"entityType": "Opportunity",
                       "where": [{"field": "amout", "type": "greaterThan", "value": 5}]}),
            ),
            ("search", json!({"entityType": "Opportunity", "select": ["name", "nme"]})),
            ("search", json!({"entityType": "Opportunity", "orderBy": "bogus"})),
            ("search", json!({"entityType": "Opportunity", "orderBy": "teams"})),
            (
                "get",
                json!({"entityType": "Opportunity", "id": MISSING_ID, "select": ["nope"]}),
            ),
            (
                "get_related",
                json!({"entityType": "Account", "id": MISSING_ID, "link": "contacts",
                       "where": [{"field": "stage", "type": "equals", "value": "Proposal"}]}),
            ),
            (
                "search",
                json!({"entityType": "Opportunity",
                       "where": [{"type": "or", "value": [
                           {"field": "stage", "type": "equals", "value": "Proposal"},
                           {"field": "Stage", "type": "equals", "value": "Proposal"}]}]}),
            ),
            // Fields the role hides (User secrets) cannot be read, selected or filtered on.
            ("search", json!({"entityType": "User", "select": ["userName", "apiKey"]})),
            (
                "search",
                json!({"entityType": "User", "where": [{"field": "password", "type": "isNotNull"}]}),
            ),
            ("search", json!({"entityType": "User", "orderBy": "apiKey"})),
        ],
    )
    .await;
    assert!(message(&errors[0]).contains("amout"), "{:?}", errors[0]);
    assert!(suggestion(&errors[0]).contains("amount"), "{:?}", errors[0]);
    assert!(message(&errors[1]).contains("nme"), "{:?}", errors[1]);
    assert!(message(&errors[2]).contains("bogus"), "{:?}", errors[2]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_operator() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Legacy).await;
    warm(&server).await;
    let condition = |field: &str, op: &str, value: Value| json!({"entityType": "Opportunity", "where": [{"field": field, "type": op, "value": value}]});
    let errors = refused_locally(
        &server,
        &sandbox,
        "INVALID_OPERATOR",
        &[
            ("search", condition("amount", "isTrue", Value::Null)),
            ("search", condition("amount", "approximately", json!(5))),
            ("search", condition("amount", "contains", json!("5"))),
            (
                "search",
                condition("stage", "greaterThan", json!("Proposal")),
            ),
            ("search", condition("name", "isFalse", Value::Null)),
        ],
    )
    .await;
    let fitting = suggestion(&errors[0]);
    for op in [
        "equals",
        "greaterThan",
        "lessThanOrEquals",
        "between",
        "in",
        "isNull",
    ] {
        assert!(
            fitting.contains(&format!("`{op}`")),
            "{op} not in {fitting}"
        );
    }
    for op in ["isTrue", "isFalse", "like", "contains"] {
        assert!(!fitting.contains(&format!("`{op}`")), "{op} in {fitting}");
    }
    assert!(message(&errors[0]).contains("isTrue"), "{:?}", errors[0]);
    assert!(
        message(&errors[1]).contains("approximately"),
        "{:?}",
        errors[1]
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_link() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Legacy).await;
    warm(&server).await;
    let errors = refused_locally(
        &server,
        &sandbox,
        "INVALID_LINK",
        &[
            (
                "get_related",
                json!({"entityType": "Account", "id": MISSING_ID, "link": "contatcs"}),
            ),
            (
                "get_related",
                json!({"entityType": "Account", "id": MISSING_ID, "link": "Contacts"}),
            ),
            (
                "get_related",
                json!({"entityType": "Account", "id": MISSING_ID, "link": "contacts/../x"}),
            ),
            // A parent link points at several entity types.
            (
                "get_related",
                json!({"entityType": "Task", "id": MISSING_ID, "link": "parent"}),
            ),
        ],
    )
    .await;
    assert!(message(&errors[0]).contains("contatcs"), "{:?}", errors[0]);
    for link in ["contacts", "opportunities", "cases"] {
        assert!(
            suggestion(&errors[0]).contains(&format!("`{link}`")),
            "{link} not in {:?}",
            errors[0]
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_id() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Legacy).await;
    warm(&server).await;
    let long = "a".repeat(65);
    let mut calls = Vec::new();
    for id in [
        "abc/def",
        "..",
        "abc?x=1",
        "a b",
        "",
        "%2e%2e",
        "id#frag",
        long.as_str(),
    ] {
        calls.push(("get", json!({"entityType": "Account", "id": id})));
    }
    calls.push((
        "get_related",
        json!({"entityType": "Account", "id": "../Contact", "link": "contacts"}),
    ));
    let errors = refused_locally(&server, &sandbox, "INVALID_ID", &calls).await;
    assert!(message(&errors[0]).contains("abc/def"), "{:?}", errors[0]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_argument() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Legacy).await;
    warm(&server).await;
    let opp = |extra: Value| {
        let mut args = json!({"entityType": "Opportunity"});
        for (k, v) in extra.as_object().unwrap() {
            args[k] = v.clone();
        }
        args
    };
    let condition = |c: Value| opp(json!({"where": [c]}));
    let many_conditions: Vec<Value> = (0..51)
        .map(|i| json!({"field": "probability", "type": "notEquals", "value": i}))
        .collect();
    let mut deep = json!({"field": "stage", "type": "equals", "value": "Proposal"});
    for _ in 0..6 {
        deep = json!({"type": "and", "value": [deep]});
    }
    let many_values: Vec<Value> = (0..101).map(|i| json!(i)).collect();
    let errors = refused_locally(
        &server,
        &sandbox,
        "INVALID_ARGUMENT",
        &[
            ("search", opp(json!({"bogus": 1}))),
            ("search", opp(json!({"limit": "ten"}))),
            ("search", json!({"entityType": 5})),
            ("search", json!({})),
            ("search", opp(json!({"limit": 0}))),
            ("search", opp(json!({"limit": -1}))),
            ("search", opp(json!({"offset": "x"}))),
            ("search", opp(json!({"order": "sideways"}))),
            ("search", opp(json!({"select": "name"}))),
            ("search", opp(json!({"where": {"field": "stage", "type": "equals", "value": "Proposal"}}))),
            ("search", condition(json!({"field": "stage", "type": "in", "value": "Proposal"}))),
            ("search", condition(json!({"field": "stage", "type": "in", "value": []}))),
            ("search", condition(json!({"field": "amount", "type": "between", "value": [1000]}))),
            ("search", condition(json!({"type": "equals", "value": "x"}))),
            ("search", condition(json!({"field": "stage", "type": "equals", "value": "NotAStage"}))),
            ("search", condition(json!({"field": "amount", "type": "equals", "value": "lots"}))),
            ("search", condition(json!({"field": "closeDate", "type": "equals", "value": "31/12/2027"}))),
            ("search", condition(json!({"field": "stage", "type": "equals"}))),
            ("search", condition(json!({"field": "description", "type": "isNull", "value": "x"}))),
            ("search", condition(json!({"type": "or", "value": []}))),
            ("search", condition(json!({"field": "stage", "type": "equals", "value": "Proposal", "extra": 1}))),
            ("search", opp(json!({"where": many_conditions}))),
            ("search", opp(json!({"where": [deep]}))),
            ("search", condition(json!({"field": "probability", "type": "in", "value": many_values}))),
            ("list_entity_types", json!({"entityType": "Account"})),
            ("get_schema", json!({"entityType": "Account", "verbose": true})),
            ("get", json!({"entityType": "Account"})),
            ("get", json!({"entityType": "Account", "id": 12345})),
            (
                "get_related",
                json!({"entityType": "Account", "id": MISSING_ID, "link": "contacts", "limit": 0}),
            ),
            (
                "get_related",
                json!({"entityType": "Account", "id": MISSING_ID, "link": "contacts", "orderBy": "name"}),
            ),
        ],
    )
    .await;
    assert!(message(&errors[0]).contains("bogus"), "{:?}", errors[0]);
    assert!(message(&errors[4]).contains("limit"), "{:?}", errors[4]);
    // The options of an enum are offered.
    assert!(
        suggestion(&errors[14]).contains("Proposal"),
        "{:?}",
        errors[14]
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_not_found() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Legacy).await;
    warm(&server).await;
    sandbox.reset_stats();
    let error = server
        .err_code(
            "get",
            json!({"entityType": "Account", "id": MISSING_ID}),
            "RECORD_NOT_FOUND",
        )
        .await;
    assert_eq!(error["retryable"], false);
    assert!(message(&error).contains(MISSING_ID), "{error:?}");
    assert!(message(&error).contains("Account"), "{error:?}");
    // A 404 is final: asked once.
    assert_eq!(sandbox.stats().count("GET Account/{id}"), 1);
    server.assert_still_serving().await;

    let error = server
        .err_code(
            "get_related",
            json!({"entityType": "Account", "id": MISSING_ID, "link": "contacts"}),
            "RECORD_NOT_FOUND",
        )
        .await;
    assert!(message(&error).contains(MISSING_ID), "{error:?}");
    assert_eq!(sandbox.stats().count("GET Account/{id}/contacts"), 1);
    server.assert_still_serving().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_failed() {
    let sandbox = sandbox().await;
    let wrong_key = "0000wrong0000key0000wrong0000key";
    let server = Server::builder(&sandbox).api_key(wrong_key).start().await;
    for (tool, args) in [
        ("list_entity_types", json!({})),
        ("search", json!({"entityType": "Account"})),
        ("get", json!({"entityType": "Account", "id": MISSING_ID})),
    ] {
        let error = server.err_code(tool, args, "AUTH_FAILED").await;
        assert_eq!(error["retryable"], false);
        assert!(suggestion(&error).contains("ESPOCRM_API_KEY"), "{error:?}");
        assert!(!format!("{error:?}").contains(wrong_key), "the key leaked");
    }
    let stderr = server.stop().await;
    assert!(!stderr.contains(wrong_key), "the key is in stderr");
}

/// The limited key ("MCP Read Only": Account and Contact, read only; User: own record only).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_denied_and_what_the_limited_key_cannot_reach() {
    let sandbox = sandbox().await;
    let users = Direct::new(&sandbox).all("User").await;
    let admin = users
        .iter()
        .find(|u| u["userName"] == "admin")
        .and_then(|u| u["id"].as_str())
        .expect("the admin user")
        .to_owned();
    let server = Server::builder(&sandbox)
        .api_key(&sandbox.limited_api_key)
        .start()
        .await;
    let types = server.ok("list_entity_types", json!({})).await;
    let names = entity_type_names(&types);
    for readable in ["Account", "Contact"] {
        assert!(names.iter().any(|n| n == readable), "{names:?}");
    }
    for hidden in ["Lead", "Opportunity", "Task", "Case"] {
        assert!(!names.iter().any(|n| n == hidden), "{names:?}");
    }
    let account = types["entityTypes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Account")
        .unwrap();
    assert_eq!(account["actions"], json!(["read"]));

    // Types the role cannot read are refused before any request, as unknown types are.
    let account_id = Direct::new(&sandbox).all("Account").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let errors = refused_locally(
        &server,
        &sandbox,
        "INVALID_ENTITY_TYPE",
        &[
            ("search", json!({"entityType": "Lead"})),
            ("get_schema", json!({"entityType": "Opportunity"})),
            (
                "get_related",
                json!({"entityType": "Account", "id": account_id, "link": "opportunities"}),
            ),
        ],
    )
    .await;
    assert!(message(&errors[0]).contains("Lead"), "{:?}", errors[0]);

    // A record of a readable type (User: own only) that EspoCRM refuses with 403.
    sandbox.reset_stats();
    let error = server
        .err_code(
            "get",
            json!({"entityType": "User", "id": admin}),
            "PERMISSION_DENIED",
        )
        .await;
    assert_eq!(error["retryable"], false);
    assert!(message(&error).contains("No read access"), "{error:?}");
    assert_eq!(sandbox.stats().count("GET User/{id}"), 1, "a 403 is final");
    server.assert_still_serving().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_beyond_the_longest_wait() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Legacy).await;
    warm(&server).await;
    let id = Direct::new(&sandbox).all("Account").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A Retry-After longer than the gateway waits out (30 s): the caller hears at once.
    sandbox.set_faults(FaultConfig {
        rate_limit_rate: 1.0,
        retry_after_secs: 60,
        ..FaultConfig::default()
    });
    sandbox.reset_stats();
    let error = server
        .err_code(
            "get",
            json!({"entityType": "Account", "id": id}),
            "RATE_LIMITED",
        )
        .await;
    assert_eq!(error["retryable"], true);
    assert!(message(&error).contains("60"), "{error:?}");
    assert_eq!(error["details"]["retryAfterSecs"], 60, "{error:?}");
    assert_eq!(sandbox.stats().count("GET Account/{id}"), 1, "not retried");
    sandbox.set_faults(FaultConfig::default());
    server.assert_still_serving().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_error() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Legacy).await;
    warm(&server).await;
    sandbox.set_faults(FaultConfig {
        error_rate: 1.0,
        error_scope: FaultScope::Reads,
        ..FaultConfig::default()
    });
    sandbox.reset_stats();
    let error = server
        .err_code(
            "search",
            json!({"entityType": "Account", "limit": 3}),
            "UPSTREAM_ERROR",
        )
        .await;
    // EspoCRM answers 500 to malformed requests too: final, not retried, not retryable.
    assert_eq!(error["retryable"], false, "{error:?}");
    assert!(message(&error).contains("500"), "{error:?}");
    assert_eq!(
        sandbox.stats().count("GET Account"),
        1,
        "a 500 is not retried"
    );
    sandbox.set_faults(FaultConfig::default());
    server.assert_still_serving().await;
    server.stop().await;
}

/// In process, on tokio's clock: the three timeouts and the backoffs between them pass
/// without waiting for them (in a window short of the call's own time limits).
#[tokio::test]
async fn upstream_timeout() {
    let sandbox = sandbox().await;
    let server = Server::builder(&sandbox)
        .env("ESPOCRM_TIMEOUT_SECS", 1)
        .start_in_process()
        .await;
    warm(&server).await;
    let id = Direct::new(&sandbox).all("Account").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    sandbox.set_faults(FaultConfig {
        latency_ms: 1500,
        ..FaultConfig::default()
    });
    sandbox.reset_stats();
    let started = tokio::time::Instant::now();
    let error = fast_forward(
        Duration::from_secs(10),
        server.err_code(
            "get",
            json!({"entityType": "Account", "id": id}),
            "UPSTREAM_TIMEOUT",
        ),
    )
    .await;
    assert_eq!(error["retryable"], true);
    // Three attempts of at least the timeout each.
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        sandbox.stats().count("GET Account/{id}"),
        3,
        "a timed-out read is tried three times in all"
    );
    sandbox.set_faults(FaultConfig::default());
    let record = server
        .ok("get", json!({"entityType": "Account", "id": id}))
        .await;
    assert_eq!(record["id"], id.as_str());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_unreachable() {
    // A port nobody listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sandbox = sandbox().await;
    let server = Server::builder(&sandbox)
        .env("ESPOCRM_URL", format!("http://127.0.0.1:{port}"))
        .start()
        .await;
    let error = server
        .err_code("list_entity_types", json!({}), "UPSTREAM_ERROR")
        .await;
    assert_eq!(error["retryable"], true, "{error:?}");
    assert!(!format!("{error:?}").contains(&sandbox.agent_api_key));
    server.stop().await;
}
