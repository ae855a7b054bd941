//! Locked records (EspoCRM 10.0, `25-lock-*`): `POST Action` lock and unlock (administrators and
//! users with `lockPermission` only, lockable types only), a locked record refusing changes and
//! deletion with 409 for everyone while unchanged saves, relations and stream posts still work,
//! and the version counting the lock, the unlock and ignored input. 8.4 has no lock action.

use espocrm_sandbox::EspoVersion;
use serde_json::{Value, json};

use crate::common::{Api, Call, JSON, Resp, rows_of};

fn lock_action<'a>(api: &'a Api, action: &str, entity: &str, id: &str) -> Call<'a> {
    api.post(
        "Action",
        &json!({"action": action, "entityType": entity, "id": id}),
    )
}

fn stored(api: &Api, id: &str, attribute: &str) -> Value {
    api.sandbox
        .record("Account", id)
        .and_then(|r| r.get(attribute).cloned())
        .unwrap_or(Value::Null)
}

#[track_caller]
fn expect_locked_update(answer: &Resp, label: &str) {
    answer
        .expect_error(409, Some("cannotModifyLockedRecord"))
        .expect_content_type(JSON);
    assert_eq!(
        answer.json(),
        json!({"messageTranslation": {"label": "cannotModifyLockedRecord", "scope": null,
                                      "data": {"field": label}}})
    );
}

#[tokio::test]
async fn should_lock_and_unlock_an_account_through_action_200() {
    let api = Api::start_version(EspoVersion::V10_0).await;
    let created = api
        .post("Account", &json!({"name": "MCP Lock Test Co."}))
        .send()
        .await
        .ok_json();
    assert_eq!(created["isLocked"], json!(false));
    let id = created["id"].as_str().expect("an id").to_owned();
    let path = format!("Account/{id}");

    lock_action(&api, "lock", "Account", &id)
        .send()
        .await
        .expect_html_error(403, Some("Not allowed."));
    assert_eq!(stored(&api, &id, "isLocked"), json!(false));

    let locked = lock_action(&api, "lock", "Account", &id)
        .admin()
        .send()
        .await
        .ok_json();
    assert_eq!(locked["id"], json!(id));
    assert_eq!(locked["isLocked"], json!(true));
    assert_eq!(locked["versionNumber"], json!(2));
    lock_action(&api, "lock", "Account", &id)
        .admin()
        .send()
        .await
        .expect_html_error(400, Some("Already locked."));
    let read = api.get(&path).send().await.ok_json();
    assert_eq!(read["isLocked"], json!(true));

    let agent = api
        .put(
            &path,
            &json!({"website": "https://locked.mcp-lock-test.example.com"}),
        )
        .send()
        .await;
    expect_locked_update(&agent, "Website");
    let admin = api
        .put(&path, &json!({"description": "edited by admin"}))
        .admin()
        .send()
        .await;
    expect_locked_update(&admin, "Description");
    assert_eq!(stored(&api, &id, "website"), Value::Null);
    assert_eq!(stored(&api, &id, "description"), Value::Null);

    // Validation comes first; a save that changes nothing goes through and counts.
    api.put(&path, &json!({"name": ""}))
        .send()
        .await
        .expect_validation("Account", "name", "required");
    let unchanged = api
        .put(&path, &json!({"name": "MCP Lock Test Co."}))
        .send()
        .await
        .ok_json();
    assert_eq!(unchanged["versionNumber"], json!(3));
    let ignored = api
        .put(&path, &json!({"isLocked": false}))
        .send()
        .await
        .ok_json();
    assert_eq!(ignored["isLocked"], json!(true));
    assert_eq!(ignored["versionNumber"], json!(4));

    let removal = api.delete(&path).send().await;
    removal
        .expect_error(409, Some("cannotRemoveLockedRecord"))
        .expect_content_type(JSON);
    assert_eq!(
        removal.json(),
        json!({"messageTranslation": {"label": "cannotRemoveLockedRecord", "scope": null, "data": {}}})
    );
    assert!(api.sandbox.record("Account", &id).is_some());

    let contact = rows_of(&api.list("Contact", "maxSize=1").await)[0]["id"].clone();
    api.post(&format!("{path}/contacts"), &json!({"id": contact}))
        .send()
        .await
        .ok_json();
    let contacts = api.get(&format!("{path}/contacts")).send().await.ok_json();
    assert_eq!(contacts["total"], json!(1));
    let note = api
        .post(
            "Note",
            &json!({"type": "Post", "parentType": "Account", "parentId": id,
                    "post": "Locked, but notes still work."}),
        )
        .send()
        .await
        .ok_json();
    assert!(note["id"].is_string());
    assert_eq!(stored(&api, &id, "versionNumber"), json!(4));

    let unlocked = lock_action(&api, "unlock", "Account", &id)
        .admin()
        .send()
        .await
        .ok_json();
    assert_eq!(unlocked["isLocked"], json!(false));
    assert_eq!(unlocked["versionNumber"], json!(5));
    lock_action(&api, "unlock", "Account", &id)
        .admin()
        .send()
        .await
        .expect_html_error(400, Some("Already unlocked."));
    let after = api
        .put(
            &path,
            &json!({"website": "https://unlocked.mcp-lock-test.example.com"}),
        )
        .send()
        .await
        .ok_json();
    assert_eq!(after["versionNumber"], json!(6));
    assert_eq!(
        stored(&api, &id, "website"),
        json!("https://unlocked.mcp-lock-test.example.com")
    );
    api.delete(&path).send().await.ok_json();
    assert!(api.sandbox.record("Account", &id).is_none());
}

#[tokio::test]
async fn should_refuse_to_lock_a_type_that_is_not_lockable_403() {
    let api = Api::start_version(EspoVersion::V10_0).await;
    let id = rows_of(&api.list("Opportunity", "maxSize=1").await)[0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    lock_action(&api, "lock", "Opportunity", &id)
        .admin()
        .send()
        .await
        .expect_html_error(403, Some("Not enabled."));
    let record = api.sandbox.record("Opportunity", &id).expect("still there");
    assert!(record.get("isLocked").is_none());
    assert_eq!(record.get("versionNumber"), Some(&json!(1)));
}

#[tokio::test]
async fn should_answer_missing_records_and_unknown_actions_404() {
    let api = Api::start_version(EspoVersion::V10_0).await;
    lock_action(&api, "lock", "Account", "doesnotexist00001")
        .admin()
        .send()
        .await
        .expect_html_error(404, Some(""));
    let id = api.find_one("Account", "name", "Apex Health Co.");
    lock_action(&api, "explode", "Account", &id)
        .admin()
        .send()
        .await
        .expect_html_error(404, Some("Action 'explode' not found."));
    api.post(
        "Action",
        &json!({"action": "lock", "entityType": "Account"}),
    )
    .admin()
    .send()
    .await
    .expect_html_error(400, Some(""));
    assert_eq!(
        api.sandbox.record("Account", &id).expect("there")["isLocked"],
        json!(false)
    );
}

#[tokio::test]
async fn should_know_no_lock_action_in_8_4_404() {
    let api = Api::start_version(EspoVersion::V8_4).await;
    let id = api.find_one("Account", "name", "Apex Health Co.");
    lock_action(&api, "lock", "Account", &id)
        .admin()
        .send()
        .await
        .expect_html_error(404, Some("Action 'lock' not found."));
    let record = api.sandbox.record("Account", &id).expect("there");
    assert!(record.get("isLocked").is_none());
    assert!(record.get("versionNumber").is_none());
}
