//! A broken or hostile upstream (issue #15, §3 and §5): the API key and the HTTP token echoed
//! back by EspoCRM or a proxy never reach a tool result or a log line; an answer over the size
//! cap is refused while it streams in; an answer of the wrong shape is `UPSTREAM_ERROR`, never an
//! empty success. The sandbox plays the upstream with injected answers (`InjectedAnswer`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use espocrm_sandbox::{FaultConfig, InjectedAnswer, Sandbox};
use rmcp::model::CallToolResult;
use serde_json::{Value, json};

use crate::common::{Direct, Server, error_of, sandbox, success_of, text_of};

/// A token with characters that percent-encoding changes, so its encoded echo is a new string.
const HTTP_TOKEN: &str = "tok/en+with=special&chars~0123456789";

fn inject(sandbox: &Sandbox, answers: Vec<InjectedAnswer>) {
    sandbox.set_faults(FaultConfig {
        answers,
        ..FaultConfig::default()
    });
}

/// The whole result as the client got it: content and structured content.
fn shown(result: &CallToolResult) -> String {
    format!(
        "{} {}",
        text_of(result),
        serde_json::to_string(result).expect("a result serialises")
    )
}

/// Every form of `secret` a careless server could pass on: as is, percent-encoded, and as the
/// base64 of `user:secret` (HTTP Basic).
fn forms(secret: &str) -> Vec<String> {
    let encoded: String = secret
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect();
    vec![
        secret.to_owned(),
        encoded,
        STANDARD.encode(format!("api:{secret}")),
    ]
}

fn assert_hidden(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        for form in forms(secret) {
            assert!(!text.contains(&form), "{what} shows {form:?}: {text}");
        }
    }
}

/// §3: the key and the token, echoed in `X-Status-Reason`, in error bodies, in a 409's
/// duplicates and in record fields (a record that really holds the key, and an injected one),
/// in every form, never appear in a result or in the trace logs; the server keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_echoed_by_upstream_never_reach_results_or_logs() {
    let sandbox = sandbox().await;
    let key = sandbox.agent_api_key.clone();
    let secrets = [key.as_str(), HTTP_TOKEN];
    let server = Server::builder(&sandbox)
        .env("LOGGING_LEVEL", "trace")
        .env("SERVER_HTTP_TOKEN", HTTP_TOKEN)
        .start()
        .await;

    // A record that really holds the key: it reaches EspoCRM as written, and comes back masked.
    let echo_all: String = forms(&key)
        .into_iter()
        .chain(forms(HTTP_TOKEN))
        .collect::<Vec<_>>()
        .join(" | ");
    let id = Direct::new(&sandbox)
        .create(
            "Account",
            json!({"name": format!("Leak {key}"), "description": echo_all}),
        )
        .await;
    let stored = Direct::new(&sandbox)
        .get(&format!("Account/{id}"), &[])
        .await;
    assert_eq!(
        stored["name"],
        format!("Leak {key}"),
        "the sandbox keeps it"
    );
    let result = server
        .call("get", json!({"entityType": "Account", "id": id}))
        .await;
    let record = success_of(&result, "get of a record holding the key");
    assert_eq!(record["name"], "Leak [redacted]");
    assert_hidden("get", &shown(&result), &secrets);
    let result = server
        .call(
            "search",
            json!({"entityType": "Account", "where": [{"field": "id", "type": "equals", "value": id}],
                   "select": ["name", "description"]}),
        )
        .await;
    let page = success_of(&result, "search for the record holding the key");
    assert_eq!(page["list"][0]["name"], "Leak [redacted]", "{page}");
    assert_hidden("search", &shown(&result), &secrets);

    // Injected: a proxy's 403, a 500 with a JSON error body, a 404, a 409 of duplicates, and a
    // record whose fields and keys hold every form of both secrets.
    let reason = format!("denied for X-Api-Key {key} (Bearer {HTTP_TOKEN})");
    let error_body = json!({"message": echo_all, "messageTranslation": {"label": echo_all}});
    let cases: Vec<(&str, InjectedAnswer, &str, Value)> = vec![
        (
            "403 reason",
            InjectedAnswer::new("GET Account/{id}", 403, error_body.to_string())
                .with_header("X-Status-Reason", &reason),
            "get",
            json!({"entityType": "Account", "id": id}),
        ),
        (
            "500 body and reason",
            InjectedAnswer::new("GET Account/{id}", 500, error_body.to_string())
                .with_header("X-Status-Reason", &echo_all),
            "get",
            json!({"entityType": "Account", "id": id}),
        ),
        (
            "404 reason",
            InjectedAnswer::new("GET Account", 404, "").with_header("X-Status-Reason", &reason),
            "search",
            json!({"entityType": "Account"}),
        ),
        (
            "409 duplicates",
            InjectedAnswer::new(
                "POST Account",
                409,
                json!([{"id": key, "name": format!("Acme {key}")},
                       {"id": "b1", "name": echo_all}])
                .to_string(),
            )
            .with_header("X-Status-Reason", &reason),
            "create",
            json!({"entityType": "Account", "data": {"name": "Acme"}}),
        ),
        (
            "record fields",
            InjectedAnswer::new(
                "GET Account/{id}",
                200,
                json!({"id": id, "name": echo_all, key.clone(): "x",
                       "nested": {"list": [echo_all]}})
                .to_string(),
            )
            .with_header("X-Status-Reason", &reason),
            "get",
            json!({"entityType": "Account", "id": id}),
        ),
    ];
    for (name, answer, tool, arguments) in cases {
        inject(&sandbox, vec![answer]);
        let result = server.call(tool, arguments).await;
        let text = shown(&result);
        assert_hidden(name, &text, &secrets);
        assert!(
            text.contains("[redacted]"),
            "{name}: nothing masked: {text}"
        );
        if result.is_error == Some(true) {
            error_of(&result, name);
        }
    }
    inject(&sandbox, Vec::new());
    server.assert_still_serving().await;

    let logs = server.stop().await;
    assert!(
        logs.contains("from EspoCRM") && logs.contains("request failed"),
        "the trace logs were not written: {logs}"
    );
    assert_hidden("the logs", &logs, &secrets);
}

