//! Toolsets, read-only mode and the entity-type allow-list: what `tools/list` shows, how a call
//! to a hidden tool is refused (`TOOL_DISABLED`, nothing sent to EspoCRM), and that an entity
//! type outside `SERVER_ENTITY_TYPES` is refused on every path (`INVALID_ENTITY_TYPE`).

use std::collections::BTreeSet;
use std::process::Output;

use serde_json::{Value, json};

use crate::common::{
    Direct, Era, Server, assert_no_upstream_request, entity_type_names, ids, rows, sandbox,
    std_command,
};

/// The read family, as `tools/list` orders it.
const READ_TOOLS: [&str; 10] = [
    "list_entity_types",
    "get_schema",
    "search",
    "get",
    "get_related",
    "get_many",
    "global_search",
    "aggregate",
    "upcoming_activities",
    "whoami",
];

async fn listed(server: &Server) -> Vec<String> {
    let tools = server.client.list_all_tools().await.expect("tools/list");
    tools.iter().map(|t| t.name.to_string()).collect()
}

#[tokio::test]
async fn read_only_lists_only_the_read_tools_and_refuses_the_others() {
    let sandbox = sandbox().await;
    for era in [Era::Legacy, Era::Modern] {
        let server = Server::builder(&sandbox)
            .era(era)
            .env("SERVER_READ_ONLY", "true")
            .start()
            .await;
        let tools = server.client.list_all_tools().await.expect("tools/list");
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(names, READ_TOOLS, "{era:?}");
        for tool in &tools {
            let annotations = tool.annotations.as_ref().expect("annotations");
            assert_eq!(annotations.read_only_hint, Some(true), "{}", tool.name);
        }
        let accounts_before = sandbox.count("Account");
        for (tool, arguments) in [
            (
                "create",
                json!({"entityType": "Account", "data": {"name": "Read-only Ltd"}}),
            ),
            (
                "delete",
                json!({"entityType": "Account", "id": "0123456789abcdef0", "confirm": true}),
            ),
            (
                "add_note",
                json!({"entityType": "Account", "id": "0123456789abcdef0", "text": "x"}),
            ),
            (
                "draft_email",
                json!({"to": ["a@example.com"], "subject": "s", "body": "b"}),
            ),
        ] {
            let error = assert_no_upstream_request(&sandbox, tool, || {
                server.err_code(tool, arguments.clone(), "TOOL_DISABLED")
            })
            .await;
            let message = error["message"].as_str().unwrap();
            assert!(message.contains(tool), "{message}");
            assert!(message.contains("read-only"), "{message}");
            assert!(
                error["suggestion"].as_str().unwrap().contains("search"),
                "{error:?}"
            );
            assert_eq!(error["retryable"], false);
        }
        assert_eq!(
            sandbox.count("Account"),
            accounts_before,
            "nothing was created"
        );
        // A tool that does not exist at all is still the protocol's "tool not found".
        let unknown = server.try_call("no_such_tool", json!({})).await;
        assert!(unknown.is_err(), "{unknown:?}");
        server.assert_still_serving().await;
        server.stop().await;
    }
}

