//! The audit log (`SERVER_AUDIT_LOG`): one JSON line per write tool call, with names and never
//! values, flushed when the server stops; a log that cannot be written never fails a call.

use serde_json::{Map, Value, json};
use tempfile::TempDir;

use crate::common::{Direct, Server, sandbox};

/// The keys of every line (delete adds `step`).
const KEYS: [&str; 8] = [
    "time",
    "tool",
    "entityType",
    "id",
    "fields",
    "outcome",
    "latencyMs",
    "upstreamStatus",
];

fn lines(path: &std::path::Path) -> Vec<Map<String, Value>> {
    let text = std::fs::read_to_string(path).expect("the audit file exists");
    text.lines()
        .map(|line| {
            serde_json::from_str::<Value>(line)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
                .as_object()
                .cloned()
                .expect("an object per line")
        })
        .collect()
}

#[tokio::test]
async fn should_write_one_line_per_write_tool_call_with_names_and_no_values() {
    let sandbox = sandbox().await;
    let dir = TempDir::new().expect("a directory");
    let path = dir.path().join("audit.jsonl");
    let server = Server::builder(&sandbox)
        .env("SERVER_AUDIT_LOG", path.display())
        .start()
        .await;
    let contact = Direct::new(&sandbox).all("Contact").await[0]["id"]
        .as_str()
        .expect("a contact")
        .to_owned();
    let template = Direct::new(&sandbox).all("EmailTemplate").await[0]["id"]
        .as_str()
        .expect("a template")
        .to_owned();

    // Values that must never reach the file.
    let secrets = [
        "Audit Secret Holdings",
        "secret-site.example.com",
        "a confidential note",
        "secret.recipient@example.com",
        "Secret subject line",
        "Very secret deal",
    ];
    let account = server
        .ok(
            "create",
            json!({"entityType": "Account", "data": {"name": secrets[0], "industry": "Banking"}}),
        )
        .await["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    server
        .ok(
            "update",
            json!({"entityType": "Account", "id": account, "data": {"website": secrets[1]}}),
        )
        .await;
    let link =
        json!({"entityType": "Account", "id": account, "link": "contacts", "foreignId": contact});
    server.ok("link", link.clone()).await;
    server.ok("unlink", link).await;
    server
        .ok(
            "add_note",
            json!({"entityType": "Account", "id": account, "text": secrets[2]}),
        )
        .await;
    let deal = server
        .ok(
            "create",
            json!({"entityType": "Opportunity", "data": {"name": secrets[5], "accountId": account,
                   "amount": 1000, "closeDate": "2030-01-31", "stage": "Prospecting"}}),
        )
        .await["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    server
        .ok(
            "update_kanban",
            json!({"entityType": "Opportunity", "id": deal, "group": "Negotiation"}),
        )
        .await;
    let draft = server
        .ok(
            "draft_email",
            json!({"to": [secrets[3]], "subject": secrets[4], "body": "Hello", "templateId": template,
                   "parentType": "Account", "parentId": account}),
        )
        .await["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    server
        .err_code(
            "update",
            json!({"entityType": "Account", "id": account, "data": {"noSuchField": "x"}}),
            "INVALID_FIELD",
        )
        .await;
    server
        .ok(
            "delete",
            json!({"entityType": "Opportunity", "id": deal, "confirm": false}),
        )
        .await;
    server
        .ok(
            "delete",
            json!({"entityType": "Opportunity", "id": deal, "confirm": true}),
        )
        .await;
    // Reads are not audited.
    server
        .ok("search", json!({"entityType": "Account", "limit": 1}))
        .await;
    server
        .ok("get", json!({"entityType": "Account", "id": account}))
        .await;
    // Stopping the server flushes the file.
    server.stop().await;

    let lines = lines(&path);
    let tools: Vec<&str> = lines
        .iter()
        .map(|l| l["tool"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        tools,
        [
            "create",
            "update",
            "link",
            "unlink",
            "add_note",
            "create",
            "update_kanban",
            "draft_email",
            "update",
            "delete",
            "delete"
        ]
    );
    for line in &lines {
        let mut expected: Vec<&str> = KEYS.to_vec();
        if line["tool"] == json!("delete") {
            expected.push("step");
        }
        let mut keys: Vec<&str> = line.keys().map(String::as_str).collect();
        keys.sort_unstable();
        expected.sort_unstable();
        assert_eq!(keys, expected, "{line:?}");
        let time = line["time"].as_str().expect("a time");
        assert!(
            time.len() == 24 && time.ends_with('Z') && time.contains('T'),
            "{time}"
        );
        assert!(line["latencyMs"].is_u64(), "{line:?}");
    }
    let check = |i: usize, entity: &str, id: &str, fields: Value, outcome: &str, status: Value| {
        let line = &lines[i];
        assert_eq!(line["entityType"], json!(entity), "{line:?}");
        assert_eq!(line["id"], json!(id), "{line:?}");
        assert_eq!(line["fields"], fields, "{line:?}");
        assert_eq!(line["outcome"], json!(outcome), "{line:?}");
        assert_eq!(line["upstreamStatus"], status, "{line:?}");
    };
    check(
        0,
        "Account",
        &account,
        json!(["name", "industry"]),
        "OK",
        json!(200),
    );
    check(1, "Account", &account, json!(["website"]), "OK", json!(200));
    check(
        2,
        "Account",
        &account,
        json!(["contacts"]),
        "OK",
        json!(200),
    );
    check(
        3,
        "Account",
        &account,
        json!(["contacts"]),
        "OK",
        json!(200),
    );
    check(4, "Account", &account, json!(["post"]), "OK", json!(200));
    check(
        5,
        "Opportunity",
        &deal,
        json!(["name", "accountId", "amount", "closeDate", "stage"]),
        "OK",
        json!(200),
    );
    check(6, "Opportunity", &deal, json!(["stage"]), "OK", json!(200));
    check(
        7,
        "Email",
        &draft,
        json!([
            "to",
            "subject",
            "body",
            "templateId",
            "parentType",
            "parentId"
        ]),
        "OK",
        json!(200),
    );
    // Refused before any request: no upstream status.
    check(
        8,
        "Account",
        &account,
        json!(["noSuchField"]),
        "INVALID_FIELD",
        Value::Null,
    );
    check(9, "Opportunity", &deal, json!([]), "OK", json!(200));
    assert_eq!(lines[9]["step"], json!("preview"));
    check(10, "Opportunity", &deal, json!([]), "OK", json!(200));
    assert_eq!(lines[10]["step"], json!("confirm"));

    let text = std::fs::read_to_string(&path).expect("the file");
    for secret in secrets.iter().chain([&sandbox.agent_api_key.as_str()]) {
        assert!(
            !text.contains(secret),
            "{secret:?} leaked into the audit log"
        );
    }
}

#[tokio::test]
async fn should_keep_serving_when_the_audit_log_cannot_be_written() {
    let sandbox = sandbox().await;
    let dir = TempDir::new().expect("a directory");
    // A directory that does not exist, and a path that is a directory.
    for path in [
        dir.path().join("missing").join("audit.jsonl"),
        dir.path().to_owned(),
    ] {
        let server = Server::builder(&sandbox)
            .env("SERVER_AUDIT_LOG", path.display())
            .start()
            .await;
        let created = server
            .ok(
                "create",
                json!({"entityType": "Task", "data": {"name": "Audit-proof task",
                       "assignedUserId": sandbox.find("User", "userName", &json!("sarah.chen"))[0]}}),
            )
            .await;
        let id = created["id"].as_str().expect("created anyway");
        assert!(sandbox.record("Task", id).is_some());
        let stderr = server.stop().await;
        assert!(
            stderr.contains("SERVER_AUDIT_LOG") && stderr.contains("NOT being audited"),
            "the start says so loudly: {stderr}"
        );
        assert!(
            stderr.contains("the audit line of this create call was not written"),
            "every write says so: {stderr}"
        );
    }
}
