//! Every bad input gets an answer (issue #15, section 4), and the server keeps serving: over
//! stdio, raw lines written to the real binary (not JSON, invalid UTF-8, nesting past 128,
//! `NaN`/`Infinity`/`1e400`, a line over the maximum length, JSON that is not a message, a
//! served method with params that do not fit); over HTTP, the same bodies posted with reqwest,
//! behind the token and rmcp's Host/Origin checks; and a tool argument of the wrong type named
//! in the tool error.

use rmcp::model::{ClientRequest, CustomRequest};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

use crate::common::{Era, Server, assert_no_upstream_request, connect, sandbox};
use crate::http::{HttpServer, TOKEN};
use crate::reliability::Raw;

/// The stdio line limit (`framing::MAX_LINE_BYTES`).
const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// An initialised raw server, with the sandbox it talks to (kept alive with it).
async fn raw_server() -> (Raw, espocrm_sandbox::Sandbox, tempfile::TempDir) {
    let sandbox = sandbox().await;
    let home = tempfile::TempDir::new().expect("a home");
    let log_file = home.path().join("espomcp.log");
    let mut raw = Raw::spawn(&sandbox, home.path(), &log_file);
    raw.initialize().await;
    (raw, sandbox, home)
}

/// Sends `line`, then a `tools/list` with `probe_id`: the answer to the line comes first (it
/// is written before the next line is read), and the probe's answer shows the server still
/// serving. Returns the answer to the line.
async fn answer_to(raw: &mut Raw, line: &[u8], probe_id: i64) -> Value {
    raw.send_line(line).await;
    let shown: String = String::from_utf8_lossy(line).chars().take(120).collect();
    let probe = raw
        .probe(probe_id, &shown)
        .await
        .unwrap_or_else(|| panic!("stdout closed after {shown:?}"));
    assert!(
        probe["result"]["tools"].is_array(),
        "after {shown:?}: {probe}"
    );
    let answers = std::mem::take(&mut raw.skipped);
    assert_eq!(answers.len(), 1, "one answer to {shown:?}: {answers:?}");
    let answer = answers.into_iter().next().expect("one");
    assert_eq!(answer["jsonrpc"], "2.0", "{answer}");
    assert!(answer.get("result").is_none(), "{answer}");
    answer
}

