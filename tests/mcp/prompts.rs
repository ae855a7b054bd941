//! The six workflow prompts over MCP, on both protocol eras: listed with their arguments and
//! required flags, rendered with the caller's arguments as delimited data, the tools and the
//! guardrails; a missing required argument is an invalid-params error; a template edited on
//! disk is served at once, and a corrupt one is a clear error while the server keeps serving.
//! (The PromptStore's own behaviour — defaults, atomic writes, torn reads — is tested in
//! actors/tests/prompts.rs.)

use std::collections::BTreeMap;

use rmcp::ServiceError;
use rmcp::model::GetPromptRequestParams;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::common::{Era, Server, sandbox};

/// The public contract: name → (argument, required).
fn expected() -> BTreeMap<&'static str, Vec<(&'static str, bool)>> {
    BTreeMap::from([
        (
            "process-call-transcript",
            vec![
                ("transcript", true),
                ("account_hint", false),
                ("contact_hint", false),
            ],
        ),
        (
            "log-meeting",
            vec![
                ("notes", true),
                ("attendees", false),
                ("date", false),
                ("duration", false),
            ],
        ),
        (
            "process-inbound-lead",
            vec![("details", true), ("source", false)],
        ),
        (
            "draft-followup",
            vec![
                ("context", true),
                ("recipient", false),
                ("template_name", false),
            ],
        ),
        ("pipeline-update", vec![("changes", true)]),
        ("email-triage", vec![("emails", true)]),
    ])
}

