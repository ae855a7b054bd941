//! What reaches EspoCRM for a request, and what the caller gets for each kind of answer.

use std::time::Duration;

use espomcp_actors::{ApiKey, EspoRequest, Gateway, SpawnError, UpstreamError};
use serde_json::{Value, json};

use crate::mock::{API_KEY, MockServer, Reply, config, gateway};

/// Answers `/api/v1/status/{code}` like EspoCRM answers that status.
fn espo_like(seen: &crate::mock::Seen) -> Reply {
    let code = seen.path.rsplit('/').next().unwrap_or_default();
    match code {
        "401" => Reply::status(401).header("content-type", "text/html; charset=UTF-8"),
        "403" => Reply::status(403)
            .header("x-status-reason", "Can't relate with non-existing record. entity type: Contact, link: account.")
            .header("content-type", "application/json")
            .body(r#"{"messageTranslation":{"label":"cannotRelateNonExisting","scope":null,"data":{"foreignEntityType":"Account"}}}"#),
        "404" => Reply::status(404).header("x-status-reason", "Record nope does not exist."),
        "409" => Reply::status(409)
            .header("x-status-reason", "duplicate")
            .header("content-type", "application/json")
            .body(r#"[{"id":"6b05838b2c728cbdb","name":"Acme"}]"#),
        "400" => Reply::status(400)
            .header("x-status-reason", "Field validation failure; entityType: Account, field: name, type: required.")
            .body(r#"{"messageTranslation":{"label":"validationFailure","scope":null,"data":{"field":"name","type":"required"}}}"#),
        "html" => Reply::status(200).header("content-type", "text/html").body("<html></html>"),
        _ => Reply::json("true"),
    }
}

#[tokio::test]
async fn should_map_espocrm_answers_to_errors() {
    let server = MockServer::start(espo_like).await;
    let gateway = gateway(config(&server.base_url)).await;
    let send = |code: &'static str| {
        let gateway = gateway.clone();
        async move { gateway.send(EspoRequest::get(["status", code])).await }
    };

    assert_eq!(send("401").await, Err(UpstreamError::AuthFailed));
    assert_eq!(
        send("403").await,
        Err(UpstreamError::PermissionDenied {
            reason: Some(
                "Can't relate with non-existing record. entity type: Contact, link: account."
                    .into()
            ),
            body: json!({"messageTranslation": {"label": "cannotRelateNonExisting", "scope": null, "data": {"foreignEntityType": "Account"}}}),
        })
    );
    assert_eq!(
        send("404").await,
        Err(UpstreamError::NotFound {
            reason: Some("Record nope does not exist.".into())
        })
    );
    assert_eq!(
        send("409").await,
        Err(UpstreamError::Conflict {
            reason: Some("duplicate".into()),
            duplicates: json!([{"id": "6b05838b2c728cbdb", "name": "Acme"}]),
        })
    );
    let Err(UpstreamError::Status {
        status: 400,
        reason: Some(reason),
        body,
    }) = send("400").await
    else {
        panic!("400 is a Status error with a reason");
    };
    assert!(reason.starts_with("Field validation failure"));
    assert_eq!(body["messageTranslation"]["data"]["field"], "name");
    assert!(matches!(
        send("html").await,
        Err(UpstreamError::InvalidResponse { status: 200, .. })
    ));
    assert_eq!(
        send("ok").await.map(|response| response.body),
        Ok(json!(true))
    );
    assert_eq!(server.count(), 7, "no error answer was retried");
}

#[tokio::test]
async fn should_keep_serving_after_failed_requests() {
    let server = MockServer::start(espo_like).await;
    let gateway = gateway(config(&server.base_url)).await;

    for _ in 0..3 {
        gateway
            .send(EspoRequest::get(["status", "404"]))
            .await
            .expect_err("404");
    }
    let response = gateway
        .send(EspoRequest::get(["status", "ok"]))
        .await
        .expect("the gateway is still there");
    assert_eq!(response.status, 200);
}

#[tokio::test]
async fn should_encode_path_segments_so_values_cannot_change_the_path() {
    let server = MockServer::start(|_| Reply::json("true")).await;
    let gateway = gateway(config(&server.base_url)).await;

    gateway
        .send(EspoRequest::get([
            "Account",
            "a/b",
            "x?y=1",
            "frag#ment",
            "../../Settings",
            "%2e%2e",
            "sp ace",
        ]))
        .await
        .expect("sent");

    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].path,
        "/api/v1/Account/a%2Fb/x%3Fy%3D1/frag%23ment/..%2F..%2FSettings/%252e%252e/sp%20ace"
    );
    assert_eq!(seen[0].query, None);
}