#[tokio::test]
async fn toolsets_pick_the_families_and_read_only_wins() {
    let sandbox = sandbox().await;
    let server = Server::builder(&sandbox)
        .env("SERVER_TOOLSETS", "read,notes")
        .start()
        .await;
    let mut expected: Vec<String> = READ_TOOLS.iter().map(|t| (*t).to_owned()).collect();
    expected.push("add_note".into());
    assert_eq!(
        listed(&server).await.into_iter().collect::<BTreeSet<_>>(),
        expected.iter().cloned().collect::<BTreeSet<_>>()
    );
    let kanban =
        json!({"entityType": "Opportunity", "id": "0123456789abcdef0", "group": "Closed Won"});
    let error = server
        .err_code("update_kanban", kanban, "TOOL_DISABLED")
        .await;
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("`kanban`") && message.contains("read,notes"),
        "{message}"
    );
    // The served family works.
    let account = ids(&server
        .ok("search", json!({"entityType": "Account", "limit": 1}))
        .await)[0]
        .clone();
    let note = server
        .ok(
            "add_note",
            json!({"entityType": "Account", "id": account, "text": "From the notes toolset"}),
        )
        .await;
    assert_eq!(note["parentId"], account.as_str());
    server.stop().await;

    // Read-only wins over the toolsets: write and email give nothing.
    let server = Server::builder(&sandbox)
        .env("SERVER_TOOLSETS", "write,email")
        .env("SERVER_READ_ONLY", "1")
        .start()
        .await;
    assert_eq!(listed(&server).await, Vec::<String>::new());
    let error = server
        .err_code(
            "update",
            json!({"entityType": "Account", "id": account, "data": {"name": "x"}}),
            "TOOL_DISABLED",
        )
        .await;
    assert!(
        error["message"].as_str().unwrap().contains("read-only"),
        "{error:?}"
    );
    server.stop().await;

    let server = Server::builder(&sandbox)
        .env("SERVER_TOOLSETS", "write")
        .start()
        .await;
    assert_eq!(
        listed(&server).await,
        ["create", "delete", "link", "unlink", "update"]
    );
    server
        .err_code("search", json!({"entityType": "Account"}), "TOOL_DISABLED")
        .await;
    server.stop().await;
}

