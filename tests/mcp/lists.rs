//! Every list argument has a cap, stated in its schema (`maxItems`) and enforced before anything
//! reaches EspoCRM, with a short error (the count and the cap, never the items); and
//! `draft_email`'s recipients as one address, a separated string or a list.

use serde_json::{Map, Value, json};

use crate::common::{Era, Server, assert_no_upstream_request, error_of, sandbox, text_of};

/// Every array a schema allows, anywhere in it, by its path; `anyOf`/`oneOf` branches and
/// `type` lists included.
fn arrays(schema: &Value, path: &str, found: &mut Vec<(String, Map<String, Value>)>) {
    let Some(object) = schema.as_object() else {
        return;
    };
    let is_array = match object.get("type") {
        Some(Value::String(t)) => t == "array",
        Some(Value::Array(types)) => types.iter().any(|t| t == "array"),
        _ => false,
    };
    if is_array {
        found.push((path.to_owned(), object.clone()));
    }
    for (key, value) in object {
        match (key.as_str(), value) {
            ("properties" | "$defs" | "definitions", Value::Object(children)) => {
                for (name, child) in children {
                    arrays(child, &format!("{path}.{name}"), found);
                }
            }
            ("anyOf" | "oneOf" | "allOf", Value::Array(branches)) => {
                for branch in branches {
                    arrays(branch, path, found);
                }
            }
            ("items", child) => arrays(child, &format!("{path}[]"), found),
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_list_argument_states_its_cap() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Legacy).await;
    let tools = server.client.list_all_tools().await.expect("tools/list");
    let mut checked = Vec::new();
    for tool in &tools {
        let schema = Value::Object((*tool.input_schema).clone());
        let mut found = Vec::new();
        arrays(&schema, &tool.name, &mut found);
        for (path, array) in found {
            // `where` values included: their lists carry the where validator's own cap.
            let cap = array.get("maxItems").and_then(Value::as_u64);
            assert!(
                cap.is_some_and(|cap| (1..=100).contains(&cap)),
                "{path} has no sane maxItems: {array:?}"
            );
            checked.push(path);
        }
    }
    for expected in [
        "link.foreignIds",
        "unlink.foreignIds",
        "draft_email.to",
        "draft_email.cc",
        "draft_email.bcc",
        "get_many.ids",
        "get_many.select",
        "search.where",
        "search.select",
        "get.select",
        "get_related.select",
        "get_related.where",
        "global_search.entityTypes",
        "aggregate.where",
        "aggregate.metrics",
    ] {
        assert!(
            checked.iter().any(|path| path == expected),
            "{expected} not among the capped lists {checked:?}"
        );
    }
    server.stop().await;
}

/// Calls `tool`, which must fail with INVALID_ARGUMENT without reaching EspoCRM, with an error
/// that states `count` and `cap` and stays small.
async fn refused_over_cap(
    server: &Server,
    sandbox: &espocrm_sandbox::Sandbox,
    tool: &str,
    arguments: Value,
    count: usize,
    cap: usize,
) {
    let result = assert_no_upstream_request(sandbox, tool, || server.call(tool, arguments)).await;
    let error = error_of(&result, tool);
    assert_eq!(error["code"], "INVALID_ARGUMENT", "{tool}: {error:?}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&count.to_string()) && message.contains(&format!("at most {cap}")),
        "{tool}: {message}"
    );
    let size = text_of(&result).len();
    assert!(size < 2_000, "{tool}: an error of {size} bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_over_its_cap_is_refused_in_a_few_bytes_before_any_request() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Legacy).await;
    // Warm: the schema is fetched, so the refusals below are the only thing that could reach
    // EspoCRM.
    server.ok("list_entity_types", json!({})).await;
    let account = sandbox.find("Account", "name", &json!("Apex Health Co."))[0].clone();
    let ids: Vec<String> = (0..100_001).map(|i| format!("{i:017}")).collect();
    for tool in ["link", "unlink"] {
        refused_over_cap(
            &server,
            &sandbox,
            tool,
            json!({"entityType": "Account", "id": account, "link": "contacts", "foreignIds": ids}),
            100_001,
            100,
        )
        .await;
    }
    refused_over_cap(
        &server,
        &sandbox,
        "get_many",
        json!({"entityType": "Account", "ids": ids}),
        100_001,
        100,
    )
    .await;
    let names: Vec<String> = (0..101).map(|i| format!("field{i}")).collect();
    for (tool, arguments) in [
        ("search", json!({"entityType": "Account", "select": names})),
        (
            "get",
            json!({"entityType": "Account", "id": account, "select": names}),
        ),
        ("global_search", json!({"query": "a", "entityTypes": names})),
    ] {
        refused_over_cap(&server, &sandbox, tool, arguments, 101, 100).await;
    }
    let conditions: Vec<Value> = (0..51)
        .map(|_| json!({"field": "name", "type": "isNotNull"}))
        .collect();
    refused_over_cap(
        &server,
        &sandbox,
        "search",
        json!({"entityType": "Account", "where": conditions}),
        51,
        50,
    )
    .await;
    let metrics: Vec<Value> = (0..21).map(|_| json!({"op": "count"})).collect();
    refused_over_cap(
        &server,
        &sandbox,
        "aggregate",
        json!({"entityType": "Account", "metrics": metrics}),
        21,
        20,
    )
    .await;
    let many: Vec<String> = (0..101).map(|i| format!("r{i}@example.org")).collect();
    refused_over_cap(
        &server,
        &sandbox,
        "draft_email",
        json!({"to": many}),
        101,
        100,
    )
    .await;
    refused_over_cap(
        &server,
        &sandbox,
        "draft_email",
        json!({"to": many.join(", ")}),
        101,
        100,
    )
    .await;
    // 100 in all is the cap, whichever fields they are in.
    let (to, rest) = many.split_at(40);
    let (cc, bcc) = rest.split_at(40);
    refused_over_cap(
        &server,
        &sandbox,
        "draft_email",
        json!({"to": to, "cc": cc, "bcc": bcc}),
        101,
        100,
    )
    .await;
    assert_eq!(sandbox.stats().count("POST "), 0);
    server.assert_still_serving().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draft_email_takes_recipients_as_a_string_a_separated_string_or_a_list() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Legacy).await;
    for (arguments, to, cc, bcc) in [
        (
            json!({"to": "client@example.com", "subject": "One string"}),
            "client@example.com",
            None,
            None,
        ),
        (
            json!({"to": "anna@example.org, ben@example.org", "cc": "carla@example.org; dora@example.org", "bcc": "emil@example.org", "subject": "Separated"}),
            "anna@example.org;ben@example.org",
            Some("carla@example.org;dora@example.org"),
            Some("emil@example.org"),
        ),
        (
            json!({"to": ["anna@example.org", "ben@example.org"], "cc": ["carla@example.org"], "subject": "A list"}),
            "anna@example.org;ben@example.org",
            Some("carla@example.org"),
            None,
        ),
    ] {
        let shown = arguments.to_string();
        let reply = server.ok("draft_email", arguments).await;
        let id = reply["id"].as_str().expect("the draft's id");
        let email = sandbox.record("Email", id).expect("the stored draft");
        assert_eq!(email["status"], "Draft", "{shown}");
        assert_eq!(email["to"], to, "{shown}");
        assert_eq!(email.get("cc").and_then(Value::as_str), cc, "{shown}");
        assert_eq!(email.get("bcc").and_then(Value::as_str), bcc, "{shown}");
        let listed: Vec<&str> = to.split(';').collect();
        assert_eq!(reply["to"], json!(listed), "{shown}");
    }
    assert_eq!(sandbox.stats().count("POST Email"), 3);

    // A bad address in any form names `to`; nothing is stored.
    for to in [
        json!("not an address"),
        json!("ok@example.org, broken@"),
        json!(["ok@example.org", "not an address"]),
    ] {
        let result = assert_no_upstream_request(&sandbox, "a bad address", || {
            server.call("draft_email", json!({"to": to, "subject": "x"}))
        })
        .await;
        let error = error_of(&result, "a bad address");
        assert_eq!(error["code"], "INVALID_FIELD_VALUE", "{error:?}");
        assert_eq!(error["details"]["field"], "to", "{error:?}");
    }
    // Neither a string nor a list: the argument is named.
    let result = server.call("draft_email", json!({"to": 42})).await;
    let error = error_of(&result, "a number");
    assert_eq!(error["code"], "INVALID_ARGUMENT", "{error:?}");
    assert!(
        text_of(&result).contains("an email address, several separated by commas"),
        "{error:?}"
    );
    assert_eq!(sandbox.stats().count("POST Email"), 3);
    server.stop().await;
}

/// Recipients are held to the one email rule (`rules::email`). Its own check took these before:
/// anything with a non-empty part before the last `@` and a dot inside the domain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draft_email_holds_recipients_to_the_email_rule() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Legacy).await;
    for to in [
        "anna@b@example.org",
        "anna@example.c",
        "anna@example..org",
        "anna@[192.168.0.1]",
        ".anna@example.org",
        "jörg@example.org",
        "\"anna\"@example.org",
    ] {
        let result = server
            .call("draft_email", json!({"to": to, "subject": "x"}))
            .await;
        let error = error_of(&result, to);
        assert_eq!(error["code"], "INVALID_FIELD_VALUE", "{to}: {error:?}");
        assert_eq!(error["details"]["field"], "to", "{to}: {error:?}");
    }
    assert_eq!(sandbox.stats().count("POST Email"), 0, "nothing is stored");
    server.stop().await;
}
