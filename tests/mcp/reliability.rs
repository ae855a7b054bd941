//! Reliability (issue #6): upstream failures under load, the sandbox going away and coming back,
//! a thousand mixed calls on one connection, the client closing stdin, and malformed input on
//! stdin. No test bounds how fast anything happens; waits are polled against generous deadlines
//! that only guard against hangs.

use std::process::Stdio;
use std::time::{Duration, Instant};

use espocrm_sandbox::{FaultConfig, FaultScope, Sandbox, SandboxConfig};
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::task::JoinSet;

use crate::common::{
    Direct, PATIENCE, Server, command, error_of, fast_forward, sandbox, success_of,
};

fn params(tool: &str, arguments: Value) -> CallToolRequestParams {
    CallToolRequestParams::new(tool.to_owned())
        .with_arguments(arguments.as_object().expect("an object").clone())
}

async fn first_account_ids(sandbox: &Sandbox, n: usize) -> Vec<String> {
    let ids: Vec<String> = Direct::new(sandbox)
        .all("Account")
        .await
        .iter()
        .take(n)
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), n);
    ids
}

// ------------------------------------------------------------------------------------------
// 1. A share of 500s on reads, dropped connections on writes
// ------------------------------------------------------------------------------------------

/// 30 % of reads answer 500: every read either succeeds or is a final, non-retryable
/// UPSTREAM_ERROR (a 500 is not retried, so each call is exactly one GET). 30 % of writes have
/// their connection dropped: a create is sent exactly once, never retried, and the dropped ones
/// come back as tool errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_under_500s_and_writes_under_drops_are_answered_and_never_resent() {
    let sandbox = sandbox().await;
    let ids = first_account_ids(&sandbox, 20).await;
    let server = Server::builder(&sandbox)
        .env("SERVER_RATE_LIMIT_REQUESTS_PER_SECOND", 0)
        .start()
        .await;
    // Metadata is fetched before the faults are on, so every later GET is a `get` call's own.
    server.ok("list_entity_types", json!({})).await;
    server
        .ok("get", json!({"entityType": "Account", "id": ids[0]}))
        .await;
    sandbox.set_faults(FaultConfig {
        error_rate: 0.3,
        error_scope: FaultScope::Reads,
        drop_rate: 0.3,
        drop_scope: FaultScope::Writes,
        ..FaultConfig::default()
    });
    sandbox.reset_stats();

    let (mut read_ok, mut read_failed) = (0u64, 0u64);
    for id in &ids {
        let result = server
            .call("get", json!({"entityType": "Account", "id": id}))
            .await;
        if result.is_error == Some(true) {
            let error = error_of(&result, "get under 500s");
            assert_eq!(error["code"], "UPSTREAM_ERROR", "{error:?}");
            assert_eq!(error["retryable"], false, "a 500 is final: {error:?}");
            read_failed += 1;
        } else {
            let record = success_of(&result, "get under 500s");
            assert_eq!(record["id"], id.as_str());
            read_ok += 1;
        }
    }
    let stats = sandbox.stats();
    assert_eq!(
        stats.count("GET Account/{id}"),
        ids.len() as u64,
        "a 500 is not retried: one GET per call ({:?})",
        stats.requests_by_route
    );
    // The shares are exact: 6 of the 20 GETs answered 500.
    assert_eq!((read_ok, read_failed), (14, 6));

    sandbox.reset_stats();
    let run = std::process::id();
    let creates = 20u64;
    let (mut created, mut failed) = (0u64, 0u64);
    for i in 0..creates {
        let name = format!("Reliability {run} {i}");
        let result = server
            .call(
                "create",
                json!({"entityType": "Account", "data": {"name": name}}),
            )
            .await;
        let stored = sandbox.find("Account", "name", &json!(name));
        if result.is_error == Some(true) {
            let error = error_of(&result, "create under drops");
            assert_eq!(error["code"], "UPSTREAM_ERROR", "{error:?}");
            // The answer was lost, not the request: the agent must check before repeating it.
            assert_eq!(
                error["retryable"], false,
                "a lost write is not blindly retryable: {error:?}"
            );
            assert!(
                error["suggestion"]
                    .as_str()
                    .unwrap_or("")
                    .contains("check the record first"),
                "{error:?}"
            );
            assert!(stored.len() <= 1, "{name} stored {} times", stored.len());
            failed += 1;
        } else {
            success_of(&result, "create under drops");
            assert_eq!(stored.len(), 1, "{name} stored {} times", stored.len());
            created += 1;
        }
    }
    let stats = sandbox.stats();
    assert_eq!(
        stats.count("POST Account"),
        creates,
        "each create reached EspoCRM exactly once ({:?})",
        stats.requests_by_route
    );
    assert_eq!((created, failed), (14, 6), "6 of 20 POSTs were dropped");
    sandbox.set_faults(FaultConfig::default());
    server.assert_still_serving().await;
    server.stop().await;
}