/// §5: with a cap of 1 MiB, a 40 MiB answer streamed in chunks (valid JSON, which a reader
/// without the cap would accept) is UPSTREAM_ERROR naming the cap and the setting; the sandbox
/// handed over far less than the whole; a declared-length answer over the cap fails the same
/// way; the server keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_over_the_size_cap_is_refused_while_it_streams() {
    const MIB: u64 = 1024 * 1024;
    let sandbox = sandbox().await;
    let server = Server::builder(&sandbox)
        .env("ESPOCRM_MAX_RESPONSE_MIB", 1)
        .start()
        .await;
    server.assert_still_serving().await;

    let mut huge = InjectedAnswer::new("GET Account", 200, r#"{"total":0,"list":[]}"#);
    huge.streamed_bytes = Some(40 * MIB);
    inject(&sandbox, vec![huge]);
    sandbox.reset_stats();
    let error = server
        .err_code("search", json!({"entityType": "Account"}), "UPSTREAM_ERROR")
        .await;
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("1 MiB") && message.contains("ESPOCRM_MAX_RESPONSE_MIB"),
        "{error:?}"
    );
    assert_eq!(error["retryable"], false, "{error:?}");
    let stats = sandbox.stats();
    assert_eq!(stats.count("GET Account"), 1, "not retried: {stats:?}");
    assert!(
        stats.streamed_bytes < 20 * MIB,
        "espomcp read on: {} bytes were handed over",
        stats.streamed_bytes
    );

    // A body with a Content-Length over the cap.
    let padded = format!(r#"{{"total":0,"list":[]}}{}"#, " ".repeat(2 * MIB as usize));
    inject(
        &sandbox,
        vec![InjectedAnswer::new("GET Account", 200, padded)],
    );
    server
        .err_code("search", json!({"entityType": "Account"}), "UPSTREAM_ERROR")
        .await;

    inject(&sandbox, Vec::new());
    server.assert_still_serving().await;
}

