//! Who gets in and what they may do: API keys, `Espo-Authorization` and HTTP Basic for the
//! administrator, the 401s (with and without the Basic challenge), the read-only key's 403s,
//! scopes no role grants, and how unknown entity types and unmatched paths are answered.

use serde_json::{Value, json};

use crate::common::{Api, HTML, JSON, SLIM_HTML, Who, basic, rows_of};

#[tokio::test]
async fn should_accept_agent_api_key_200() {
    let api = Api::start().await;
    let page = api
        .get("Account?maxSize=1&select=name")
        .send()
        .await
        .ok_json();
    assert_eq!(page["total"], json!(api.sandbox.count("Account")));
    assert_eq!(rows_of(&page).len(), 1);
}

#[tokio::test]
async fn should_reject_unknown_api_key_401() {
    let api = Api::start().await;
    let r = api
        .get("Account?maxSize=1")
        .who(Who::ApiKey("0123456789abcdef0123456789abcdef".into()))
        .send()
        .await;
    r.expect_html_error(401, None);
    assert_eq!(r.header("WWW-Authenticate"), None);
}

#[tokio::test]
async fn should_challenge_request_without_credentials_401() {
    let api = Api::start().await;
    let r = api.get("Account?maxSize=1").anonymous().send().await;
    r.expect_html_error(401, None);
    assert_eq!(
        r.header("WWW-Authenticate").as_deref(),
        Some("Basic realm=\"\"")
    );
}

#[tokio::test]
async fn should_not_challenge_web_client_without_credentials_401() {
    let api = Api::start().await;
    let r = api
        .get("Account?maxSize=1")
        .anonymous()
        .header("X-Requested-With", "XMLHttpRequest")
        .send()
        .await;
    r.expect_html_error(401, None);
    assert_eq!(r.header("WWW-Authenticate"), None);
}

#[tokio::test]
async fn should_accept_admin_espo_authorization_200() {
    let api = Api::start().await;
    let page = api
        .get("Account?maxSize=1&select=name")
        .admin()
        .send()
        .await
        .ok_json();
    assert_eq!(page["total"], json!(api.sandbox.count("Account")));
    let row = &rows_of(&page)[0];
    let names: Vec<&str> = row.keys().map(String::as_str).collect();
    assert_eq!(
        names.len(),
        5,
        "id, name, createdAt, createdById, assignedUserId: {names:?}"
    );
}

#[tokio::test]
async fn should_accept_admin_http_basic_200() {
    let api = Api::start().await;
    let credentials = basic(&api.sandbox.admin_user, &api.sandbox.admin_password);
    let page = api
        .get("Account?maxSize=1&select=name")
        .anonymous()
        .header("Authorization", &format!("Basic {credentials}"))
        .send()
        .await
        .ok_json();
    assert_eq!(page["total"], json!(api.sandbox.count("Account")));
}

#[tokio::test]
async fn should_reject_wrong_admin_password_401() {
    let api = Api::start().await;
    let wrong = basic(&api.sandbox.admin_user, "wrong-password");
    let r = api
        .get("Account?maxSize=1")
        .anonymous()
        .header("Espo-Authorization", &wrong)
        .send()
        .await;
    r.expect_html_error(401, None);
    let r = api
        .get("Account?maxSize=1")
        .anonymous()
        .header("Authorization", &format!("Basic {wrong}"))
        .send()
        .await;
    r.expect_html_error(401, None);
}

#[tokio::test]
async fn should_prefer_espo_authorization_over_api_key_200() {
    let api = Api::start().await;
    // A valid password login wins over a bogus key ...
    api.get("Account?maxSize=1")
        .admin()
        .header("X-Api-Key", "0123456789abcdef0123456789abcdef")
        .send()
        .await
        .ok_json();
    // ... and a wrong one is not rescued by a valid key.
    let wrong = basic(&api.sandbox.admin_user, "wrong-password");
    api.get("Account?maxSize=1")
        .header("Espo-Authorization", &wrong)
        .send()
        .await
        .expect_html_error(401, None);
}

#[tokio::test]
async fn should_let_limited_key_read_account_200() {
    let api = Api::start().await;
    let page = api
        .get("Account?maxSize=2&select=name")
        .limited()
        .send()
        .await
        .ok_json();
    assert_eq!(page["total"], json!(api.sandbox.count("Account")));
    let rows = rows_of(&page);
    assert_eq!(rows.len(), 2);
    let id = rows[0]["id"].as_str().expect("an id");
    let record = api
        .get(&format!("Account/{id}"))
        .limited()
        .send()
        .await
        .ok_json();
    assert_eq!(record["id"], json!(id));
    assert_eq!(record["name"], rows[0]["name"]);
    api.get("Contact?maxSize=1")
        .limited()
        .send()
        .await
        .ok_json();
}

#[tokio::test]
async fn should_deny_limited_key_lead_403() {
    let api = Api::start().await;
    api.get("Lead?maxSize=1")
        .limited()
        .send()
        .await
        .expect_json_error(403, Some("No read access."));
    let lead = api.sandbox.find("Lead", "deleted", &json!(false));
    let lead = lead.first().expect("a lead");
    api.get(&format!("Lead/{lead}"))
        .limited()
        .send()
        .await
        .expect_json_error(403, Some("No read access."));
}