#[tokio::test]
async fn should_refuse_segments_that_would_change_the_path() {
    let server = MockServer::start(|_| Reply::json("true")).await;
    let gateway = gateway(config(&server.base_url)).await;

    for segment in ["..", ".", ""] {
        let error = gateway
            .send(EspoRequest::get(["Account", segment, "x"]))
            .await
            .expect_err("refused");
        assert!(
            matches!(error, UpstreamError::InvalidRequest { .. }),
            "{error:?}"
        );
    }
    assert_eq!(server.count(), 0, "nothing was sent");
}

#[tokio::test]
async fn should_form_encode_query_pairs() {
    let server = MockServer::start(|_| Reply::json(r#"{"total":0,"list":[]}"#)).await;
    let gateway = gateway(config(&server.base_url)).await;
    let pairs = [
        ("where[0][type]", "equals"),
        ("where[0][attribute]", "name"),
        ("where[0][value]", "Smith & Sons = #1 ?/"),
        ("maxSize", "5"),
    ];
    let mut request = EspoRequest::get(["Account"]);
    for (key, value) in pairs {
        request = request.with_query(key, value);
    }

    gateway.send(request).await.expect("sent");

    let seen = server.seen();
    let query = seen[0].query.clone().expect("a query");
    assert_eq!(
        query.matches('&').count(),
        3,
        "the & in a value is encoded: {query}"
    );
    assert!(!query.contains(['#', ' ']), "{query}");
    let decoded: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let expected: Vec<(String, String)> = pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    assert_eq!(decoded, expected);
    assert_eq!(seen[0].path, "/api/v1/Account");
}

#[tokio::test]
async fn should_send_the_api_key_extra_headers_and_json_body() {
    let server = MockServer::start(|_| Reply::json(r#"{"id":"new"}"#)).await;
    let gateway = gateway(config(&server.base_url)).await;

    gateway
        .send(
            EspoRequest::post(["Account"], json!({"name": "Acme"}))
                .with_header("X-Skip-Duplicate-Check", "true"),
        )
        .await
        .expect("sent");

    let seen = &server.seen()[0];
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.header("x-api-key"), Some(API_KEY));
    assert_eq!(seen.header("x-skip-duplicate-check"), Some("true"));
    assert_eq!(seen.header("content-type"), Some("application/json"));
    let body: Value = serde_json::from_slice(&seen.body).expect("a JSON body");
    assert_eq!(body, json!({"name": "Acme"}));
}

#[tokio::test]
async fn should_refuse_credentials_in_extra_headers() {
    let server = MockServer::start(|_| Reply::json("true")).await;
    let gateway = gateway(config(&server.base_url)).await;

    let error = gateway
        .send(EspoRequest::get(["Account"]).with_header("X-Api-Key", "someone-else"))
        .await
        .expect_err("refused");

    assert!(matches!(error, UpstreamError::InvalidRequest { .. }));
    assert_eq!(server.count(), 0);
}

#[tokio::test]
async fn should_accept_base_urls_with_or_without_api_path_and_slash() {
    let server = MockServer::start(|_| Reply::json("true")).await;
    for suffix in ["", "/", "/api/v1", "/api/v1/"] {
        let gateway = gateway(config(&format!("{}{suffix}", server.base_url))).await;
        gateway
            .send(EspoRequest::get(["App", "user"]))
            .await
            .expect("sent");
    }
    assert_eq!(server.count_path("App/user"), 4);
}

#[tokio::test]
async fn should_refuse_to_start_with_an_unusable_url_or_key() {
    let bad_url = Gateway::spawn(config("ftp://crm.example")).await;
    assert!(matches!(bad_url, Err(SpawnError::InvalidBaseUrl { .. })));

    let mut bad_key = config("http://crm.example");
    bad_key.api_key = ApiKey::new("line\nbreak");
    assert!(matches!(
        Gateway::spawn(bad_key).await,
        Err(SpawnError::InvalidApiKey)
    ));
}

#[tokio::test]
async fn should_answer_unavailable_once_the_gateway_stopped() {
    let server = MockServer::start(|_| Reply::json("true")).await;
    let (gateway, join) = Gateway::spawn(config(&server.base_url))
        .await
        .expect("starts");

    gateway.stop();
    tokio::time::timeout(Duration::from_secs(10), join)
        .await
        .expect("the actor stops")
        .expect("the actor task ends cleanly");

    let error = gateway
        .send(EspoRequest::get(["Account"]))
        .await
        .expect_err("nobody answers");
    assert!(
        matches!(error, UpstreamError::Unavailable { .. }),
        "{error:?}"
    );
}