/// Asserts the JSON-RPC error `code` and `id` (`null` included: the member must be there).
fn assert_error(answer: &Value, code: i64, id: Value, what: &str) {
    assert_eq!(answer["error"]["code"], code, "{what}: {answer}");
    assert_eq!(answer.get("id"), Some(&id), "{what}: {answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{what}: {answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_that_is_not_json_gets_a_parse_error() {
    let (mut raw, _sandbox, _home) = raw_server().await;
    let answer = answer_to(&mut raw, b"{this is not json", 101).await;
    assert_error(&answer, -32700, Value::Null, "not JSON");
    // Cut short after its id: the id is read, so the client's request is answered.
    let answer = answer_to(
        &mut raw,
        br#"{"jsonrpc": "2.0", "id": 3, "method": "tools/list""#,
        102,
    )
    .await;
    assert_error(&answer, -32700, json!(3), "a truncated request");
    // A blank line is not a message: nothing to answer, and the next request is served.
    raw.send_line(b"").await;
    assert!(raw.probe(103, "a blank line").await.is_some());
    assert_eq!(raw.skipped, Vec::<Value>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_gets_a_parse_error() {
    let (mut raw, _sandbox, _home) = raw_server().await;
    let answer = answer_to(&mut raw, b"\xff\xfe{}", 101).await;
    assert_error(&answer, -32700, Value::Null, "bytes that are not UTF-8");
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("UTF-8")),
        "{answer}"
    );
    let answer = answer_to(
        &mut raw,
        b"{\"jsonrpc\":\"2.0\",\"id\":\"u8\",\"method\":\"tools/call\",\"params\":{\"name\":\"search\",\"arguments\":{\"entityType\":\"Acc\xc3\x28ount\"}}}",
        102,
    )
    .await;
    assert_error(&answer, -32700, json!("u8"), "invalid UTF-8 in a string");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nesting_deeper_than_128_gets_a_parse_error() {
    let (mut raw, sandbox, _home) = raw_server().await;
    let deep = |depth: usize| {
        format!(
            r#"{{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{{"name":"search","arguments":{{"entityType":"Account","where":{}{}}}}}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )
    };
    let line = deep(1000);
    let answer = assert_no_upstream_request(&sandbox, "deep nesting", || {
        answer_to(&mut raw, line.as_bytes(), 101)
    })
    .await;
    assert_error(&answer, -32700, json!(5), "nesting 1000 deep");
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("128")),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_finite_numbers_get_a_parse_error() {
    let (mut raw, sandbox, _home) = raw_server().await;
    for (id, number) in [
        (11, "NaN"),
        (12, "Infinity"),
        (13, "-Infinity"),
        (14, "1e400"),
    ] {
        let line = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"search","arguments":{{"entityType":"Account","limit":{number}}}}}}}"#
        );
        let answer = assert_no_upstream_request(&sandbox, number, || {
            answer_to(&mut raw, line.as_bytes(), 100 + id)
        })
        .await;
        assert_error(&answer, -32700, json!(id), number);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_over_the_maximum_length_gets_an_invalid_request() {
    let (mut raw, sandbox, _home) = raw_server().await;
    let mut long = br#"{"jsonrpc":"2.0","id":21,"method":"tools/call","params":{"name":"search","arguments":{"entityType":""#.to_vec();
    long.extend(std::iter::repeat_n(b'A', MAX_LINE_BYTES + 1024));
    long.extend_from_slice(br#""}}}"#);
    let answer = assert_no_upstream_request(&sandbox, "a line too long", || {
        answer_to(&mut raw, &long, 101)
    })
    .await;
    assert_error(&answer, -32600, json!(21), "a line too long");
    assert_eq!(answer["error"]["data"]["limit"], MAX_LINE_BYTES, "{answer}");
    // Just under the limit is read and answered (here: a tool error about the name).
    let mut under = br#"{"jsonrpc":"2.0","id":22,"method":"tools/call","params":{"name":"search","arguments":{"entityType":""#.to_vec();
    under.extend(std::iter::repeat_n(b'A', MAX_LINE_BYTES - 200));
    under.extend_from_slice(br#""}}}"#);
    raw.send_line(&under).await;
    let reply = raw.response(22).await.expect("an answer");
    assert_eq!(
        reply["result"]["isError"],
        true,
        "{}",
        &reply.to_string()[..300]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_that_is_not_a_message_gets_an_invalid_request() {
    let (mut raw, _sandbox, _home) = raw_server().await;
    for (n, (line, id)) in [
        (
            &br#"{"jsonrpc": "2.0", "id": 9, "method": 42}"#[..],
            json!(9),
        ),
        (br#"{"id": 10, "method": "tools/list"}"#, json!(10)),
        (
            br#"{"jsonrpc": "2.0", "id": {"no": 1}, "method": "tools/list"}"#,
            Value::Null,
        ),
        (b"null", Value::Null),
        (b"[1, 2]", Value::Null),
        (
            br#"[{"jsonrpc": "2.0", "id": 11, "method": "tools/list"}]"#,
            Value::Null,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let shown = String::from_utf8_lossy(line).into_owned();
        let answer = answer_to(&mut raw, line, 100 + n as i64).await;
        assert_error(&answer, -32600, id, &shown);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_params_of_a_served_method_get_invalid_params_naming_the_parameter() {
    let (mut raw, sandbox, _home) = raw_server().await;
    for (n, (method, params, parameter)) in [
        (
            "tools/call",
            json!({"name": "search", "arguments": []}),
            "arguments",
        ),
        ("tools/call", json!({"name": 7}), "name"),
        ("prompts/get", json!({"name": 5}), "name"),
        ("resources/read", json!({"uri": null}), "uri"),
        (
            "completion/complete",
            json!({"ref": {"type": "ref/prompt", "name": "find_duplicates"}}),
            "argument",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let id = 30 + n as i64;
        let what =
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string();
        let answer = assert_no_upstream_request(&sandbox, method, || {
            answer_to(&mut raw, what.as_bytes(), 100 + id)
        })
        .await;
        assert_error(&answer, -32602, json!(id), &what);
        assert_eq!(
            answer["error"]["data"]["parameter"], parameter,
            "{what}: {answer}"
        );
        assert_eq!(
            answer["error"]["data"]["method"], method,
            "{what}: {answer}"
        );
        let message = answer["error"]["message"].as_str().expect("a message");
        assert!(
            message.contains(&format!("\"{parameter}\"")),
            "{what}: {message}"
        );
    }
    // A method espomcp does not serve is still "method not found".
    raw.send(json!({"jsonrpc": "2.0", "id": 40, "method": "no/such/method"}))
        .await;
    let reply = raw.response(40).await.expect("an answer");
    assert_eq!(reply["error"]["code"], -32601, "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrongly_typed_tool_argument_is_named() {
    let sandbox = sandbox().await;
    let server = Server::start(&sandbox, Era::Legacy).await;
    server.ok("list_entity_types", json!({})).await;
    for (arguments, argument, says) in [
        (
            json!({"entityType": "Account", "limit": "5"}),
            "limit",
            "expected u32",
        ),
        (json!({"limit": 5}), "entityType", "missing"),
        (
            json!({"entityType": "Account", "bogus": 1}),
            "bogus",
            "expected one of",
        ),
        (
            json!({"entityType": "Account", "select": "name"}),
            "select",
            "expected a list",
        ),
    ] {
        let what = format!("search {arguments}");
        let error = assert_no_upstream_request(&sandbox, &what, || {
            server.err_code("search", arguments.clone(), "INVALID_ARGUMENT")
        })
        .await;
        assert_eq!(error["details"]["argument"], argument, "{what}: {error:?}");
        let message = error["message"].as_str().expect("a message");
        assert!(
            message.contains(&format!("\"{argument}\"")),
            "{what}: {message}"
        );
        assert!(!message.contains("\"search\""), "{what}: {message}");
        assert!(message.contains(says), "{what}: {message}");
    }
    server.assert_still_serving().await;
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Over HTTP
// ---------------------------------------------------------------------------------------------

/// Posts `body` as JSON-RPC with the token and the headers a client sends; `extra` headers
/// replace those of the same name.
async fn post(server: &HttpServer, body: Vec<u8>, extra: &[(&str, &str)]) -> reqwest::Response {
    let bearer = format!("Bearer {TOKEN}");
    let mut headers = vec![
        ("Authorization", bearer.as_str()),
        ("Content-Type", "application/json"),
        ("Accept", "application/json, text/event-stream"),
    ];
    headers.retain(|(name, _)| !extra.iter().any(|(other, _)| other == name));
    let mut request = reqwest::Client::new().post(&server.url).body(body);
    for (name, value) in headers.iter().chain(extra) {
        request = request.header(*name, *value);
    }
    request.send().await.expect("the server answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_over_http_get_the_matching_http_and_json_rpc_errors() {
    let mut server = HttpServer::start(&["--demo"], &[("SERVER_HTTP_TOKEN", TOKEN)]).await;
    let deep = format!(
        r#"{{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{{"name":"search","arguments":{{"where":{}{}}}}}}}"#,
        "[".repeat(1000),
        "]".repeat(1000)
    );
    let mut too_large = br#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"search","arguments":{"entityType":""#.to_vec();
    too_large.extend(std::iter::repeat_n(b'A', 5 * 1024 * 1024));
    too_large.extend_from_slice(br#""}}}"#);
    for (body, status, code, id) in [
        (b"{this is not json".to_vec(), 400, -32700, Value::Null),
        (Vec::new(), 400, -32700, Value::Null),
        (b"\xff\xfe{}".to_vec(), 400, -32700, Value::Null),
        (deep.into_bytes(), 400, -32700, json!(5)),
        (
            br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search","arguments":{"limit":NaN}}}"#.to_vec(),
            400,
            -32700,
            json!(7),
        ),
        (
            br#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"search","arguments":{"limit":1e400}}}"#.to_vec(),
            400,
            -32700,
            json!(8),
        ),
        (br#"{"jsonrpc":"2.0","id":9,"method":42}"#.to_vec(), 400, -32600, json!(9)),
        (b"[1, 2]".to_vec(), 400, -32600, Value::Null),
        (too_large, 413, -32600, Value::Null),
    ] {
        let shown: String = String::from_utf8_lossy(&body).chars().take(80).collect();
        let response = post(&server, body, &[]).await;
        assert_eq!(response.status(), status, "{shown}");
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{shown}"
        );
        let answer: Value = response.json().await.expect("a JSON-RPC error");
        assert_error(&answer, code, id, &shown);
    }

    // A notification is never answered, even one whose params do not fit: 202, no body.
    let notification = post(
        &server,
        br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":[1]}"#.to_vec(),
        &[],
    )
    .await;
    assert_eq!(notification.status(), 202);
    assert_eq!(notification.bytes().await.expect("a body").len(), 0);

    // rmcp's checks of the headers come first and keep their answers.
    let bad = b"{this is not json".to_vec();
    let origin = post(&server, bad.clone(), &[("Origin", "http://evil.example")]).await;
    assert_eq!(origin.status(), 403);
    let host = post(&server, bad.clone(), &[("Host", "evil.example")]).await;
    assert_eq!(host.status(), 403);
    let accept = post(&server, bad.clone(), &[("Accept", "application/json")]).await;
    assert_eq!(accept.status(), 406);
    let unauthenticated = reqwest::Client::new()
        .post(&server.url)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .body(bad)
        .send()
        .await
        .expect("answers");
    assert_eq!(unauthenticated.status(), 401);

    // A served method with params that do not fit, through a real client on both eras: -32602
    // naming the parameter, answered in-band; and the client keeps working.
    for era in [Era::Legacy, Era::Modern] {
        let transport = StreamableHttpClientTransport::from_config(
            StreamableHttpClientTransportConfig::with_uri(server.url.clone()).auth_header(TOKEN),
        );
        let client = connect(transport, era).await;
        for (method, params, parameter) in [
            (
                "tools/call",
                json!({"name": "search", "arguments": []}),
                "arguments",
            ),
            ("resources/read", json!({"uri": null}), "uri"),
        ] {
            let request = ClientRequest::CustomRequest(CustomRequest::new(method, Some(params)));
            let error = client.send_request(request).await.expect_err("refused");
            let rmcp::ServiceError::McpError(error) = error else {
                panic!("{era:?} {method}: not a JSON-RPC error: {error}");
            };
            assert_eq!(error.code.0, -32602, "{era:?} {method}: {error:?}");
            let data = error.data.clone().unwrap_or_default();
            assert_eq!(data["parameter"], parameter, "{era:?} {method}: {error:?}");
        }
        let tools = client.list_all_tools().await.expect("tools/list");
        assert!(!tools.is_empty());
        let _ = client.cancel().await;
    }
    assert_eq!(server.terminate().await.code(), Some(0));
}
