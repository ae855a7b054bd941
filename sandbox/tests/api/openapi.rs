//! `GET OpenApi`: EspoCRM 10's generated OpenAPI document, for administrators and roles with the
//! `OpenApi` scope (recorded `28-openapi-forbidden` for the agent); 8.4 has no such route.

use espocrm_sandbox::EspoVersion;
use serde_json::json;

use crate::common::{Api, SLIM_HTML};

#[tokio::test]
async fn should_refuse_openapi_without_the_scope_403() {
    let api = Api::start_version(EspoVersion::V10_0).await;
    api.get("OpenApi")
        .send()
        .await
        .expect_html_error(403, Some("No access to OpenApi scope."));
}

#[tokio::test]
async fn should_serve_openapi_document_to_admin_200() {
    let api = Api::start_version(EspoVersion::V10_0).await;
    let doc = api.get("OpenApi").admin().send().await.ok_json();
    assert_eq!(doc["openapi"], json!("3.1.1"));
    assert_eq!(doc["info"]["title"], json!("EspoCRM API"));
    assert_eq!(doc["security"], json!([{"ApiKeyAuth": []}]));
    assert_eq!(
        doc["paths"]["/Opportunity/{id}"]["delete"]["summary"],
        json!("Remove Opportunity")
    );
    assert_eq!(
        doc["paths"]["/Account/{id}/contacts"]["post"]["summary"],
        json!("Relate Account . contacts")
    );
    api.get("OpenApi?module=Bogus")
        .admin()
        .send()
        .await
        .expect_json_error(400, Some("Module does not exist."));
}

#[tokio::test]
async fn should_serve_openapi_to_a_role_with_the_scope_200() {
    let api = Api::start_version(EspoVersion::V10_0).await;
    let role = api
        .post(
            "Role",
            &json!({"name": "API readers", "data": {"OpenApi": true}}),
        )
        .admin()
        .send()
        .await
        .ok_json();
    let user = api
        .post(
            "User",
            &json!({"userName": "spec-bot", "type": "api", "authMethod": "ApiKey",
                    "rolesIds": [role["id"]]}),
        )
        .admin()
        .send()
        .await
        .ok_json();
    let key = user["apiKey"].as_str().expect("the new key").to_owned();
    let doc = api
        .get("OpenApi")
        .who(crate::common::Who::ApiKey(key))
        .send()
        .await
        .ok_json();
    assert_eq!(doc["openapi"], json!("3.1.1"));
}

#[tokio::test]
async fn should_not_know_openapi_in_8_4_404() {
    let api = Api::start().await;
    let r = api.get("OpenApi").admin().send().await;
    r.expect_status(404);
    assert_ne!(
        r.content_type(),
        SLIM_HTML,
        "a controller 404, not a route one"
    );
}