// ------------------------------------------------------------------------------------------
// 2. The sandbox stops with calls in flight, then comes back on the same address
// ------------------------------------------------------------------------------------------

/// The longest the paused clock may run ahead in one wait: past the sandbox's latencies and
/// the gateway's retries, short of the PATIENCE guards and the request timeout.
const WINDOW: Duration = Duration::from_secs(5);

/// The sandbox stops while calls are in flight and comes back on the same address: nothing
/// hangs, later calls succeed, and no slot of the in-flight budget (2) leaked. In process, on
/// tokio's clock: the sandbox's slow answers and the gateway's retries pass without waiting for
/// them (each wait in a window shorter than the PATIENCE guards and the request timeout).
#[tokio::test]
async fn a_stopped_then_restarted_upstream_leaves_no_hang_and_no_leaked_slot() {
    let first = sandbox().await;
    let addr = first.addr.to_string();
    let (agent_key, limited_key) = (first.agent_api_key.clone(), first.limited_api_key.clone());
    let ids = first_account_ids(&first, 4).await;
    let server = Server::builder(&first)
        .env("SERVER_RATE_LIMIT_MAX_CONCURRENT", 2)
        .env("SERVER_RATE_LIMIT_REQUESTS_PER_SECOND", 0)
        .start_in_process()
        .await;
    server.ok("list_entity_types", json!({})).await;
    server
        .ok("get", json!({"entityType": "Account", "id": ids[0]}))
        .await;

    first.set_faults(FaultConfig {
        latency_ms: 500,
        ..FaultConfig::default()
    });
    first.reset_stats();
    let mut in_flight = JoinSet::new();
    for id in &ids {
        let peer = server.client.peer().clone();
        let p = params("get", json!({"entityType": "Account", "id": id}));
        in_flight.spawn(async move { tokio::time::timeout(PATIENCE, peer.call_tool(p)).await });
    }
    // Stop once the first requests have arrived (both slots taken; the count only grows, so a
    // slow poll cannot miss it). The deadline is on tokio's clock, which the window moves.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    fast_forward(WINDOW, async {
        while first.stats().count("GET Account/{id}") < 2 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the calls never reached the sandbox"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    fast_forward(WINDOW, tokio::time::timeout(PATIENCE, first.stop()))
        .await
        .expect("the sandbox stops");

    // Every call in flight ends, with a result or a tool error, never a hang. `Sandbox::stop` is
    // a graceful shutdown (axum waits for requests already being served), so the 2 requests in
    // the sandbox were answered and the 2 still queued in the gateway met a closed port
    // (connection refused, retried, then a retryable UPSTREAM_ERROR); both outcomes are allowed.
    let (mut ok, mut failed) = (0, 0);
    while let Some(joined) = fast_forward(WINDOW, in_flight.join_next()).await {
        let result = joined
            .expect("the task ran")
            .expect("an in-flight call ended within the guard")
            .expect("no protocol error");
        if result.is_error == Some(true) {
            let error = error_of(&result, "get while the upstream stops");
            assert!(
                ["UPSTREAM_ERROR", "UPSTREAM_TIMEOUT"].contains(&error["code"].as_str().unwrap()),
                "{error:?}"
            );
            failed += 1;
        } else {
            success_of(&result, "get while the upstream stops");
            ok += 1;
        }
    }
    eprintln!("in flight when the sandbox stopped: {ok} answered, {failed} failed");

    // While it is down: an error, not a hang.
    let result = fast_forward(
        WINDOW,
        server.call("get", json!({"entityType": "Account", "id": ids[1]})),
    )
    .await;
    let error = error_of(&result, "get while the upstream is down");
    assert_eq!(error["code"], "UPSTREAM_ERROR", "{error:?}");

    // Back on the same address with the same keys (and the same seed, so the same data).
    let second = Sandbox::start_with(
        SandboxConfig {
            agent_api_key: Some(agent_key),
            limited_api_key: Some(limited_key),
            ..SandboxConfig::default()
        },
        &addr,
    )
    .await
    .expect("the sandbox restarts on the same address");
    let record = server
        .ok("get", json!({"entityType": "Account", "id": ids[1]}))
        .await;
    assert_eq!(record["id"], ids[1].as_str());
    server.assert_still_serving().await;

    // No slot leaked: with a budget of 2, four slow calls still get 2 in flight at once.
    second.set_faults(FaultConfig {
        latency_ms: 2000,
        ..FaultConfig::default()
    });
    second.reset_stats();
    let mut calls = JoinSet::new();
    for id in &ids {
        let peer = server.client.peer().clone();
        let p = params("get", json!({"entityType": "Account", "id": id}));
        calls.spawn(async move { tokio::time::timeout(PATIENCE, peer.call_tool(p)).await });
    }
    while let Some(joined) = fast_forward(WINDOW, calls.join_next()).await {
        let result = joined
            .expect("the task ran")
            .expect("answered within the guard")
            .expect("no protocol error");
        success_of(&result, "get after the restart");
    }
    let stats = second.stats();
    assert_eq!(stats.count("GET Account/{id}"), 4);
    assert_eq!(
        stats.peak_in_flight, 2,
        "both slots of the budget are free again"
    );
    server.stop().await;
}