async fn render(server: &Server, name: &str, arguments: Value) -> Result<String, ServiceError> {
    let params = GetPromptRequestParams::new(name)
        .with_arguments(arguments.as_object().cloned().unwrap_or_default());
    let result = server.client.get_prompt(params).await?;
    Ok(result
        .messages
        .iter()
        .filter_map(|m| m.content.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n"))
}

async fn server_with_prompts(era: Era) -> (Server, TempDir, espocrm_sandbox::Sandbox) {
    let sandbox = sandbox().await;
    let dir = TempDir::new().expect("a prompts directory");
    let server = Server::builder(&sandbox)
        .era(era)
        .env("SERVER_PROMPTS_DIR", dir.path().display())
        .start()
        .await;
    (server, dir, sandbox)
}

async fn lists_and_renders(era: Era) {
    let (server, dir, _sandbox) = server_with_prompts(era).await;
    let listed = server
        .client
        .list_all_prompts()
        .await
        .expect("prompts/list");
    let mut got: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
    for prompt in &listed {
        let arguments = prompt
            .arguments
            .iter()
            .flatten()
            .map(|a| (a.name.clone(), a.required == Some(true)))
            .collect();
        got.insert(prompt.name.clone(), arguments);
        assert!(
            prompt.description.is_some(),
            "{} has a description",
            prompt.name
        );
    }
    let want: BTreeMap<String, Vec<(String, bool)>> = expected()
        .into_iter()
        .map(|(n, a)| {
            (
                n.to_owned(),
                a.into_iter().map(|(x, r)| (x.to_owned(), r)).collect(),
            )
        })
        .collect();
    assert_eq!(got, want);

    let text = render(
        &server,
        "process-call-transcript",
        json!({"transcript": "Dana from Apex Health: send the pilot agreement by Friday.",
               "account_hint": "Apex Health Co."}),
    )
    .await
    .expect("rendered");
    assert!(
        text.contains("send the pilot agreement by Friday"),
        "{text}"
    );
    assert!(text.contains("Apex Health Co."), "{text}");
    for tool in [
        "search",
        "get_schema",
        "create",
        "update_kanban",
        "draft_email",
    ] {
        assert!(text.contains(tool), "names {tool}: {text}");
    }
    assert!(
        text.contains("<transcript>") && text.contains("</transcript>"),
        "{text}"
    );
    let lower = text.to_lowercase();
    assert!(
        lower.contains("never send"),
        "the no-send guardrail: {text}"
    );
    assert!(
        lower.contains("confirm=true") || lower.contains("confirm: true"),
        "{text}"
    );
    assert!(!text.contains("{{"), "no placeholder left: {text}");
    // The default was written where the operator can edit it.
    assert!(dir.path().join("process-call-transcript.md").is_file());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompts_are_listed_and_rendered_on_the_handshake_era() {
    lists_and_renders(Era::Legacy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompts_are_listed_and_rendered_on_the_2026_era() {
    lists_and_renders(Era::Modern).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_required_argument_is_invalid_params() {
    let (server, _dir, _sandbox) = server_with_prompts(Era::Legacy).await;
    match render(&server, "pipeline-update", json!({})).await {
        Err(ServiceError::McpError(e)) => {
            assert_eq!(e.code, rmcp::model::ErrorCode::INVALID_PARAMS);
            assert!(e.message.contains("changes"), "{}", e.message);
        }
        other => panic!("expected invalid params, got {other:?}"),
    }
    match render(&server, "no-such-prompt", json!({})).await {
        Err(ServiceError::McpError(e)) => {
            assert_eq!(e.code, rmcp::model::ErrorCode::INVALID_PARAMS);
        }
        other => panic!("expected invalid params, got {other:?}"),
    }
    server.assert_still_serving().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_template_is_served_at_once_and_a_corrupt_one_is_named() {
    let (server, dir, _sandbox) = server_with_prompts(Era::Legacy).await;
    let file = dir.path().join("email-triage.md");
    let first = render(
        &server,
        "email-triage",
        json!({"emails": "From: a@example.com"}),
    )
    .await
    .expect("rendered");
    assert!(file.is_file(), "the default was written on first use");
    assert!(first.contains("a@example.com"));

    std::fs::write(
        &file,
        "Triage these, carefully:\n<emails>\n{{emails}}\n</emails>\n",
    )
    .expect("edited");
    let edited = render(
        &server,
        "email-triage",
        json!({"emails": "From: b@example.com"}),
    )
    .await
    .expect("rendered");
    assert_eq!(
        edited,
        "Triage these, carefully:\n<emails>\nFrom: b@example.com\n</emails>"
    );

    std::fs::write(&file, [0xff, 0xfe, 0x00, 0x41]).expect("corrupted");
    match render(&server, "email-triage", json!({"emails": "x"})).await {
        Err(ServiceError::McpError(e)) => {
            assert_eq!(e.code, rmcp::model::ErrorCode::INTERNAL_ERROR);
            assert!(
                e.message.contains("email-triage.md"),
                "names the file: {}",
                e.message
            );
        }
        other => panic!("expected an error naming the file, got {other:?}"),
    }
    // Another prompt still renders, and deleting the bad file restores the default.
    render(
        &server,
        "pipeline-update",
        json!({"changes": "Apex → Negotiation"}),
    )
    .await
    .expect("another prompt still works");
    std::fs::remove_file(&file).expect("deleted");
    let restored = render(
        &server,
        "email-triage",
        json!({"emails": "From: c@example.com"}),
    )
    .await
    .expect("restored from the default");
    assert_eq!(restored, first.replace("a@example.com", "c@example.com"));
    server.assert_still_serving().await;
    server.stop().await;
}

/// The arguments that make each prompt render: its required ones.
fn required_arguments(name: &str) -> Value {
    let mut arguments = serde_json::Map::new();
    for (argument, required) in &expected()[name] {
        if *required {
            arguments.insert((*argument).to_owned(), json!("Apex Health Co."));
        }
    }
    Value::Object(arguments)
}

/// Every prompt names every tool the server serves, the power tools (get_many, global_search,
/// aggregate, upcoming_activities, whoami) included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_prompt_names_every_tool() {
    let (server, _dir, _sandbox) = server_with_prompts(Era::Legacy).await;
    let tools = server.client.list_all_tools().await.expect("tools/list");
    assert!(tools.len() >= 18, "{} tools", tools.len());
    for name in expected().keys() {
        let text = render(&server, name, required_arguments(name))
            .await
            .expect("rendered");
        for tool in &tools {
            assert!(
                text.contains(tool.name.as_ref()),
                "{name} does not name {}",
                tool.name
            );
        }
    }
    server.stop().await;
}

/// Without SERVER_PROMPTS_DIR the templates go to the configuration directory
/// ($XDG_CONFIG_HOME/espocrm-mcp/prompts, else ~/.config/espocrm-mcp/prompts on Linux), never
/// under the working directory the client happened to start espomcp in.
#[cfg(all(unix, not(target_os = "macos")))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompts_default_to_the_configuration_directory() {
    let sandbox = sandbox().await;
    let xdg = TempDir::new().expect("a config home");
    let server = Server::builder(&sandbox)
        .env("XDG_CONFIG_HOME", xdg.path().display())
        .start()
        .await;
    render(
        &server,
        "pipeline-update",
        required_arguments("pipeline-update"),
    )
    .await
    .expect("rendered");
    let written = xdg.path().join("espocrm-mcp/prompts/pipeline-update.md");
    assert!(written.is_file(), "{} was not written", written.display());
    assert!(
        !server.home().join(".espomcp").exists(),
        "nothing in the working directory"
    );
    server.stop().await;

    // XDG_CONFIG_HOME unset (empty counts as unset): under HOME's .config.
    let server = Server::builder(&sandbox)
        .env("XDG_CONFIG_HOME", "")
        .start()
        .await;
    render(&server, "email-triage", required_arguments("email-triage"))
        .await
        .expect("rendered");
    let written = server
        .home()
        .join(".config/espocrm-mcp/prompts/email-triage.md");
    assert!(written.is_file(), "{} was not written", written.display());
    assert!(
        !server.home().join(".espomcp").exists(),
        "nothing in the working directory"
    );
    server.stop().await;
}
