//! Resources (`espocrm://…`) and completions, on both protocol eras, each checked against the
//! data read straight from the sandbox.

use std::collections::{BTreeSet, HashMap};

use espocrm_sandbox::seed::FLAGSHIP_ID;
use rmcp::ServiceError;
use rmcp::model::{CompletionContext, ErrorCode, ReadResourceRequestParams, ResourceContents};
use serde_json::{Value, json};

use espocrm_sandbox::Sandbox;
use rmcp::model::CallToolRequestParams;

use crate::common::{Client, Direct, Era, Server, entity_type_names, record_url, sandbox};

/// Calls a tool that must succeed; returns its structured content.
async fn tool(client: &Client, name: &str, arguments: Value) -> Value {
    let Value::Object(arguments) = arguments else {
        panic!("arguments must be an object");
    };
    let result = client
        .call_tool(CallToolRequestParams::new(name.to_owned()).with_arguments(arguments))
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_ne!(result.is_error, Some(true), "{name}: {result:?}");
    result.structured_content.expect("structured content")
}

/// Reads a resource that must exist; returns its JSON and checks its URI and MIME type.
async fn read_json(client: &Client, uri: &str) -> Value {
    let result = client
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
        .unwrap_or_else(|e| panic!("resources/read {uri}: {e}"));
    assert_eq!(result.contents.len(), 1, "{uri}");
    match &result.contents[0] {
        ResourceContents::TextResourceContents {
            uri: got,
            mime_type,
            text,
            ..
        } => {
            assert_eq!(got, uri);
            assert_eq!(mime_type.as_deref(), Some("application/json"));
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{uri}: not JSON ({e}): {text}"))
        }
        other => panic!("{uri}: not text: {other:?}"),
    }
}

/// Reads a resource that must fail; returns the JSON-RPC error code and the tool error's code.
async fn read_error(client: &Client, uri: &str) -> (ErrorCode, String) {
    match client
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
    {
        Err(ServiceError::McpError(error)) => {
            let code = error
                .data
                .as_ref()
                .and_then(|d| d["error"]["code"].as_str())
                .unwrap_or_default()
                .to_owned();
            (error.code, code)
        }
        other => panic!("{uri}: expected an error, got {other:?}"),
    }
}

