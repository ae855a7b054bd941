//! The command line: `tools`, `call`, `check` (with `--demo`), `--help`, and what happens
//! without configuration.

use std::process::Output;

use serde_json::Value;

use crate::common::{TOOLS, std_command};

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = tempfile::TempDir::new().unwrap();
    let mut command = std_command(home.path());
    command.args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("espomcp runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 stdout")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn tools_lists_the_five_tools() {
    let output = run(&["tools"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let names: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    // The five read tools, in this order (tools that write may follow them).
    let reads: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| TOOLS.contains(n))
        .collect();
    assert_eq!(reads, TOOLS, "{text}");
    assert_eq!(&names[..5], TOOLS, "discover and read first: {text}");
    for line in text.lines() {
        assert!(
            line.split_whitespace().count() > 3,
            "no description: {line}"
        );
    }
}

#[test]
fn call_prints_the_result_as_json() {
    let output = run(
        &[
            "--demo",
            "call",
            "search",
            r#"{"entityType":"Opportunity","limit":3}"#,
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let body: Value = serde_json::from_str(&stdout(&output)).expect("JSON on stdout");
    assert_eq!(body["total"], 150);
    assert_eq!(body["limit"], 3);
    assert_eq!(body["list"].as_array().unwrap().len(), 3);
    for record in body["list"].as_array().unwrap() {
        assert!(
            record["url"]
                .as_str()
                .unwrap()
                .contains("/#Opportunity/view/")
        );
    }

    let output = run(&["--demo", "call", "list_entity_types"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let body: Value = serde_json::from_str(&stdout(&output)).expect("JSON on stdout");
    assert!(body["entityTypes"].as_array().unwrap().len() >= 8);
}

#[test]
fn call_exits_1_on_a_tool_error() {
    for (tool, args, code) in [
        (
            "get",
            r#"{"entityType":"Nope","id":"x"}"#,
            "INVALID_ENTITY_TYPE",
        ),
        (
            "get",
            r#"{"entityType":"Account","id":"0123456789abcdef0"}"#,
            "RECORD_NOT_FOUND",
        ),
        (
            "search",
            r#"{"entityType":"Account","limit":0}"#,
            "INVALID_ARGUMENT",
        ),
        ("search", "not json", "INVALID_ARGUMENT"),
        ("no_such_tool", "{}", "INVALID_ARGUMENT"),
    ] {
        let output = run(&["--demo", "call", tool, args], &[]);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{tool} {args}: {}",
            stderr(&output)
        );
        let body: Value = serde_json::from_str(&stdout(&output))
            .unwrap_or_else(|e| panic!("{tool} {args}: not JSON ({e}): {}", stdout(&output)));
        assert_eq!(body["error"]["code"], code, "{tool} {args}: {body}");
        assert!(body["error"]["message"].is_string());
        assert!(body["error"]["suggestion"].is_string());
        assert_eq!(body["error"]["retryable"], false);
    }
}

#[test]
fn without_espocrm_url_it_says_so_in_one_line() {
    let output = run(&[], &[("ESPOCRM_API_KEY", "some-key-value")]);
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "stdout: {}", stdout(&output));
    let err = stderr(&output);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("ESPOCRM_URL"), "{err}");
    assert!(!err.contains("some-key-value"));

    // Neither is set: one line for each.
    let output = run(&["serve"], &[]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("ESPOCRM_URL"), "{err}");
    assert!(err.contains("ESPOCRM_API_KEY"), "{err}");
    assert!(err.lines().count() <= 2, "{err}");
}

#[test]
fn help_names_every_variable() {
    let output = run(&["--help"], &[]);
    assert!(output.status.success());
    let text = stdout(&output);
    for variable in [
        "ESPOCRM_URL",
        "ESPOCRM_API_KEY",
        "ESPOCRM_TIMEOUT_SECS",
        "SERVER_MAX_LIMIT",
        "SERVER_METADATA_TTL_SECS",
        "SERVER_RATE_LIMIT_REQUESTS_PER_SECOND",
        "SERVER_RATE_LIMIT_BURST",
        "SERVER_RATE_LIMIT_MAX_CONCURRENT",
        "LOGGING_LEVEL",
        "LOGGING_FILE",
        "LOGGING_JSON",
    ] {
        assert!(text.contains(variable), "--help lacks {variable}");
    }
    for command in ["serve", "tools", "call", "check", "--demo"] {
        assert!(text.contains(command), "--help lacks {command}");
    }
}

#[test]
fn check_prints_ok_lines() {
    let output = run(&["--demo", "check"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    for step in ["configuration", "connectivity", "authentication"] {
        let line = text
            .lines()
            .find(|l| l.starts_with(step))
            .unwrap_or_else(|| panic!("no {step} line in {text}"));
        assert!(line.contains("ok"), "{line}");
    }
    for entity in ["Account", "Contact", "Opportunity"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(entity) && l.contains("all")),
            "no access line for {entity}: {text}"
        );
    }
}

/// A sandbox served by a runtime thread of its own, for plain (synchronous) tests. Keep the
/// runtime alive as long as the sandbox is used.
fn sandbox_in_a_thread() -> (tokio::runtime::Runtime, espocrm_sandbox::Sandbox) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let sandbox = runtime.block_on(crate::common::sandbox());
    (runtime, sandbox)
}

#[test]
fn check_reports_a_wrong_key() {
    let (runtime, sandbox) = sandbox_in_a_thread();
    let output = run(
        &["check"],
        &[
            ("ESPOCRM_URL", &sandbox.url),
            ("ESPOCRM_API_KEY", "0000wrong0000key0000wrong0000key"),
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.lines()
            .any(|l| l.starts_with("authentication") && l.contains("FAILED")),
        "{text}"
    );
    assert!(text.contains("ESPOCRM_API_KEY"), "{text}");
    assert!(!text.contains("0000wrong0000key"));
    drop(sandbox);
    drop(runtime);
}

#[test]
fn check_explains_a_wrong_address_and_a_closed_port() {
    let (runtime, sandbox) = sandbox_in_a_thread();
    let inside = format!("{}/crm", sandbox.url);
    // A port nothing listens on: bind one, then let it go.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| format!("http://{a}"))
        .unwrap();
    for (url, failure, fix) in [
        (
            inside.as_str(),
            "nothing answers EspoCRM's API under",
            "its site root",
        ),
        (
            closed.as_str(),
            "Connection refused",
            "Check the host and port in ESPOCRM_URL",
        ),
    ] {
        let output = run(
            &["check"],
            &[
                ("ESPOCRM_URL", url),
                ("ESPOCRM_API_KEY", &sandbox.agent_api_key),
            ],
        );
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        let text = stdout(&output);
        let failed = text
            .lines()
            .find(|l| l.starts_with("connectivity"))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(
            failed.contains("FAILED") && failed.contains(failure),
            "{text}"
        );
        let advice = text
            .lines()
            .find(|l| l.starts_with("fix"))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(advice.contains(fix), "{text}");
    }
    drop(sandbox);
    drop(runtime);
}

#[test]
fn an_unusable_setting_is_named_in_one_line() {
    for (name, value) in [
        ("SERVER_MAX_LIMIT", "500"),
        ("SERVER_RATE_LIMIT_MAX_CONCURRENT", "0"),
        ("ESPOCRM_TIMEOUT_SECS", "0"),
        ("LOGGING_LEVEL", "loud"),
        ("ESPOCRM_URL", "not-a-url"),
    ] {
        let mut env = vec![
            ("ESPOCRM_URL", "http://127.0.0.1:9"),
            ("ESPOCRM_API_KEY", "secret-key-never-shown"),
        ];
        env.retain(|(k, _)| *k != name);
        env.push((name, value));
        let output = run(&[], &env);
        assert!(!output.status.success(), "{name}={value} was accepted");
        let err = stderr(&output);
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{name}: {err}");
        assert!(lines[0].contains(name), "{name}: {err}");
        assert!(
            !err.contains("secret-key-never-shown"),
            "{name}: the key is shown"
        );
        assert!(
            output.stdout.is_empty(),
            "{name}: stdout {}",
            stdout(&output)
        );
    }
}
