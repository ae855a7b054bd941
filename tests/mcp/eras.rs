//! Both protocol eras: the 2025-11-25 `initialize` handshake and the 2026-07-28
//! `server/discover` lifecycle. The server's identity, instructions and tool list are the same
//! on both; protocol errors stay protocol errors. (The read tools are checked on both eras in
//! `read_tools.rs`.)

use rmcp::ServiceError;
use rmcp::model::ErrorCode;
use serde_json::{Value, json};

use crate::common::{Era, Server, TOOLS, sandbox};

async fn identifies_itself_and_lists_the_tools(era: Era) {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, era).await;
    let info = server.client.peer_info().expect("the server's info");
    assert_eq!(info.protocol_version, era.version());
    let implementation = info.server_info.as_ref().expect("server info");
    assert_eq!(implementation.name, "espomcp");
    assert_eq!(implementation.version, env!("CARGO_PKG_VERSION"));
    let instructions = info.instructions.as_deref().expect("instructions");
    for tool in ["list_entity_types", "get_schema", "search"] {
        assert!(instructions.contains(tool), "instructions lack {tool}");
    }
    assert!(info.capabilities.tools.is_some(), "tools capability");

    let tools = server.client.list_all_tools().await.expect("tools/list");
    let names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    // The five read tools (write tools may be listed after them).
    for tool in TOOLS {
        assert_eq!(
            names.iter().filter(|n| *n == tool).count(),
            1,
            "{tool} once in {names:?}"
        );
    }
    let read_tools: Vec<&rmcp::model::Tool> = tools
        .iter()
        .filter(|t| TOOLS.contains(&t.name.as_ref()))
        .collect();
    assert_eq!(read_tools.len(), 5);
    let required = |tool: &str| -> Vec<String> {
        let schema = &tools.iter().find(|t| t.name == tool).unwrap().input_schema;
        let mut r: Vec<String> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        r.sort();
        r
    };
    for tool in &read_tools {
        let schema = &tool.input_schema;
        assert_eq!(schema.get("type"), Some(&json!("object")), "{}", tool.name);
        assert!(
            tool.description.as_deref().is_some_and(|d| d.len() > 20),
            "{} has no description",
            tool.name
        );
        let annotations = tool.annotations.as_ref().expect("annotations");
        assert_eq!(annotations.read_only_hint, Some(true), "{}", tool.name);
        assert_eq!(annotations.destructive_hint, Some(false), "{}", tool.name);
        assert!(
            tool.output_schema.is_some(),
            "{} has no outputSchema",
            tool.name
        );
    }
    assert_eq!(required("list_entity_types"), Vec::<String>::new());
    assert_eq!(required("get_schema"), ["entityType"]);
    assert_eq!(required("search"), ["entityType"]);
    assert_eq!(required("get"), ["entityType", "id"]);
    assert_eq!(required("get_related"), ["entityType", "id", "link"]);
    let search = &tools
        .iter()
        .find(|t| t.name == "search")
        .unwrap()
        .input_schema;
    let properties = search["properties"].as_object().expect("properties");
    for p in [
        "entityType",
        "where",
        "orderBy",
        "order",
        "limit",
        "offset",
        "select",
        "textFilter",
    ] {
        assert!(properties.contains_key(p), "search lacks {p}");
    }

    // The same call gives the same answer as on the other era.
    let page = server
        .ok(
            "search",
            json!({"entityType": "Account", "limit": 2, "select": ["name"]}),
        )
        .await;
    assert_eq!(page["total"], 200);
    server.stop().await;
}

async fn answers_an_unknown_tool_with_a_protocol_error(era: Era) {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, era).await;
    let before = sandbox.stats().requests_total;
    match server.try_call("delete_everything", json!({})).await {
        Err(ServiceError::McpError(e)) => {
            assert_eq!(e.code, ErrorCode::INVALID_PARAMS, "{e:?}");
            assert!(e.message.contains("not found"), "{e:?}");
        }
        other => panic!("expected a protocol error, got {other:?}"),
    }
    assert_eq!(sandbox.stats().requests_total, before);
    server.assert_still_serving().await;
    // A tool error is a tool result on this era too.
    let error = server
        .err_code(
            "search",
            json!({"entityType": "Acount"}),
            "INVALID_ENTITY_TYPE",
        )
        .await;
    assert_eq!(error["retryable"], false);
    server.assert_still_serving().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identifies_itself_on_2025_11_25() {
    identifies_itself_and_lists_the_tools(Era::Legacy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identifies_itself_on_2026_07_28() {
    identifies_itself_and_lists_the_tools(Era::Modern).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_tool_on_2025_11_25() {
    answers_an_unknown_tool_with_a_protocol_error(Era::Legacy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_tool_on_2026_07_28() {
    answers_an_unknown_tool_with_a_protocol_error(Era::Modern).await;
}

/// Two clients of different eras against one sandbox at once see the same data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_eras_agree() {
    let sandbox = sandbox().await;
    let legacy = Server::start(&sandbox, Era::Legacy).await;
    let modern = Server::start(&sandbox, Era::Modern).await;
    let args = json!({"entityType": "Opportunity", "orderBy": "amount", "order": "desc",
                      "limit": 5, "select": ["name", "amount"]});
    let (a, b) = tokio::join!(legacy.ok("search", args.clone()), modern.ok("search", args));
    assert_eq!(a, b);
    assert_ne!(
        legacy.client.peer_info().unwrap().protocol_version,
        modern.client.peer_info().unwrap().protocol_version
    );
    legacy.stop().await;
    modern.stop().await;
}

/// Clients often send no `arguments` at all for a tool without parameters.
async fn calls_without_arguments(era: Era) {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, era).await;
    let params = rmcp::model::CallToolRequestParams::new("list_entity_types");
    let result = server
        .client
        .call_tool(params)
        .await
        .expect("no protocol error");
    let types = crate::common::success_of(&result, "list_entity_types without arguments");
    assert!(!types["entityTypes"].as_array().unwrap().is_empty());
    // A tool with a required argument says which one is missing, as a tool error.
    let params = rmcp::model::CallToolRequestParams::new("get_schema");
    let result = server
        .client
        .call_tool(params)
        .await
        .expect("no protocol error");
    let error = crate::common::error_of(&result, "get_schema without arguments");
    assert_eq!(error["code"], "INVALID_ARGUMENT", "{error:?}");
    assert!(
        error["message"].as_str().unwrap().contains("entityType"),
        "{error:?}"
    );
    server.assert_still_serving().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_arguments_on_2025_11_25() {
    calls_without_arguments(Era::Legacy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_arguments_on_2026_07_28() {
    calls_without_arguments(Era::Modern).await;
}
