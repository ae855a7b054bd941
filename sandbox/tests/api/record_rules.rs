//! Rules of the generic record routes that EspoCRM 10.0 changed, checked on both versions: the
//! legacy body flags that skipped the duplicate check (honoured by 8.4, ignored by 10.0, where
//! only `X-Skip-Duplicate-Check` counts) and unknown link names (8.4's unhandled 500, 10.0's 404
//! with a reason); and one both share: a create answers with the enum defaults it filled in.

use espocrm_sandbox::EspoVersion;
use serde_json::json;

use crate::common::{Api, JSON};

#[tokio::test]
async fn should_ignore_legacy_duplicate_flags_in_10_0_409() {
    let api = Api::start_version(EspoVersion::V10_0).await;
    let before = api.sandbox.count("Account");
    for flag in [
        "skipDuplicateCheck",
        "_skipDuplicateCheck",
        "forceDuplicate",
    ] {
        let answer = api
            .post("Account", &json!({"name": "Apex Health Co.", flag: true}))
            .send()
            .await;
        answer
            .expect_error(409, Some("duplicate"))
            .expect_content_type(JSON);
        let found = answer.json();
        assert_eq!(
            found[0]["name"],
            json!("Apex Health Co."),
            "{flag}: {found}"
        );
    }
    assert_eq!(api.sandbox.count("Account"), before);
    let created = api
        .post("Account", &json!({"name": "Apex Health Co."}))
        .header("X-Skip-Duplicate-Check", "true")
        .send()
        .await
        .ok_json();
    assert_eq!(created["name"], json!("Apex Health Co."));
    assert_eq!(api.sandbox.count("Account"), before + 1);
}

#[tokio::test]
async fn should_honour_legacy_duplicate_flags_in_8_4_200() {
    let api = Api::start_version(EspoVersion::V8_4).await;
    let before = api.sandbox.count("Account");
    let created = api
        .post(
            "Account",
            &json!({"name": "Apex Health Co.", "skipDuplicateCheck": true}),
        )
        .send()
        .await
        .ok_json();
    assert_eq!(created["name"], json!("Apex Health Co."));
    assert_eq!(api.sandbox.count("Account"), before + 1);
}

#[tokio::test]
async fn should_answer_unknown_links_with_404_in_10_0() {
    let api = Api::start_version(EspoVersion::V10_0).await;
    let apex = api.find_one("Account", "name", "Apex Health Co.");
    let contact = api.sandbox.find("Contact", "lastName", &json!("Hall"));
    let contact = contact.first().expect("a seeded contact").clone();
    api.get(&format!("Account/{apex}/bogusLink"))
        .send()
        .await
        .expect_json_error(404, Some("Link does not exist."));
    let reason = "Entity Account does not have link bogusLink.";
    api.post(
        &format!("Account/{apex}/bogusLink"),
        &json!({"id": contact}),
    )
    .send()
    .await
    .expect_json_error(404, Some(reason));
    api.request(
        reqwest::Method::DELETE,
        &format!("Account/{apex}/bogusLink"),
    )
    .json(&json!({"id": contact}))
    .send()
    .await
    .expect_json_error(404, Some(reason));
    // The record is looked up before the link.
    api.post(
        "Account/doesnotexist00001/bogusLink",
        &json!({"id": contact}),
    )
    .send()
    .await
    .expect_json_error(404, Some(""));
}

#[tokio::test]
async fn should_answer_unknown_links_with_500_in_8_4() {
    let api = Api::start_version(EspoVersion::V8_4).await;
    let apex = api.find_one("Account", "name", "Apex Health Co.");
    api.get(&format!("Account/{apex}/bogusLink"))
        .send()
        .await
        .expect_json_error(500, None);
}

#[tokio::test]
async fn should_echo_a_case_s_defaulted_status_and_priority_on_both_versions_200() {
    for version in [EspoVersion::V8_4, EspoVersion::V10_0] {
        let api = Api::start_version(version).await;
        let created = api
            .post("Case", &json!({"name": "Login fails after update"}))
            .send()
            .await
            .ok_json();
        assert_eq!(created["status"], json!("New"), "{version}: {created}");
        assert_eq!(created["priority"], json!("Normal"), "{version}: {created}");
        let id = created["id"].as_str().expect("an id");
        let stored = api.sandbox.record("Case", id).expect("stored");
        assert_eq!(stored.get("status"), Some(&json!("New")));
        let given = api
            .post(
                "Case",
                &json!({"name": "Printer on fire", "priority": "High"}),
            )
            .send()
            .await
            .ok_json();
        assert_eq!(given["priority"], json!("High"), "{version}: {given}");
        assert_eq!(given["status"], json!("New"), "{version}: {given}");
    }
}