#[tokio::test]
async fn the_entity_allow_list_holds_on_every_path() {
    let sandbox = sandbox().await;
    let direct = Direct::new(&sandbox);
    let server = Server::builder(&sandbox)
        .env("SERVER_ENTITY_TYPES", "Account,contact")
        .start()
        .await;

    let types = server.ok("list_entity_types", json!({})).await;
    assert_eq!(entity_type_names(&types), ["Account", "Contact"]);
    let whoami = server.ok("whoami", json!({})).await;
    let access: Vec<&str> = whoami["access"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["entityType"].as_str().unwrap())
        .collect();
    assert_eq!(access, ["Account", "Contact"]);

    let account = direct.all("Account").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let opportunity = direct.all("Opportunity").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (tool, arguments) in [
        ("get_schema", json!({"entityType": "Lead"})),
        ("search", json!({"entityType": "Opportunity"})),
        (
            "get",
            json!({"entityType": "Opportunity", "id": opportunity}),
        ),
        (
            "get_many",
            json!({"entityType": "Opportunity", "ids": [opportunity]}),
        ),
        (
            "aggregate",
            json!({"entityType": "Opportunity", "metrics": [{"op": "count"}]}),
        ),
        (
            "global_search",
            json!({"query": "a", "entityTypes": ["Lead"]}),
        ),
        (
            "get_related",
            json!({"entityType": "Account", "id": account, "link": "opportunities"}),
        ),
        (
            "link",
            json!({"entityType": "Account", "id": account, "link": "opportunities", "foreignId": opportunity}),
        ),
        (
            "unlink",
            json!({"entityType": "Account", "id": account, "link": "opportunities", "foreignId": opportunity}),
        ),
        (
            "create",
            json!({"entityType": "Lead", "data": {"lastName": "Hidden"}}),
        ),
        (
            "update",
            json!({"entityType": "Opportunity", "id": opportunity, "data": {"name": "x"}}),
        ),
        (
            "delete",
            json!({"entityType": "Opportunity", "id": opportunity, "confirm": false}),
        ),
        (
            "update_kanban",
            json!({"entityType": "Opportunity", "id": opportunity, "group": "Closed Won"}),
        ),
        (
            "add_note",
            json!({"entityType": "Opportunity", "id": opportunity, "text": "x"}),
        ),
        // Email is an entity type like any other: drafting needs it allowed.
        (
            "draft_email",
            json!({"to": ["a@example.com"], "subject": "s", "body": "b"}),
        ),
    ] {
        let error = assert_no_upstream_request(&sandbox, tool, || {
            server.err_code(tool, arguments.clone(), "INVALID_ENTITY_TYPE")
        })
        .await;
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("SERVER_ENTITY_TYPES"), "{tool}: {message}");
        let suggestion = error["suggestion"].as_str().unwrap();
        assert!(
            suggestion.contains("Account") && !suggestion.contains("Opportunity"),
            "{tool}: {suggestion}"
        );
    }
    // The allowed types work, and get_schema hides links into the excluded ones.
    let schema = server
        .ok("get_schema", json!({"entityType": "Account"}))
        .await;
    let links: Vec<&str> = schema["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert!(links.contains(&"contacts"), "{links:?}");
    assert!(!links.contains(&"opportunities"), "{links:?}");
    let contacts = server
        .ok(
            "get_related",
            json!({"entityType": "Account", "id": account, "link": "contacts"}),
        )
        .await;
    assert_eq!(
        rows(&contacts).len(),
        direct
            .all_related("Account", &account, "contacts")
            .await
            .len()
            .min(20)
    );
    // Global search without a type filter answers only allowed types.
    let hits = server
        .ok("global_search", json!({"query": "a", "limit": 50}))
        .await;
    let hit_types: BTreeSet<&str> = hits["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["entityType"].as_str().unwrap())
        .collect();
    assert!(!hit_types.is_empty(), "{hits}");
    assert!(
        hit_types.iter().all(|t| ["Account", "Contact"].contains(t)),
        "{hit_types:?}"
    );
    // Activities of excluded types are skipped, and said to be.
    let upcoming = server.ok("upcoming_activities", json!({})).await;
    assert_eq!(upcoming["skipped"], json!(["Meeting", "Call", "Task"]));
    server.stop().await;
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = tempfile::TempDir::new().unwrap();
    let mut command = std_command(home.path());
    command.args(args).envs(env.iter().copied());
    command.output().expect("espomcp runs")
}

fn tool_names(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_tool_belongs_to_exactly_one_toolset() {
    let output = run(&["tools"], &[]);
    assert_eq!(output.status.code(), Some(0));
    let served: BTreeSet<String> = tool_names(&output).into_iter().collect();
    let mut families = BTreeSet::new();
    for toolset in espomcp::toolsets::Toolset::ALL {
        for tool in toolset.tools() {
            assert!(
                families.insert((*tool).to_owned()),
                "{tool} in two toolsets"
            );
        }
    }
    assert_eq!(
        served, families,
        "a tool without a toolset, or a toolset naming no tool"
    );
}

#[test]
fn the_flags_apply_to_tools_and_call() {
    let output = run(&["--read-only", "tools"], &[]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(tool_names(&output), READ_TOOLS);

    // A flag overrides the environment.
    let output = run(
        &["--toolsets", "kanban,email", "tools"],
        &[("SERVER_TOOLSETS", "read")],
    );
    assert_eq!(tool_names(&output), ["draft_email", "update_kanban"]);

    let output = run(
        &[
            "--demo",
            "--read-only",
            "call",
            "create",
            r#"{"entityType":"Account","data":{"name":"X"}}"#,
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    let body: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(body["error"]["code"], "TOOL_DISABLED");

    let output = run(
        &[
            "--demo",
            "--entities",
            "Account",
            "call",
            "search",
            r#"{"entityType":"Contact"}"#,
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    let body: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(body["error"]["code"], "INVALID_ENTITY_TYPE");
}

#[test]
fn unknown_toolsets_and_entity_types_stop_the_start() {
    let output = run(&["--toolsets", "read,writes", "tools"], &[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--toolsets") && stderr.contains("\"writes\""),
        "{stderr}"
    );

    let output = run(
        &["--demo", "call", "list_entity_types"],
        &[("SERVER_ENTITY_TYPES", "Account,Acount,Opportunity")],
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SERVER_ENTITY_TYPES"), "{stderr}");
    assert!(
        stderr.contains("EspoCRM does not have: Acount."),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "nothing ran");
}