/// Lists and reads every kind of resource, checked against the sandbox's data.
pub async fn lists_and_reads_every_resource(client: &Client, sandbox: &Sandbox) {
    let direct = Direct::new(sandbox);
    let info = client.peer_info().expect("server info");
    assert!(
        info.capabilities.resources.is_some(),
        "resources capability"
    );
    assert!(
        info.capabilities.completions.is_some(),
        "completions capability"
    );

    let resources = client.list_all_resources().await.expect("list");
    let uris: Vec<&str> = resources.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(uris, ["espocrm://entity-types"]);
    let templates = client
        .list_all_resource_templates()
        .await
        .expect("templates");
    let templates: Vec<&str> = templates.iter().map(|t| t.uri_template.as_str()).collect();
    assert_eq!(
        templates,
        [
            "espocrm://{entityType}/{id}",
            "espocrm://{entityType}/{id}/{link}",
            "espocrm://schema/{entityType}"
        ]
    );

    // The entity types: the same as the tool's answer.
    let listed = read_json(client, "espocrm://entity-types").await;
    let from_tool = tool(client, "list_entity_types", json!({})).await;
    assert_eq!(listed, from_tool);
    let names = entity_type_names(&listed);
    assert!(
        ["Account", "Opportunity"]
            .iter()
            .all(|wanted| names.iter().any(|n| n == wanted)),
        "{names:?}"
    );

    // A record: every attribute EspoCRM answers, plus its link.
    let uri = format!("espocrm://Account/{FLAGSHIP_ID}");
    let record = read_json(client, &uri).await;
    let upstream = direct.get(&format!("Account/{FLAGSHIP_ID}"), &[]).await;
    for (key, value) in upstream.as_object().unwrap() {
        assert_eq!(&record[key], value, "{key}");
    }
    assert_eq!(record["name"], "Apex Health Co.");
    assert_eq!(record["url"], record_url(sandbox, "Account", FLAGSHIP_ID));

    // Related records: the first page of the link, with the total of all.
    let contacts = direct.all_related("Account", FLAGSHIP_ID, "contacts").await;
    assert!(!contacts.is_empty(), "the flagship account has contacts");
    let page = read_json(client, &format!("espocrm://Account/{FLAGSHIP_ID}/contacts")).await;
    assert_eq!(page["total"].as_u64(), Some(contacts.len() as u64));
    let expected: BTreeSet<&str> = contacts.iter().filter_map(|c| c["id"].as_str()).collect();
    let got: BTreeSet<&str> = page["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(got, expected);

    // A schema: the same as get_schema.
    let schema = read_json(client, "espocrm://schema/Opportunity").await;
    let from_tool = tool(client, "get_schema", json!({"entityType": "Opportunity"})).await;
    assert_eq!(schema, from_tool);
    assert!(
        schema["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "stage" && f["options"].is_array())
    );
}

/// Refuses URIs that are malformed or name nothing, sending nothing to EspoCRM for them.
pub async fn refuses_bad_resource_uris(client: &Client, sandbox: &Sandbox, era: Era) {
    // Warm the schema, so the count below only sees requests the bad URIs cause.
    tool(client, "get_schema", json!({"entityType": "Account"})).await;
    let before = sandbox.stats().requests_total;
    // 2026-07-28 answers "not found" as invalid params (rmcp maps it); older revisions -32002.
    let not_found = match era {
        Era::Legacy => ErrorCode::RESOURCE_NOT_FOUND,
        Era::Modern => ErrorCode::INVALID_PARAMS,
    };
    let invalid = ErrorCode::INVALID_PARAMS;
    for (uri, rpc, code) in [
        (
            "espocrm://Nope/6b05838be1c766a70",
            not_found,
            "INVALID_ENTITY_TYPE",
        ),
        ("espocrm://schema/Nope", not_found, "INVALID_ENTITY_TYPE"),
        (
            "espocrm://Account/6b05838be1c766a70/nope",
            not_found,
            "INVALID_LINK",
        ),
        ("espocrm://Account/a.b", invalid, "INVALID_ID"),
        ("espocrm://Account/..", invalid, "INVALID_ID"),
        (
            "espocrm://Account/abc?deleted=1",
            invalid,
            "INVALID_ARGUMENT",
        ),
        (
            "espocrm://Account/ab%2F..%2FUser",
            invalid,
            "INVALID_ARGUMENT",
        ),
        ("espocrm://Account", invalid, "INVALID_ARGUMENT"),
        (
            "https://crm.example.com/Account/abc",
            invalid,
            "INVALID_ARGUMENT",
        ),
    ] {
        assert_eq!(
            read_error(client, uri).await,
            (rpc, code.to_owned()),
            "{uri}"
        );
    }
    assert_eq!(
        sandbox.stats().requests_total,
        before,
        "a refused URI sent nothing to EspoCRM"
    );
    // An id that looks right but does not exist: EspoCRM is asked, and says 404.
    assert_eq!(
        read_error(client, "espocrm://Account/000000000000000ff").await,
        (not_found, "RECORD_NOT_FOUND".to_owned())
    );
    let page = tool(
        client,
        "search",
        json!({"entityType": "Account", "limit": 1}),
    )
    .await;
    assert_eq!(
        page["list"].as_array().map(Vec::len),
        Some(1),
        "still serving"
    );
}

/// Completes template variables and prompt arguments, checked against the sandbox's data.
pub async fn completes_templates_and_prompt_arguments(client: &Client, sandbox: &Sandbox) {
    let direct = Direct::new(sandbox);

    // Entity types by prefix, ignoring case.
    let values = client
        .complete_resource_simple("espocrm://{entityType}/{id}", "entityType", "opp")
        .await
        .expect("complete");
    assert_eq!(values.first().map(String::as_str), Some("Opportunity"));
    let readable = tool(client, "list_entity_types", json!({})).await;
    let all: BTreeSet<String> = entity_type_names(&readable).into_iter().collect();
    let every = client
        .complete_resource_simple("espocrm://schema/{entityType}", "entityType", "")
        .await
        .expect("complete");
    assert_eq!(every.iter().cloned().collect::<BTreeSet<_>>(), all);

    // Links of the entity type given in the context.
    let context = CompletionContext::with_arguments(HashMap::from([(
        "entityType".to_owned(),
        "Account".to_owned(),
    )]));
    let links = client
        .complete_resource_argument(
            "espocrm://{entityType}/{id}/{link}",
            "link",
            "con",
            Some(context),
        )
        .await
        .expect("complete");
    assert!(links.values.contains(&"contacts".to_owned()), "{links:?}");
    assert!(
        links
            .values
            .iter()
            .all(|l| l.to_lowercase().contains("con")),
        "{links:?}"
    );

    // Email template names, from EspoCRM.
    let templates: Vec<String> = direct
        .all("EmailTemplate")
        .await
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect();
    assert!(!templates.is_empty(), "the demo data has email templates");
    let names = client
        .complete_prompt_simple("draft-followup", "template_name", "")
        .await
        .expect("complete");
    assert_eq!(
        names.iter().cloned().collect::<BTreeSet<_>>(),
        templates.iter().cloned().collect::<BTreeSet<_>>()
    );
    let prefix: String = templates[0].chars().take(3).collect();
    let narrowed = client
        .complete_prompt_simple("draft-followup", "template_name", &prefix)
        .await
        .expect("complete");
    let expected: BTreeSet<String> = templates
        .iter()
        .filter(|t| t.to_lowercase().starts_with(&prefix.to_lowercase()))
        .cloned()
        .collect();
    assert_eq!(narrowed.iter().cloned().collect::<BTreeSet<_>>(), expected);

    // Lead sources, from the metadata.
    let metadata = direct.get("Metadata", &[]).await;
    let sources: BTreeSet<String> = metadata["entityDefs"]["Lead"]["fields"]["source"]["options"]
        .as_array()
        .expect("Lead source options")
        .iter()
        .filter_map(|o| o.as_str().filter(|s| !s.is_empty()).map(str::to_owned))
        .collect();
    let offered = client
        .complete_prompt_simple("process-inbound-lead", "source", "")
        .await
        .expect("complete");
    assert_eq!(offered.into_iter().collect::<BTreeSet<_>>(), sources);

    // Nothing to suggest for free text; an unknown prompt is invalid params.
    let free = client
        .complete_prompt_simple("process-call-transcript", "transcript", "We")
        .await
        .expect("complete");
    assert!(free.is_empty(), "{free:?}");
    match client
        .complete_prompt_simple("no-such-prompt", "x", "")
        .await
    {
        Err(ServiceError::McpError(error)) => assert_eq!(error.code, ErrorCode::INVALID_PARAMS),
        other => panic!("expected invalid params, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_on_2025_11_25() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Legacy).await;
    lists_and_reads_every_resource(&server.client, &sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_on_2026_07_28() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Modern).await;
    lists_and_reads_every_resource(&server.client, &sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_resource_uris_on_2025_11_25() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Legacy).await;
    refuses_bad_resource_uris(&server.client, &sandbox, Era::Legacy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_resource_uris_on_2026_07_28() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Modern).await;
    refuses_bad_resource_uris(&server.client, &sandbox, Era::Modern).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_on_2025_11_25() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Legacy).await;
    completes_templates_and_prompt_arguments(&server.client, &sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_on_2026_07_28() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Modern).await;
    completes_templates_and_prompt_arguments(&server.client, &sandbox).await;
}