// ------------------------------------------------------------------------------------------
// 3. A thousand mixed calls from 32 tasks on one connection
// ------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_mixed_calls_from_32_tasks_are_all_answered_within_the_limits() {
    let sandbox = sandbox().await;
    let ids = first_account_ids(&sandbox, 10).await;
    let server = Server::builder(&sandbox)
        .env("SERVER_RATE_LIMIT_MAX_CONCURRENT", 4)
        .env("SERVER_RATE_LIMIT_REQUESTS_PER_SECOND", 200)
        .env("SERVER_RATE_LIMIT_BURST", 20)
        .start()
        .await;
    sandbox.reset_stats();

    const CALLS: usize = 1000;
    const TASKS: usize = 32;
    let mut tasks = JoinSet::new();
    for t in 0..TASKS {
        let peer = server.client.peer().clone();
        let ids = ids.clone();
        tasks.spawn(async move {
            let mut tally = [0usize; 3]; // ok, tool error, unknown tool refused
            for n in (t..CALLS).step_by(TASKS) {
                let id = &ids[n % ids.len()];
                let (tool, arguments) = match n % 10 {
                    0 | 1 => ("search", json!({"entityType": "Account", "limit": 5})),
                    2 | 3 => ("get", json!({"entityType": "Account", "id": id})),
                    4 => ("get_schema", json!({"entityType": "Contact"})),
                    5 => (
                        "get_related",
                        json!({"entityType": "Account", "id": id, "link": "contacts"}),
                    ),
                    6 => ("list_entity_types", json!({})),
                    7 => ("search", json!({"entityType": "NoSuchType"})),
                    8 => ("get", json!({"entityType": "Account", "id": 12})),
                    _ => ("no_such_tool", json!({})),
                };
                let answer =
                    tokio::time::timeout(PATIENCE, peer.call_tool(params(tool, arguments)))
                        .await
                        .unwrap_or_else(|_| panic!("call {n} ({tool}) not answered"));
                match answer {
                    Ok(result) if result.is_error == Some(true) => {
                        assert!(
                            matches!(n % 10, 7 | 8),
                            "call {n} ({tool}) failed: {result:?}"
                        );
                        error_of(&result, tool);
                        tally[1] += 1;
                    }
                    Ok(result) => {
                        assert!(n % 10 <= 6, "call {n} ({tool}) succeeded: {result:?}");
                        success_of(&result, tool);
                        tally[0] += 1;
                    }
                    Err(e) => {
                        assert_eq!(n % 10, 9, "call {n} ({tool}): protocol error {e}");
                        tally[2] += 1;
                    }
                }
            }
            tally
        });
    }
    let mut tally = [0usize; 3];
    while let Some(joined) = tasks.join_next().await {
        let t = joined.expect("no task panicked");
        for i in 0..3 {
            tally[i] += t[i];
        }
    }
    assert_eq!(tally, [700, 200, 100], "ok, tool errors, unknown tools");
    server.assert_still_serving().await;

    let stats = sandbox.stats();
    assert!(
        stats.peak_in_flight <= 4,
        "{} in flight",
        stats.peak_in_flight
    );
    // The limiter releases at most burst + rate × 1 s in any second. Arrivals can lag releases,
    // but a released request holds one of the 4 slots until it is answered, so at most 4
    // released earlier can arrive inside a window; +1 for the sandbox's whole-millisecond clock.
    let window = stats.max_in_window(1000);
    eprintln!(
        "peak in flight {}, at most {window} requests within 1 s, {} in all",
        stats.peak_in_flight, stats.requests_total
    );
    assert!(window <= 20 + 200 + 4 + 1, "{window} requests within 1 s");
    server.stop().await;
}