/// §5: `get` answered with `null`, `[1,2]`, `"x"`, blanks or an object without an id, a list
/// answered with `{"list": "x"}`, `{"foo": 1}` or a list of non-records, a write answered with
/// something other than the record, and metadata of the wrong shape are each UPSTREAM_ERROR,
/// never an empty success; each was one request (no retry).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_of_the_wrong_shape_are_upstream_errors() {
    let sandbox = sandbox().await;
    let server = Server::builder(&sandbox).start().await;
    server.assert_still_serving().await;
    let account = Direct::new(&sandbox).all("Account").await[0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let get = json!({"entityType": "Account", "id": account});
    let search = json!({"entityType": "Account"});
    let related = json!({"entityType": "Account", "id": account, "link": "contacts"});
    let create = json!({"entityType": "Account", "data": {"name": "Shape test"}});
    let cases: Vec<(&str, &str, &str, &Value, &str)> = vec![
        ("GET Account/{id}", "null", "get", &get, "not a record"),
        ("GET Account/{id}", "[1,2]", "get", &get, "not a record"),
        ("GET Account/{id}", "\"x\"", "get", &get, "not a record"),
        ("GET Account/{id}", "", "get", &get, "not a record"),
        ("GET Account/{id}", "  \n ", "get", &get, "not a record"),
        ("GET Account/{id}", "{}", "get", &get, "not a record"),
        (
            "GET Account",
            r#"{"list":"x","total":1}"#,
            "search",
            &search,
            "not a list",
        ),
        (
            "GET Account",
            r#"{"foo":1}"#,
            "search",
            &search,
            "not a list",
        ),
        (
            "GET Account",
            r#"{"total":3}"#,
            "search",
            &search,
            "not a list",
        ),
        (
            "GET Account",
            r#"{"total":1,"list":[1]}"#,
            "search",
            &search,
            "not a list",
        ),
        ("GET Account", "null", "search", &search, "not a list"),
        (
            "GET Account/{id}/contacts",
            r#"{"foo":1}"#,
            "get_related",
            &related,
            "not a list",
        ),
        ("POST Account", "true", "create", &create, "not a record"),
    ];
    for (route, body, tool, arguments, expected) in cases {
        inject(&sandbox, vec![InjectedAnswer::new(route, 200, body)]);
        sandbox.reset_stats();
        let result = server.call(tool, arguments.clone()).await;
        let error = error_of(&result, &format!("{tool} answered {body:?}"));
        assert_eq!(
            error["code"], "UPSTREAM_ERROR",
            "{tool} {body:?}: {error:?}"
        );
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{tool} {body:?}: {message}");
        assert_eq!(
            sandbox.stats().count(route),
            1,
            "{tool} {body:?}: one request, no retry"
        );
    }
    inject(&sandbox, Vec::new());
    server.assert_still_serving().await;

    // Metadata of the wrong shape: the schema cannot be made, so no tool pretends it can.
    let fresh = Server::builder(&sandbox).start().await;
    inject(
        &sandbox,
        vec![InjectedAnswer::new("GET Metadata", 200, "[1,2]")],
    );
    fresh
        .err_code("list_entity_types", json!({}), "UPSTREAM_ERROR")
        .await;
    inject(&sandbox, Vec::new());
}

/// §3 for `espomcp seed`: the administrator's password, echoed by upstream in a reason as
/// written and inside the Basic pair, does not reach seed's error message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_never_shows_the_admin_password_echoed_by_upstream() {
    let sandbox = crate::common::empty_sandbox().await;
    let password = sandbox.admin_password.clone();
    let basic = STANDARD.encode(format!("{}:{password}", sandbox.admin_user));
    inject(
        &sandbox,
        vec![InjectedAnswer::new("GET Settings", 500, "").with_header(
            "X-Status-Reason",
            format!("login {password} failed (Authorization: Basic {basic})"),
        )],
    );
    let run = crate::seed::run_seed(&sandbox, &[]).await;
    assert_ne!(run.code, Some(0), "seed should fail: {}", run.stderr);
    let shown = format!("{}\n{}", run.stdout, run.stderr);
    assert!(shown.contains("[redacted]"), "{shown}");
    assert_hidden("seed's output", &shown, &[password.as_str()]);
    assert!(!shown.contains(&basic[4..]), "{shown}");
}
