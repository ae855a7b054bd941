//! Logging over stdio: stdout carries the protocol only, the logs (stderr and LOGGING_FILE)
//! never carry the API key even at `trace`, and the server exits and flushes its log file when
//! its stdin closes.
//!
//! The child is spawned with tokio's own `Command` here rather than rmcp's `TokioChildProcess`,
//! so the test owns the process (to see it exit on its own) and can copy every byte of stdout.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{Era, PATIENCE, command, connect, error_of, sandbox, success_of};

/// Copies a pipe into a buffer (and optionally on to a writer) until it closes.
fn tee(
    mut from: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    mut to: Option<tokio::io::DuplexStream>,
) -> (Arc<Mutex<Vec<u8>>>, tokio::task::JoinHandle<()>) {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let sink = buffer.clone();
    let task = tokio::spawn(async move {
        let mut chunk = [0u8; 8192];
        loop {
            match from.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    sink.lock().unwrap().extend_from_slice(&chunk[..n]);
                    if let Some(to) = to.as_mut()
                        && to.write_all(&chunk[..n]).await.is_err()
                    {
                        break;
                    }
                }
            }
        }
        if let Some(mut to) = to {
            let _ = to.shutdown().await;
        }
    });
    (buffer, task)
}

async fn run_session(era: Era) {
    let sandbox = sandbox().await;
    let key = sandbox.agent_api_key.clone();
    let home = tempfile::TempDir::new().unwrap();
    let log_file = home.path().join("espomcp.log");
    let mut child = command(home.path())
        .env("ESPOCRM_URL", &sandbox.url)
        .env("ESPOCRM_API_KEY", &key)
        .env("LOGGING_LEVEL", "trace")
        .env("LOGGING_FILE", &log_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("espomcp spawns");
    let stdin = child.stdin.take().unwrap();
    let (client_side, tee_side) = tokio::io::duplex(1 << 20);
    let (stdout, stdout_task) = tee(child.stdout.take().unwrap(), Some(tee_side));
    let (stderr, stderr_task) = tee(child.stderr.take().unwrap(), None);

    let client = connect((client_side, stdin), era).await;
    let call = |tool: &str, args: Value| {
        let params = rmcp::model::CallToolRequestParams::new(tool.to_owned())
            .with_arguments(args.as_object().unwrap().clone());
        client.call_tool(params)
    };
    let accounts = success_of(
        &call("search", json!({"entityType": "Account", "limit": 3}))
            .await
            .unwrap(),
        "search",
    );
    let id = accounts["list"][0]["id"].as_str().unwrap().to_owned();
    // Personal data the tools returned, which the logs must not show in clear.
    let mut personal: Vec<String> = Vec::new();
    let contacts = success_of(
        &call("search", json!({"entityType": "Contact", "limit": 5}))
            .await
            .unwrap(),
        "contacts",
    );
    for c in contacts["list"].as_array().unwrap() {
        for key in ["emailAddress", "phoneNumber"] {
            if let Some(v) = c[key].as_str() {
                personal.push(v.to_owned());
            }
        }
    }
    assert!(!personal.is_empty());
    success_of(
        &call("list_entity_types", json!({})).await.unwrap(),
        "types",
    );
    success_of(
        &call("get", json!({"entityType": "Account", "id": id}))
            .await
            .unwrap(),
        "get",
    );
    success_of(
        &call(
            "get_related",
            json!({"entityType": "Account", "id": id, "link": "contacts"}),
        )
        .await
        .unwrap(),
        "get_related",
    );
    error_of(
        &call(
            "get",
            json!({"entityType": "Account", "id": "0123456789abcdef0"}),
        )
        .await
        .unwrap(),
        "missing record",
    );
    error_of(
        &call("search", json!({"entityType": "Acount"}))
            .await
            .unwrap(),
        "unknown type",
    );
    let users = success_of(
        &call("search", json!({"entityType": "User"})).await.unwrap(),
        "users",
    );
    assert!(users["total"].as_u64().unwrap() > 0);
    assert!(call("no_such_tool", json!({})).await.is_err());

    // Close stdin: the server must exit on its own, successfully, and flush its log file.
    let _ = tokio::time::timeout(PATIENCE, client.cancel()).await;
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the server exits within 10 s of stdin closing")
        .expect("wait");
    assert!(status.success(), "exit status {status}");
    let _ = tokio::time::timeout(PATIENCE, stdout_task).await;
    let _ = tokio::time::timeout(PATIENCE, stderr_task).await;

    let stdout = String::from_utf8(stdout.lock().unwrap().clone()).expect("UTF-8 stdout");
    let stderr = String::from_utf8_lossy(&stderr.lock().unwrap()).into_owned();
    let log = std::fs::read_to_string(&log_file).expect("the log file exists");

    // stdout: JSON-RPC messages, one per line, nothing else.
    assert!(!stdout.trim().is_empty());
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let message: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("a non-protocol line on stdout ({e}): {line}"));
        assert_eq!(message["jsonrpc"], "2.0", "{line}");
    }
    // The logs: written, at trace level, and without the key.
    assert!(!log.trim().is_empty(), "the log file is empty");
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "no trace/debug lines"
    );
    assert!(!stderr.trim().is_empty(), "nothing on stderr");
    for (name, text) in [("stderr", &stderr), ("log file", &log)] {
        assert!(!text.contains(&key), "the API key is in the {name}");
        for value in &personal {
            assert!(!text.contains(value.as_str()), "{value} is in the {name}");
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&log_file).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the log file is readable by others: {mode:o}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_never_show_the_key_on_2025_11_25() {
    run_session(Era::Legacy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_never_show_the_key_on_2026_07_28() {
    run_session(Era::Modern).await;
}

/// JSON log lines: one object per line, in the file as on stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line() {
    let sandbox = sandbox().await;
    let home = tempfile::TempDir::new().unwrap();
    let log_file = home.path().join("espomcp.jsonl");
    let mut child = command(home.path())
        .env("ESPOCRM_URL", &sandbox.url)
        .env("ESPOCRM_API_KEY", &sandbox.agent_api_key)
        .env("LOGGING_LEVEL", "debug")
        .env("LOGGING_JSON", "true")
        .env("LOGGING_FILE", &log_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("espomcp spawns");
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let client = connect((stdout, stdin), Era::Legacy).await;
    let params = rmcp::model::CallToolRequestParams::new("search").with_arguments(
        json!({"entityType": "Account", "limit": 1})
            .as_object()
            .unwrap()
            .clone(),
    );
    success_of(&client.call_tool(params).await.unwrap(), "search");
    let _ = tokio::time::timeout(PATIENCE, client.cancel()).await;
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the server exits")
        .expect("wait");
    assert!(status.success());
    let log = std::fs::read_to_string(&log_file).expect("the log file");
    assert!(!log.trim().is_empty());
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let entry: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(entry.is_object(), "{line}");
        assert!(!line.contains(&sandbox.agent_api_key));
    }
}

/// LOGGING_LEVEL=trace is documented to log request and response bodies, redacted
/// (`config::LogLevel`, `telemetry`): the log shows a body with the personal data masked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_show_bodies_redacted() {
    let sandbox = sandbox().await;
    let home = tempfile::TempDir::new().unwrap();
    let log_file = home.path().join("espomcp.log");
    let mut child = command(home.path())
        .env("ESPOCRM_URL", &sandbox.url)
        .env("ESPOCRM_API_KEY", &sandbox.agent_api_key)
        .env("LOGGING_LEVEL", "trace")
        .env("LOGGING_FILE", &log_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("espomcp spawns");
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let client = connect((stdout, stdin), Era::Legacy).await;
    let params = rmcp::model::CallToolRequestParams::new("search").with_arguments(
        json!({"entityType": "Contact", "limit": 2, "select": ["lastName", "emailAddress"]})
            .as_object()
            .unwrap()
            .clone(),
    );
    let page = success_of(&client.call_tool(params).await.unwrap(), "search");
    let _ = tokio::time::timeout(PATIENCE, client.cancel()).await;
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    let log = std::fs::read_to_string(&log_file).expect("the log file");
    let email = page["list"][0]["emailAddress"].as_str().unwrap();
    assert!(!log.contains(email), "an email address in clear");
    assert!(
        log.contains("[redacted]"),
        "no redacted body at trace level; the log was:\n{log}"
    );
}

/// A JSON-RPC error answer (here: a tool that does not exist) is logged in one readable line,
/// not as rmcp's `Debug` dump of the error value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_rpc_errors_are_logged_readably() {
    let sandbox = sandbox().await;
    let server = crate::common::Server::builder(&sandbox)
        .env("LOGGING_LEVEL", "info")
        .start()
        .await;
    let refused = server
        .client
        .call_tool(rmcp::model::CallToolRequestParams::new("no_such_tool"))
        .await;
    assert!(refused.is_err(), "{refused:?}");
    let logs = server.stop().await;
    let line = logs
        .lines()
        .find(|l| l.contains("tools/call refused with JSON-RPC error -32602"))
        .unwrap_or_else(|| panic!("{logs}"));
    assert!(line.contains("tool not found"), "{line}");
    assert!(!logs.contains("ErrorData {"), "{logs}");
    assert!(!logs.contains("response error"), "{logs}");
}