#[tokio::test]
async fn should_deny_limited_key_create_403() {
    let api = Api::start().await;
    let before = api.sandbox.count("Account");
    api.post("Account", &json!({"name": "Should Not Be Created Ltd."}))
        .limited()
        .send()
        .await
        .expect_json_error(403, Some("No create access."));
    assert_eq!(api.sandbox.count("Account"), before);
    assert!(
        api.sandbox
            .find("Account", "name", &json!("Should Not Be Created Ltd."))
            .is_empty()
    );
}

#[tokio::test]
async fn should_deny_limited_key_update_403() {
    let api = Api::start().await;
    let id = api.find_one("Account", "name", "Apex Health Co.");
    let before = api.sandbox.record("Account", &id).expect("the account");
    api.put(&format!("Account/{id}"), &json!({"description": "nope"}))
        .limited()
        .send()
        .await
        .expect_json_error(403, Some("No edit access."));
    let after = api.sandbox.record("Account", &id).expect("the account");
    assert_eq!(before, after, "the record is unchanged");
}

#[tokio::test]
async fn should_deny_limited_key_delete_403() {
    let api = Api::start().await;
    let id = api.find_one("Account", "name", "Apex Health Co.");
    api.delete(&format!("Account/{id}"))
        .limited()
        .send()
        .await
        .expect_json_error(403, Some("No delete access."));
    assert!(api.sandbox.record("Account", &id).is_some());
}

#[tokio::test]
async fn should_deny_limited_key_stream_403() {
    let api = Api::start().await;
    let id = api.find_one("Account", "name", "Apex Health Co.");
    api.get(&format!("Account/{id}/stream"))
        .limited()
        .send()
        .await
        .expect_json_error(403, Some("No stream access."));
}

#[tokio::test]
async fn should_deny_limited_key_related_opportunities_403() {
    let api = Api::start().await;
    let id = api.find_one("Account", "name", "Apex Health Co.");
    api.get(&format!("Account/{id}/opportunities"))
        .limited()
        .send()
        .await
        .expect_json_error(403, Some(""));
}

#[tokio::test]
async fn should_deny_scopes_no_role_grants_403() {
    let api = Api::start().await;
    for path in ["Document?maxSize=1", "Role?maxSize=1"] {
        api.get(path)
            .send()
            .await
            .expect_json_error(403, Some("No read access."));
    }
}

#[tokio::test]
async fn should_answer_unknown_entity_type_404() {
    let api = Api::start().await;
    let reason = Some("Controller 'FooBar' does not exist.");
    api.get("FooBar")
        .send()
        .await
        .expect_json_error(404, reason);
    api.get("FooBar/123")
        .send()
        .await
        .expect_json_error(404, reason);
    api.post("FooBar", &json!({"name": "x"}))
        .send()
        .await
        .expect_json_error(404, reason);
    api.put("FooBar/123", &json!({"name": "x"}))
        .send()
        .await
        .expect_json_error(404, reason);
    api.delete("FooBar/123")
        .send()
        .await
        .expect_json_error(404, reason);
}

#[tokio::test]
async fn should_match_entity_type_case_insensitively_200() {
    let api = Api::start().await;
    let lower = api.get("account?maxSize=1").send().await.ok_json();
    let proper = api.get("Account?maxSize=1").send().await.ok_json();
    assert_eq!(lower["total"], json!(api.sandbox.count("Account")));
    assert_eq!(lower, proper);
}

#[tokio::test]
async fn should_answer_unmatched_route_with_html_404() {
    let api = Api::start().await;
    for path in ["Account/x/y/z/w", "Email/"] {
        let r = api.get(path).send().await;
        r.expect_error(404, None).expect_content_type(SLIM_HTML);
        assert!(
            r.body.contains("<title>404 Not Found</title>"),
            "Slim's page for {path}: {}",
            r.body
        );
    }
}

#[tokio::test]
async fn should_answer_api_index_200() {
    let api = Api::start().await;
    let r = api.get("").send().await;
    assert_eq!(r.ok_json(), Value::String("EspoCRM REST API".into()));
}

#[tokio::test]
async fn should_send_no_cache_headers_on_success_200() {
    let api = Api::start().await;
    let r = api.get("").send().await;
    r.expect_status(200).expect_content_type(JSON);
    assert_eq!(
        r.header("Cache-Control").as_deref(),
        Some("no-store, no-cache, must-revalidate, post-check=0, pre-check=0")
    );
    assert_eq!(r.header("Expires").as_deref(), Some("0"));
    assert_eq!(r.header("Pragma").as_deref(), Some("no-cache"));
    let stamp = r.header("X-App-Timestamp").expect("X-App-Timestamp");
    assert!(stamp.parse::<i64>().is_ok(), "a Unix time: {stamp}");
}

#[tokio::test]
async fn should_send_last_modified_on_success_200() {
    let api = Api::start().await;
    let r = api.get("").send().await;
    r.expect_status(200);
    let stamp = r.header("Last-Modified").expect("Last-Modified is sent");
    assert!(stamp.ends_with(" GMT"), "an HTTP date: {stamp}");
}

#[tokio::test]
async fn should_type_401_as_html_for_every_method_401() {
    let api = Api::start().await;
    let bogus = Who::ApiKey("ffffffffffffffffffffffffffffffff".into());
    let r = api
        .post("Account", &json!({"name": "x"}))
        .who(bogus.clone())
        .send()
        .await;
    r.expect_html_error(401, None);
    let r = api.delete("Account/x").who(bogus).send().await;
    r.expect_content_type(HTML);
    assert_eq!(r.status, 401);
}
