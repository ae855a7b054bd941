//! Structured output: every tool declares an output schema, and every answer (success or tool
//! error) carries structuredContent that is valid against it (checked with the jsonschema
//! crate), plus the same JSON as compact text. Every tool is called once with real arguments
//! on both protocol eras. The checks take any connected client, so the HTTP tests reuse them.

use std::collections::BTreeMap;

use espocrm_sandbox::Sandbox;
use espocrm_sandbox::seed::FLAGSHIP_ID;
use rmcp::model::{CallToolRequestParams, CallToolResult, Tool};
use serde_json::{Value, json};

use crate::common::{Client, Direct, Era, PATIENCE, Server, sandbox};

/// Every tool: its title annotation and output schema, compiled.
pub async fn tool_schemas(client: &Client) -> BTreeMap<String, (Tool, jsonschema::Validator)> {
    let tools = client.list_all_tools().await.expect("tools/list");
    tools
        .into_iter()
        .map(|tool| {
            let schema = tool
                .output_schema
                .as_ref()
                .unwrap_or_else(|| panic!("{} declares no outputSchema", tool.name));
            let schema = Value::Object((**schema).clone());
            assert_eq!(schema["type"], "object", "{}: {schema}", tool.name);
            let validator = jsonschema::validator_for(&schema).unwrap_or_else(|e| {
                panic!("{}: the outputSchema does not compile: {e}", tool.name)
            });
            let annotations = tool.annotations.as_ref().expect("annotations");
            assert!(annotations.title.is_some(), "{} has no title", tool.name);
            assert_eq!(annotations.open_world_hint, Some(false), "{}", tool.name);
            (tool.name.to_string(), (tool, validator))
        })
        .collect()
}

/// Calls `tool` and checks its answer against the schema; returns the structured content.
async fn checked_call(
    client: &Client,
    schemas: &BTreeMap<String, (Tool, jsonschema::Validator)>,
    tool: &str,
    arguments: Value,
    expect_error: bool,
) -> Value {
    let Value::Object(arguments) = arguments else {
        panic!("arguments must be an object");
    };
    let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
    let result: CallToolResult = tokio::time::timeout(PATIENCE, client.call_tool(params))
        .await
        .unwrap_or_else(|_| panic!("{tool} did not answer"))
        .unwrap_or_else(|e| panic!("{tool}: protocol error {e}"));
    assert_eq!(result.is_error, Some(expect_error), "{tool}: {result:?}");
    let structured = result
        .structured_content
        .clone()
        .unwrap_or_else(|| panic!("{tool}: no structuredContent"));
    let (_, validator) = &schemas[tool];
    let problems: Vec<String> = validator
        .iter_errors(&structured)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        problems.is_empty(),
        "{tool}: structuredContent is not valid against its outputSchema: {problems:?}\n{structured}"
    );
    let text = crate::common::text_of(&result);
    let from_text: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{tool}: the text is not JSON ({e}): {text}"));
    assert_eq!(
        from_text, structured,
        "{tool}: text and structuredContent differ"
    );
    assert!(!text.contains("\n"), "{tool}: the text is not compact");
    structured
}

/// Calls every tool with real arguments and checks every answer; one tool error too.
pub async fn every_tool_answers_valid_structured_content(client: &Client, sandbox: &Sandbox) {
    let schemas = tool_schemas(client).await;
    let direct = Direct::new(sandbox);
    let called = std::sync::Mutex::new(Vec::new());
    let call = |tool: &'static str, arguments: Value| {
        let schemas = &schemas;
        called.lock().unwrap().push(tool);
        async move { checked_call(client, schemas, tool, arguments, false).await }
    };

    call("list_entity_types", json!({})).await;
    call("get_schema", json!({"entityType": "Opportunity"})).await;
    let page = call("search", json!({"entityType": "Contact", "limit": 20})).await;
    assert_eq!(page["list"].as_array().map(Vec::len), Some(20));
    call("get", json!({"entityType": "Account", "id": FLAGSHIP_ID})).await;
    call(
        "get_related",
        json!({"entityType": "Account", "id": FLAGSHIP_ID, "link": "contacts"}),
    )
    .await;
    let contact_ids: Vec<Value> = page["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].clone())
        .collect();
    call(
        "get_many",
        json!({"entityType": "Contact", "ids": contact_ids[..5]}),
    )
    .await;
    call("global_search", json!({"query": "Apex", "limit": 3})).await;
    call(
        "aggregate",
        json!({"entityType": "Opportunity", "groupBy": "stage",
               "metrics": [{"op": "count"}, {"op": "sum", "field": "amount"}]}),
    )
    .await;
    call("upcoming_activities", json!({"days": 30})).await;
    call("whoami", json!({})).await;

    let unique = format!("Structured {}", std::process::id());
    let created = call(
        "create",
        json!({"entityType": "Account", "data": {"name": unique}}),
    )
    .await;
    let account = created["id"].as_str().expect("created id").to_owned();
    call(
        "update",
        json!({"entityType": "Account", "id": account, "data": {"description": "checked"}}),
    )
    .await;
    let contact = contact_ids[0].as_str().unwrap();
    call(
        "link",
        json!({"entityType": "Account", "id": account, "link": "contacts", "foreignId": contact}),
    )
    .await;
    call(
        "unlink",
        json!({"entityType": "Account", "id": account, "link": "contacts", "foreignId": contact}),
    )
    .await;
    call(
        "add_note",
        json!({"entityType": "Account", "id": account, "text": "structured output"}),
    )
    .await;
    let opportunity = direct.all("Opportunity").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    call(
        "update_kanban",
        json!({"entityType": "Opportunity", "id": opportunity, "group": "Negotiation"}),
    )
    .await;
    call(
        "draft_email",
        json!({"to": ["someone@example.org"], "subject": "A draft", "body": "Hello"}),
    )
    .await;
    call(
        "delete",
        json!({"entityType": "Account", "id": account, "confirm": false}),
    )
    .await;
    call(
        "delete",
        json!({"entityType": "Account", "id": account, "confirm": true}),
    )
    .await;
    assert!(
        sandbox.record("Account", &account).is_none(),
        "the account was deleted"
    );

    // A tool error is structured too (the error object), and valid against the schema.
    let error = checked_call(
        client,
        &schemas,
        "get",
        json!({"entityType": "Nope", "id": FLAGSHIP_ID}),
        true,
    )
    .await;
    assert_eq!(error["error"]["code"], "INVALID_ENTITY_TYPE");

    let mut listed: Vec<&str> = schemas.keys().map(String::as_str).collect();
    listed.sort_unstable();
    let mut called = called.into_inner().unwrap();
    called.sort_unstable();
    called.dedup();
    assert_eq!(listed, called, "every listed tool was called");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn structured_output_on_2025_11_25() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Legacy).await;
    every_tool_answers_valid_structured_content(&server.client, &sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn structured_output_on_2026_07_28() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Modern).await;
    every_tool_answers_valid_structured_content(&server.client, &sandbox).await;
}
