//! Per-person sessions: the regular user the sandbox prints logs in with a password through
//! `Espo-Authorization` and is given an auth token, uses it with or without
//! `Espo-Authorization-By-Token`, and ends it with `App/destroyAuthToken`, after which it is a
//! 401 like a token that never existed (recorded as `22-token-*`).

use serde_json::{Value, json};

use crate::common::{Api, Resp, basic};

/// `GET App/user` as the person, with the given password or token and By-Token header.
async fn app_user(api: &Api, secret: &str, by_token: Option<&str>) -> Resp {
    let mut call = api
        .get("App/user")
        .anonymous()
        .header("Espo-Authorization", &basic(&api.sandbox.user_name, secret));
    if let Some(flag) = by_token {
        call = call.header("Espo-Authorization-By-Token", flag);
    }
    call.send().await
}

/// Logs the person in with their password; returns the token `App/user` answered.
async fn log_in(api: &Api) -> String {
    let me = app_user(api, &api.sandbox.user_password, Some("false"))
        .await
        .ok_json();
    me["token"]
        .as_str()
        .expect("a password login answers a token")
        .to_owned()
}

#[tokio::test]
async fn should_print_the_person_user_lines() {
    let api = Api::start().await;
    let lines = api.sandbox.connection_lines();
    assert!(
        lines.contains(&format!("\nuser_name={}\n", api.sandbox.user_name)),
        "{lines}"
    );
    assert!(
        lines.contains(&format!("\nuser_password={}\n", api.sandbox.user_password)),
        "{lines}"
    );
    assert_eq!(api.sandbox.user_name, "james.wong");
    assert_eq!(api.sandbox.user_password.len(), 24);
    let stored = api.sandbox.find("User", "userName", &json!("james.wong"));
    let record = api
        .sandbox
        .record("User", &stored[0])
        .expect("the person exists");
    assert_eq!(record["type"], json!("regular"));
    assert_eq!(record["rolesIds"], json!([]));
}

#[tokio::test]
async fn should_issue_token_on_password_login_200() {
    let api = Api::start().await;
    let me = app_user(&api, &api.sandbox.user_password, Some("false"))
        .await
        .ok_json();
    let token = me["token"].as_str().expect("a token");
    assert_eq!(token.len(), 32);
    assert!(
        token
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "{token}"
    );
    assert_eq!(me["user"]["userName"], json!("james.wong"));
    assert_eq!(me["user"]["type"], json!("regular"));
    // No role: EspoCRM's defaults, as recorded for the lab's person.
    assert_eq!(me["acl"]["table"]["Campaign"]["read"], json!("all"));
    assert_eq!(me["acl"]["table"]["Email"]["read"], json!("own"));
    assert_eq!(me["acl"]["table"]["Calendar"], json!(true));
    assert_eq!(me["acl"]["fieldTable"]["Campaign"], json!({}));
    assert_eq!(me["acl"]["exportPermission"], json!("yes"));
    // Every password login is a new session.
    assert_ne!(log_in(&api).await, token);
}

#[tokio::test]
async fn should_accept_token_with_and_without_by_token_header_200() {
    let api = Api::start().await;
    let token = log_in(&api).await;
    let auth = basic(&api.sandbox.user_name, &token);
    let me = app_user(&api, &token, Some("true")).await.ok_json();
    assert_eq!(me["token"], json!(token), "the same session");
    let page = api
        .get("Account?maxSize=1&select=name")
        .anonymous()
        .header("Espo-Authorization", &auth)
        .send()
        .await
        .ok_json();
    assert_eq!(page["total"], json!(api.sandbox.count("Account")));
    let created = api
        .post("Account", &json!({"name": "MCP Token Test Co."}))
        .anonymous()
        .header("Espo-Authorization", &auth)
        .header("Espo-Authorization-By-Token", "true")
        .send()
        .await
        .ok_json();
    let person = me["user"]["id"].as_str().expect("the person's id");
    assert_eq!(created["createdById"], json!(person));
    assert_eq!(created["createdByName"], json!("James Wong"));
    let id = created["id"].as_str().expect("an id");
    let stored = api.sandbox.record("Account", id).expect("stored");
    assert_eq!(stored["createdById"], json!(person));
}

#[tokio::test]
async fn should_refuse_destroyed_token_401() {
    let api = Api::start().await;
    let token = log_in(&api).await;
    let done = api
        .post("App/destroyAuthToken", &json!({"token": token}))
        .anonymous()
        .header("Espo-Authorization", &basic(&api.sandbox.user_name, &token))
        .header("Espo-Authorization-By-Token", "true")
        .send()
        .await
        .ok_json();
    assert_eq!(done, Value::Bool(true));
    app_user(&api, &token, Some("true"))
        .await
        .expect_html_error(401, None);
    app_user(&api, &token, None)
        .await
        .expect_html_error(401, None);
    // The password still logs in, to a new session.
    assert_ne!(log_in(&api).await, token);
}

#[tokio::test]
async fn should_refuse_unknown_token_401() {
    let api = Api::start().await;
    let never = "0123456789abcdef0123456789abcdef";
    app_user(&api, never, Some("true"))
        .await
        .expect_html_error(401, None);
    // With By-Token the password is not accepted either.
    app_user(&api, &api.sandbox.user_password, Some("true"))
        .await
        .expect_html_error(401, None);
}

#[tokio::test]
async fn should_refuse_another_users_token_401() {
    let api = Api::start().await;
    let token = log_in(&api).await;
    api.get("App/user")
        .anonymous()
        .header(
            "Espo-Authorization",
            &basic(&api.sandbox.admin_user, &token),
        )
        .header("Espo-Authorization-By-Token", "true")
        .send()
        .await
        .expect_html_error(401, None);
}

#[tokio::test]
async fn should_answer_destroy_of_unknown_or_missing_token_404_400() {
    let api = Api::start().await;
    api.post(
        "App/destroyAuthToken",
        &json!({"token": "0123456789abcdef0123456789abcdef"}),
    )
    .send()
    .await
    .expect_json_error(404, Some("Auth token not found."));
    api.post("App/destroyAuthToken", &json!({}))
        .send()
        .await
        .expect_json_error(400, Some(""));
}

#[tokio::test]
async fn should_not_issue_token_to_api_key_or_basic_200() {
    let api = Api::start().await;
    let me = api.get("App/user").send().await.ok_json();
    assert_eq!(me["token"], Value::Null);
    let me = api
        .get("App/user")
        .anonymous()
        .header(
            "Authorization",
            &format!(
                "Basic {}",
                basic(&api.sandbox.user_name, &api.sandbox.user_password)
            ),
        )
        .send()
        .await
        .ok_json();
    assert_eq!(me["token"], Value::Null);
    assert_eq!(me["user"]["userName"], json!("james.wong"));
}
