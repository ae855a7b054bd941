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
        "ESPOCRM_MAX_RESPONSE_MIB",
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

/// A listener that accepts connections and never answers them: a wrong port, a proxy that
/// swallows requests. Counts the connections.
struct Silent {
    url: String,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

fn silent_host() -> Silent {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(stream);
        }
    });
    Silent { url, accepted }
}

#[test]
fn check_makes_one_short_attempt_and_says_how_long_it_waited() {
    let host = silent_host();
    let output = run(
        &["check"],
        &[
            ("ESPOCRM_URL", &host.url),
            ("ESPOCRM_API_KEY", "0123456789abcdef0123456789abcdef"),
            ("ESPOCRM_TIMEOUT_SECS", "1"),
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stdout(&output);
    let failed = text
        .lines()
        .find(|l| l.starts_with("connectivity"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        failed.contains("FAILED: no answer from") && failed.contains("within 1 s"),
        "{text}"
    );
    assert!(!text.contains("fewer records"), "{text}");
    let advice = text.lines().find(|l| l.starts_with("fix")).unwrap();
    assert!(advice.contains("ESPOCRM_URL"), "{text}");
    // One attempt per request (the metadata and the user may be two requests): no retries.
    let connections = host.accepted.load(std::sync::atomic::Ordering::SeqCst);
    assert!((1..=2).contains(&connections), "{connections} connections");
}

#[test]
fn a_tool_call_ends_at_the_call_timeout_with_an_error_the_agent_can_read() {
    let host = silent_host();
    let output = run(
        &["call", "search", r#"{"entityType":"Account"}"#],
        &[
            ("ESPOCRM_URL", &host.url),
            ("ESPOCRM_API_KEY", "0123456789abcdef0123456789abcdef"),
            // Three attempts of 1 s and the backoff take longer than the call may.
            ("ESPOCRM_TIMEOUT_SECS", "1"),
            ("SERVER_CALL_TIMEOUT_SECS", "2"),
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let body: Value = serde_json::from_str(&stdout(&output)).expect("JSON on stdout");
    assert_eq!(body["error"]["code"], "UPSTREAM_TIMEOUT", "{body}");
    assert_eq!(body["error"]["retryable"], true, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("within 2 s (SERVER_CALL_TIMEOUT_SECS)"),
        "{message}"
    );
}

#[test]
fn the_default_call_timeout_is_under_the_clients_60_seconds() {
    let output = run(&["--help"], &[]);
    let text = stdout(&output);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("SERVER_CALL_TIMEOUT_SECS"))
        .unwrap_or_else(|| panic!("{text}"));
    let default: u64 = line
        .rsplit_once('[')
        .and_then(|(_, rest)| rest.strip_suffix(']'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(default < 60, "{line}");
    assert_eq!(default, espomcp::config::DEFAULT_CALL_TIMEOUT_SECS);
}

#[test]
fn each_subcommand_shows_and_takes_only_its_own_flags() {
    let help = |command: &str| stdout(&run(&[command, "--help"], &[]));
    let seed = help("seed");
    for flag in [
        "--demo",
        "--config",
        "--read-only",
        "--toolsets",
        "--entities",
        "--http",
    ] {
        assert!(!seed.contains(flag), "seed --help lists {flag}: {seed}");
    }
    let sandbox = help("sandbox");
    assert!(
        !sandbox.contains("--demo") && !sandbox.contains("--config"),
        "{sandbox}"
    );
    let tools = help("tools");
    assert!(
        !tools.contains("--demo") && !tools.contains("--http"),
        "{tools}"
    );
    assert!(
        tools.contains("--toolsets") && tools.contains("--config"),
        "{tools}"
    );
    let call = help("call");
    for flag in [
        "--demo",
        "--config",
        "--read-only",
        "--toolsets",
        "--entities",
        "--confirm",
    ] {
        assert!(call.contains(flag), "call --help lacks {flag}: {call}");
    }
    assert!(!call.contains("--http"), "{call}");
    let check = help("check");
    assert!(
        check.contains("--demo") && !check.contains("--confirm"),
        "{check}"
    );

    // A flag the subcommand does not use is refused, before or after it.
    for args in [
        &["--demo", "seed"][..],
        &["--config", "x.toml", "sandbox"],
        &["--demo", "tools"],
        &["--http", "127.0.0.1:0", "check"],
    ] {
        let output = run(args, &[]);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&output).contains("does not apply to `espomcp"),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    let output = run(&["seed", "--config", "good.toml"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--config"), "{}", stderr(&output));
}

#[test]
fn a_subcommand_honours_its_config_flag() {
    let (runtime, sandbox) = sandbox_in_a_thread();
    let home = tempfile::TempDir::new().unwrap();
    let file = home.path().join("good.toml");
    std::fs::write(
        &file,
        format!(
            "[espocrm]\nurl = \"{}\"\napi_key = \"{}\"\n",
            sandbox.url, sandbox.agent_api_key
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let path = file.display().to_string();
    for args in [
        &["check", "--config", &path][..],
        &["--config", &path, "check"],
    ] {
        let output = run(args, &[]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            stdout(&output)
        );
        assert!(stdout(&output).contains(&format!("config file: {path}")));
    }
    drop(sandbox);
    drop(runtime);
}

#[test]
fn tools_needs_no_espocrm_and_lines_up_its_descriptions() {
    let output = run(&["tools"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    let longest = lines
        .iter()
        .map(|l| l.split_whitespace().next().unwrap().len())
        .max()
        .unwrap();
    assert!(longest >= "upcoming_activities".len(), "{text}");
    for line in &lines {
        let (name, rest) = line.split_at(longest);
        assert!(!name.trim_end().contains(' '), "{line}");
        assert!(rest.starts_with("  "), "{line}");
        assert!(
            !rest[2..].starts_with(' '),
            "descriptions start in one column: {line}"
        );
    }
}

#[test]
fn call_errors_read_plainly() {
    let output = run(&["--demo", "call", "serch", "{}"], &[]);
    assert_eq!(output.status.code(), Some(1));
    let body: Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    assert_eq!(
        body["error"]["message"],
        "unknown tool `serch`; did you mean `search`?"
    );
    assert!(!body.to_string().contains("Mcp error"), "{body}");

    let output = run(&["--demo", "call", "search", "{}"], &[]);
    assert_eq!(output.status.code(), Some(1));
    let body: Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("entityType"), "{message}");
    assert!(!message.contains(r#"The argument "search""#), "{message}");
}

/// The id of one Task in the sandbox, read directly.
fn a_task(runtime: &tokio::runtime::Runtime, sandbox: &espocrm_sandbox::Sandbox) -> String {
    let tasks = runtime.block_on(crate::common::Direct::new(sandbox).all("Task"));
    tasks[0]["id"].as_str().unwrap().to_owned()
}

#[test]
fn call_delete_confirm_previews_and_deletes_in_one_run() {
    let (runtime, sandbox) = sandbox_in_a_thread();
    let env = [
        ("ESPOCRM_URL", sandbox.url.as_str()),
        ("ESPOCRM_API_KEY", sandbox.agent_api_key.as_str()),
    ];
    let id = a_task(&runtime, &sandbox);
    let arguments = format!(r#"{{"entityType":"Task","id":"{id}"}}"#);

    // Without --confirm and without a terminal: the preview only.
    let output = run(&["call", "delete", &arguments], &env);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains(&id), "{}", stdout(&output));
    assert!(
        sandbox.record("Task", &id).is_some(),
        "not deleted without --confirm"
    );

    let output = run(&["call", "delete", &arguments, "--confirm"], &env);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stderr(&output).contains(&id), "the preview on stderr");
    assert!(sandbox.record("Task", &id).is_none(), "the Task is gone");

    // "confirm": true in the JSON does the same; in human mode --confirm is the person's yes.
    let id = a_task(&runtime, &sandbox);
    let arguments = format!(r#"{{"entityType":"Task","id":"{id}","confirm":true}}"#);
    let output = run(&["call", "delete", &arguments], &env);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(sandbox.record("Task", &id).is_none(), "the Task is gone");

    let id = a_task(&runtime, &sandbox);
    let arguments = format!(r#"{{"entityType":"Task","id":"{id}"}}"#);
    let mut human = env.to_vec();
    human.push(("SERVER_DELETE_CONFIRMATION", "human"));
    let output = run(&["call", "delete", &arguments], &human);
    assert!(sandbox.record("Task", &id).is_some(), "{}", stdout(&output));
    let output = run(&["call", "delete", &arguments, "--confirm"], &human);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(sandbox.record("Task", &id).is_none(), "the Task is gone");
    drop(sandbox);
    drop(runtime);
}

fn config_file(home: &std::path::Path, contents: &str) -> String {
    let file = home.join("config.toml");
    std::fs::write(&file, contents).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    file.display().to_string()
}

#[test]
fn a_misspelt_key_is_named_with_the_error_it_causes_and_fails_check() {
    let home = tempfile::TempDir::new().unwrap();
    let path = config_file(
        home.path(),
        "[espocrm]\nurl = \"http://127.0.0.1:9\"\napikey = \"secret-never-shown\"\n",
    );
    let output = run(&["serve", "--config", &path], &[]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("ESPOCRM_API_KEY"), "{err}");
    assert!(
        err.contains("unknown setting `apikey` in [espocrm]") && err.contains("api_key"),
        "{err}"
    );
    assert!(!err.contains("secret-never-shown"), "{err}");

    let (runtime, sandbox) = sandbox_in_a_thread();
    let path = config_file(
        home.path(),
        &format!(
            "[espocrm]\nurl = \"{}\"\napi_key = \"{}\"\n[server]\nmax_limt = 5\n",
            sandbox.url, sandbox.agent_api_key
        ),
    );
    let output = run(&["check", "--config", &path], &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let text = stdout(&output);
    let configuration = text.lines().next().unwrap();
    assert!(
        configuration.starts_with("configuration") && configuration.contains("FAILED"),
        "{text}"
    );
    assert!(!configuration.contains("ok"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("warning") && l.contains("`max_limt` in [server]")),
        "{text}"
    );
    drop(sandbox);
    drop(runtime);
}

#[test]
fn check_fails_when_the_audit_log_cannot_be_written() {
    let home = tempfile::TempDir::new().unwrap();
    let audit = home.path().join("no-such-dir/audit.log");
    let output = run(
        &["--demo", "check"],
        &[("SERVER_AUDIT_LOG", &audit.display().to_string())],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let text = stdout(&output);
    assert!(
        text.lines()
            .any(|l| l.starts_with("audit log") && l.contains("FAILED")),
        "{text}"
    );

    // A writable one is an ok line.
    let audit = home.path().join("audit.log");
    let output = run(
        &["--demo", "check"],
        &[("SERVER_AUDIT_LOG", &audit.display().to_string())],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(
        stdout(&output)
            .lines()
            .any(|l| l.starts_with("audit log") && l.contains("ok")),
    );
}

#[test]
fn toolsets_without_read_are_warned_about() {
    let output = run(&["--toolsets", "write", "tools"], &[]);
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stderr(&output).contains("leaves out the `read` toolset"),
        "{}",
        stderr(&output)
    );
    let output = run(&["--demo", "--toolsets", "write", "check"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(
        stdout(&output)
            .lines()
            .any(|l| l.starts_with("warning") && l.contains("`read`")),
        "{}",
        stdout(&output)
    );
    let output = run(&["tools"], &[]);
    assert!(!stderr(&output).contains("`read`"), "{}", stderr(&output));
}

#[test]
fn an_unusable_http_address_is_echoed_as_written() {
    let output = run(&["--demo"], &[("SERVER_HTTP_ADDR", "localhost:notaport")]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("\"localhost:notaport\""), "{err}");
    assert!(!err.contains("127.0.0.1:notaport"), "{err}");
}

#[test]
fn the_sandbox_defaults_away_from_8080_and_prints_its_url() {
    let help = stdout(&run(&["sandbox", "--help"], &[]));
    assert!(help.contains("127.0.0.1:8089"), "{help}");
    let home = tempfile::TempDir::new().unwrap();
    let mut child = std_command(home.path())
        .args(["sandbox", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("espomcp sandbox starts");
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let url = first
        .trim()
        .strip_prefix("url=")
        .unwrap_or_else(|| panic!("{first}"));
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(!url.ends_with(":0"), "the port it got: {url}");
}

#[test]
fn make_help_expands_variables_and_demo_runs_the_mcp_demo() {
    let makefile = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Makefile"))
        .expect("the Makefile");
    let recipe = |target: &str| -> String {
        makefile
            .split(&format!("\n{target}:"))
            .nth(1)
            .unwrap_or_else(|| panic!("no {target} target"))
            .lines()
            .skip(1)
            .take_while(|l| l.starts_with('\t'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(recipe("demo").contains("-- --demo"), "{}", recipe("demo"));
    assert!(
        recipe("sandbox").contains("sandbox --listen"),
        "{}",
        recipe("sandbox")
    );
    assert!(
        !makefile.contains(":8080"),
        "the sandbox keeps away from compose's 8080"
    );
    let output = std::process::Command::new("make")
        .args(["-s", "help"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("make runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(!text.contains("$("), "{text}");
    assert!(text.contains("127.0.0.1:8089"), "{text}");
}

/// In demo mode a record's `url` leads to the in-process sandbox, which answers it (a page that
/// says what the sandbox is and which record was meant) rather than a 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_record_urls_answer() {
    use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
    let home = tempfile::TempDir::new().unwrap();
    let command = crate::common::command(home.path()).configure(|c| {
        c.arg("--demo");
    });
    let transport = TokioChildProcess::new(command).expect("espomcp spawns");
    let client = crate::common::connect(transport, crate::common::Era::Legacy).await;
    let result = client
        .call_tool(
            rmcp::model::CallToolRequestParams::new("search").with_arguments(
                serde_json::json!({"entityType": "Opportunity", "limit": 1})
                    .as_object()
                    .cloned()
                    .unwrap(),
            ),
        )
        .await
        .expect("search answers");
    let page = crate::common::success_of(&result, "search");
    let url = page["list"][0]["url"].as_str().expect("a url").to_owned();
    assert!(url.contains("/#Opportunity/view/"), "{url}");
    let answer = reqwest::get(&url).await.expect("the url answers");
    assert_eq!(answer.status(), 200, "{url}");
    let text = answer.text().await.unwrap();
    assert!(text.contains("espocrm-sandbox"), "{text}");
    assert!(!text.contains("X-Api-Key") && !text.to_lowercase().contains("api_key"));
    let _ = client.cancel().await;
}