// ------------------------------------------------------------------------------------------
// The raw process: stdin closed, malformed input
// ------------------------------------------------------------------------------------------

/// The binary spawned raw, speaking newline-delimited JSON-RPC by hand (also used by
/// `framing`).
pub(crate) struct Raw {
    child: tokio::process::Child,
    pub(crate) stdin: Option<tokio::process::ChildStdin>,
    stdout: BufReader<tokio::process::ChildStdout>,
    /// Messages read while waiting for another id (notifications, stray errors).
    pub(crate) skipped: Vec<Value>,
}

impl Raw {
    pub(crate) fn spawn(
        sandbox: &Sandbox,
        home: &std::path::Path,
        log_file: &std::path::Path,
    ) -> Raw {
        let mut child = command(home)
            .env("ESPOCRM_URL", &sandbox.url)
            .env("ESPOCRM_API_KEY", &sandbox.agent_api_key)
            .env("LOGGING_LEVEL", "debug")
            .env("LOGGING_FILE", log_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("espomcp spawns");
        Raw {
            stdin: child.stdin.take(),
            stdout: BufReader::new(child.stdout.take().unwrap()),
            child,
            skipped: Vec::new(),
        }
    }

    pub(crate) async fn send_line(&mut self, line: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        tokio::time::timeout(PATIENCE, async {
            stdin.write_all(line).await?;
            stdin.write_all(b"\n").await?;
            stdin.flush().await
        })
        .await
        .expect("the server reads its stdin")
        .expect("stdin accepts the line");
    }

    pub(crate) async fn send(&mut self, message: Value) {
        self.send_line(message.to_string().as_bytes()).await;
    }

    /// The next message with `id`, skipping notifications; `None` when stdout closes.
    pub(crate) async fn response(&mut self, id: i64) -> Option<Value> {
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(PATIENCE, self.stdout.read_line(&mut line))
                .await
                .unwrap_or_else(|_| panic!("no answer to request {id} within {PATIENCE:?}"))
                .expect("stdout reads");
            if n == 0 {
                return None;
            }
            let message: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout carries a non-JSON line ({e}): {line}"));
            if message["id"] == json!(id) {
                return Some(message);
            }
            self.skipped.push(message);
        }
    }

    pub(crate) async fn initialize(&mut self) {
        self.send(json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "reliability", "version": "0.0.0"}
            }
        }))
        .await;
        let reply = self.response(1).await.expect("an initialize reply");
        assert!(reply["result"]["serverInfo"].is_object(), "{reply}");
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
    }

    /// A `tools/list` with `id`; its reply, or `None` when stdout closed.
    pub(crate) async fn probe(&mut self, id: i64, what: &str) -> Option<Value> {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"}))
            .await;
        let reply = self.response(id).await;
        eprintln!(
            "after {what}: {}",
            reply
                .as_ref()
                .map(|r| r.to_string().chars().take(200).collect::<String>())
                .unwrap_or_default()
        );
        reply
    }

    /// Waits for the process to exit, with PATIENCE as the hang guard.
    pub(crate) async fn exit(&mut self) -> std::process::ExitStatus {
        tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("espomcp did not exit")
            .expect("wait")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_stdin_ends_the_process_cleanly_with_its_log_flushed() {
    let sandbox = sandbox().await;
    let home = tempfile::TempDir::new().unwrap();
    let log_file = home.path().join("espomcp.log");
    let mut raw = Raw::spawn(&sandbox, home.path(), &log_file);
    raw.initialize().await;
    raw.send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        .await;
    assert!(raw.response(2).await.expect("tools/list")["result"]["tools"].is_array());

    let closed = Instant::now();
    drop(raw.stdin.take());
    let status = raw.exit().await;
    eprintln!("exited {:?} after stdin closed", closed.elapsed());
    assert!(status.success(), "{status:?}");
    let log = std::fs::read_to_string(&log_file).expect("the log file exists");
    assert!(!log.trim().is_empty(), "the log file is empty");
}

/// Malformed lines all get an answer (espomcp's own framing, `framing.rs`; each kind has its
/// test in `framing`): a line that is not JSON `-32700`, JSON that is not a JSON-RPC message
/// `-32600` with the request's id when it can be read (`"id": null` otherwise), a blank line
/// nothing; a 10 MB line is read whole and answered; an unknown method gets `-32601`;
/// `tools/call` with params of the wrong type `-32602`. After all of it the server still
/// answers, and exits cleanly when stdin closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_on_stdin_gets_errors_and_the_server_keeps_serving() {
    let sandbox = sandbox().await;
    let home = tempfile::TempDir::new().unwrap();
    let log_file = home.path().join("espomcp.log");
    let mut raw = Raw::spawn(&sandbox, home.path(), &log_file);
    raw.initialize().await;
    let mut probe_id = 100;

    // Not JSON: -32700, with the id when it comes before the fault; a blank line is skipped.
    for (line, answers) in [
        (&b"{this is not json"[..], vec![Value::Null]),
        (
            br#"{"jsonrpc": "2.0", "id": 3, "method": "tools/list""#,
            vec![json!(3)],
        ),
        (b"", vec![]),
    ] {
        raw.send_line(line).await;
        probe_id += 1;
        let reply = raw.probe(probe_id, "a non-JSON line").await;
        let shown = String::from_utf8_lossy(line);
        assert!(reply.is_some(), "stdout closed after {shown:?}");
        let strays = std::mem::take(&mut raw.skipped);
        assert_eq!(strays.len(), answers.len(), "after {shown:?}: {strays:?}");
        for (stray, id) in strays.iter().zip(answers) {
            assert_eq!(stray["error"]["code"], -32700, "after {shown:?}");
            assert_eq!(stray.get("id"), Some(&id), "after {shown:?}: {strays:?}");
        }
    }

    // JSON but not JSON-RPC: -32600, with the id when it can be read.
    for (line, id) in [
        (
            &br#"{"jsonrpc": "2.0", "id": 9, "method": 42}"#[..],
            json!(9),
        ),
        (b"null", Value::Null),
        (b"[1, 2]", Value::Null),
    ] {
        raw.send_line(line).await;
        probe_id += 1;
        let reply = raw.probe(probe_id, "an invalid request").await;
        let shown = String::from_utf8_lossy(line);
        assert!(reply.is_some(), "stdout closed after {shown:?}");
        let strays = std::mem::take(&mut raw.skipped);
        assert_eq!(strays.len(), 1, "after {shown:?}: {strays:?}");
        assert_eq!(strays[0]["error"]["code"], -32600, "after {shown:?}");
        assert_eq!(
            strays[0].get("id"),
            Some(&id),
            "after {shown:?}: {strays:?}"
        );
    }

    // A 10 MB request is read whole and answered (here: a tool error about the name).
    let mut big = br#"{"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "search", "arguments": {"entityType": ""#.to_vec();
    big.extend(std::iter::repeat_n(b'A', 10 * 1024 * 1024));
    big.extend_from_slice(br#""}}}"#);
    raw.send_line(&big).await;
    let reply = raw.response(4).await.expect("an answer to the 10 MB line");
    assert_eq!(
        reply["result"]["isError"],
        true,
        "{}",
        &reply.to_string()[..300]
    );
    assert!(reply["result"].get("structuredContent").is_none());
    let error: Value = serde_json::from_str(
        reply["result"]["content"][0]["text"]
            .as_str()
            .expect("a text block"),
    )
    .expect("the error text is JSON");
    assert_eq!(error["error"]["code"], "INVALID_ENTITY_TYPE");

    raw.send(json!({"jsonrpc": "2.0", "id": 5, "method": "no/such/method"}))
        .await;
    let reply = raw.response(5).await.expect("an answer");
    assert_eq!(reply["error"]["code"], -32601, "{reply}");

    for (id, params) in [
        (6, json!({"name": "search", "arguments": 5})),
        (7, json!({"name": 7})),
    ] {
        raw.send(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params}))
            .await;
        let reply = raw.response(id).await.expect("an answer");
        assert!(reply.get("result").is_none(), "{reply}");
        assert_eq!(reply["error"]["code"], -32602, "{reply}");
    }

    raw.send(json!({"jsonrpc": "2.0", "id": 8, "method": "tools/call",
        "params": {"name": "list_entity_types", "arguments": {}}}))
        .await;
    let reply = raw.response(8).await.expect("an answer");
    assert_eq!(reply["result"]["isError"], false, "{reply}");
    let types = reply["result"]["structuredContent"]["entityTypes"]
        .as_array()
        .expect("entity types");
    assert!(types.iter().any(|t| t["name"] == "Account"), "{reply}");
    assert_eq!(raw.skipped, Vec::<Value>::new());

    drop(raw.stdin.take());
    let status = raw.exit().await;
    assert!(status.success(), "{status:?}");
}
