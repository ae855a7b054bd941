//! The Streamable HTTP transport (`serve --http`): the bearer token (401 without it or with a
//! wrong one), Host/Origin checks against DNS rebinding (403), no start off loopback without a
//! token, both protocol eras through rmcp's HTTP client, and a graceful shutdown that lets a
//! slow call in flight finish.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use espocrm_sandbox::FaultConfig;
use rmcp::model::{CallToolRequestParams, JsonObject};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::AsyncReadExt;

use crate::common::{Era, PATIENCE, command, connect, eventually, sandbox, std_command};

pub const TOKEN: &str = "test-token-0123456789abcdef";

/// `espomcp serve --http` as a child process on a free loopback port.
pub struct HttpServer {
    child: tokio::process::Child,
    pub url: String,
    stderr: Arc<Mutex<Vec<u8>>>,
    _home: TempDir,
}

impl HttpServer {
    /// Starts with `args` before `serve` (e.g. `--demo`) and `env`; waits until it answers.
    pub async fn start(args: &[&str], env: &[(&str, &str)]) -> HttpServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let address = format!("127.0.0.1:{port}");
        let home = TempDir::new().expect("a temporary home");
        let mut child = command(home.path())
            .args(args)
            .args(["serve", "--http", &address])
            .envs(env.iter().copied())
            .env("LOGGING_LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("espomcp spawns");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let sink = stderr.clone();
        let mut pipe = child.stderr.take().expect("stderr is piped");
        tokio::spawn(async move {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buffer).await {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buffer[..n]);
            }
        });
        let url = format!("http://{address}/mcp");
        let server = HttpServer {
            child,
            url,
            stderr,
            _home: home,
        };
        eventually(PATIENCE, "the HTTP server listens", || async {
            tokio::net::TcpStream::connect(&address).await.is_ok()
        })
        .await;
        server
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// A raw `initialize` POST with extra headers.
    async fn post(&self, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .json(&json!({
                "jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                           "clientInfo": {"name": "raw", "version": "0"}}
            }));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("the server answers")
    }

    async fn client(&self, era: Era, token: &str) -> crate::common::Client {
        let transport = StreamableHttpClientTransport::from_config(
            StreamableHttpClientTransportConfig::with_uri(self.url.clone()).auth_header(token),
        );
        connect(transport, era).await
    }

    fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("exits after SIGTERM")
            .expect("waited")
    }
}

fn arguments(value: Value) -> JsonObject {
    value.as_object().cloned().expect("an object")
}

#[tokio::test]
async fn the_token_is_required_on_every_request() {
    let mut server = HttpServer::start(&["--demo"], &[("SERVER_HTTP_TOKEN", TOKEN)]).await;

    let missing = server.post(&[]).await;
    assert_eq!(missing.status(), 401);
    assert_eq!(
        missing.headers()["www-authenticate"],
        "Bearer realm=\"espomcp\""
    );
    let wrong = server
        .post(&[("Authorization", "Bearer test-token-0123456789abcdeF")])
        .await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        wrong.headers()["www-authenticate"],
        "Bearer realm=\"espomcp\", error=\"invalid_token\""
    );
    let basic = server
        .post(&[("Authorization", &format!("Basic {TOKEN}"))])
        .await;
    assert_eq!(basic.status(), 401);

    let right = server
        .post(&[("Authorization", &format!("Bearer {TOKEN}"))])
        .await;
    assert_eq!(right.status(), 200);
    let body: Value = right.json().await.expect("JSON");
    assert_eq!(body["result"]["serverInfo"]["name"], "espomcp");

    // Against DNS rebinding: a foreign Origin or Host is refused even with the token.
    let bearer = format!("Bearer {TOKEN}");
    let origin = server
        .post(&[
            ("Authorization", &bearer),
            ("Origin", "http://evil.example"),
        ])
        .await;
    assert_eq!(origin.status(), 403);
    let local_origin = server
        .post(&[
            ("Authorization", &bearer),
            ("Origin", "http://localhost:3000"),
        ])
        .await;
    assert_eq!(local_origin.status(), 200);
    let host = server
        .post(&[("Authorization", &bearer), ("Host", "evil.example")])
        .await;
    assert_eq!(host.status(), 403);

    // The body limit.
    let huge = reqwest::Client::new()
        .post(&server.url)
        .header("Authorization", &bearer)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .body(vec![b' '; 5 * 1024 * 1024])
        .send()
        .await
        .expect("answers");
    assert_eq!(huge.status(), 413);

    // The token never reaches the logs.
    assert_eq!(server.terminate().await.code(), Some(0));
    let logs = server.stderr();
    assert!(logs.contains("serving MCP over HTTP"), "{logs}");
    assert!(!logs.contains(TOKEN), "{logs}");
}

#[tokio::test]
async fn both_eras_work_over_http() {
    let mut server = HttpServer::start(&["--demo"], &[("SERVER_HTTP_TOKEN", TOKEN)]).await;
    for era in [Era::Legacy, Era::Modern] {
        let client = server.client(era, TOKEN).await;
        let info = client.peer_info().expect("server info");
        assert_eq!(info.protocol_version, era.version());
        let tools = client.list_all_tools().await.expect("tools/list");
        assert_eq!(tools.len(), 18, "{era:?}");
        for tool in &tools {
            assert!(
                tool.annotations.is_some(),
                "{era:?}: {} lacks annotations",
                tool.name
            );
        }
        let page = client
            .call_tool(
                CallToolRequestParams::new("search").with_arguments(arguments(
                    json!({"entityType": "Opportunity", "limit": 2, "select": ["name"]}),
                )),
            )
            .await
            .expect("search");
        let page = page.structured_content.expect("structured");
        assert_eq!(page["total"], 150, "{era:?}");
        assert_eq!(page["list"].as_array().map(Vec::len), Some(2));
        let error = client
            .call_tool(
                CallToolRequestParams::new("get_schema")
                    .with_arguments(arguments(json!({"entityType": "Acount"}))),
            )
            .await
            .expect("a tool error is a result");
        let error = crate::common::error_of(&error, "get_schema over HTTP");
        assert_eq!(error["code"], "INVALID_ENTITY_TYPE", "{era:?}");
        let _ = client.cancel().await;
    }
    assert_eq!(server.terminate().await.code(), Some(0));
}

#[tokio::test]
async fn read_only_holds_over_http_without_a_token_on_loopback() {
    let mut server = HttpServer::start(&["--demo", "--read-only"], &[]).await;
    let client = server.client(Era::Modern, "ignored").await;
    let tools = client.list_all_tools().await.expect("tools/list");
    assert_eq!(tools.len(), 10);
    let refused = client
        .call_tool(
            CallToolRequestParams::new("create").with_arguments(arguments(
                json!({"entityType": "Account", "data": {"name": "x"}}),
            )),
        )
        .await
        .expect("a result");
    let refused = crate::common::error_of(&refused, "create over HTTP, read-only");
    assert_eq!(refused["code"], "TOOL_DISABLED");
    let _ = client.cancel().await;
    assert_eq!(server.terminate().await.code(), Some(0));
}

#[test]
fn a_non_loopback_address_needs_a_token() {
    let home = TempDir::new().unwrap();
    let output = std_command(home.path())
        .args(["--demo", "serve", "--http", "0.0.0.0:0"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SERVER_HTTP_TOKEN is not set"), "{stderr}");
    assert!(stderr.contains("0.0.0.0:0"), "{stderr}");
    assert!(stderr.contains("127.0.0.1"), "{stderr}");
}

#[tokio::test]
async fn sigterm_lets_the_call_in_flight_finish() {
    let sandbox = sandbox().await;
    let mut server = HttpServer::start(
        &[],
        &[
            ("ESPOCRM_URL", &sandbox.url),
            ("ESPOCRM_API_KEY", &sandbox.agent_api_key),
        ],
    )
    .await;
    let client = server.client(Era::Legacy, "none").await;
    // Load the metadata before the sandbox slows down.
    client
        .call_tool(CallToolRequestParams::new("list_entity_types"))
        .await
        .expect("list_entity_types");
    sandbox.set_faults(FaultConfig {
        latency_ms: 1500,
        ..FaultConfig::default()
    });
    let slow = tokio::spawn(async move {
        let result = client
            .call_tool(
                CallToolRequestParams::new("search").with_arguments(arguments(
                    json!({"entityType": "Account", "limit": 3, "select": ["name"]}),
                )),
            )
            .await;
        let _ = client.cancel().await;
        result
    });
    eventually(PATIENCE, "the search reaches the sandbox", || async {
        sandbox.stats().in_flight >= 1
    })
    .await;
    let status = server.terminate().await;
    let result = tokio::time::timeout(PATIENCE, slow)
        .await
        .expect("the call ends")
        .expect("joined")
        .expect("the call in flight got its answer");
    assert_ne!(result.is_error, Some(true));
    let page = result.structured_content.expect("structured");
    assert_eq!(page["list"].as_array().map(Vec::len), Some(3), "{page}");
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
    let logs = server.stderr();
    assert!(logs.contains("SIGTERM"), "{logs}");
    // Nothing listens any more.
    let refused = reqwest::Client::new()
        .post(&server.url)
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(refused.is_err(), "{refused:?}");
}

/// The same checks as over stdio, through rmcp's HTTP client on both eras, against a sandbox
/// the test can read: every tool's structuredContent valid against its outputSchema,
/// resources/read of each template, bad URIs, and completions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn structured_output_resources_and_completions_over_http() {
    let sandbox = sandbox().await;
    let mut server = HttpServer::start(
        &[],
        &[
            ("ESPOCRM_URL", sandbox.url.as_str()),
            ("ESPOCRM_API_KEY", sandbox.agent_api_key.as_str()),
            ("SERVER_HTTP_TOKEN", TOKEN),
        ],
    )
    .await;
    for era in [Era::Legacy, Era::Modern] {
        let client = server.client(era, TOKEN).await;
        crate::structured::every_tool_answers_valid_structured_content(&client, &sandbox).await;
        crate::resources::lists_and_reads_every_resource(&client, &sandbox).await;
        crate::resources::refuses_bad_resource_uris(&client, &sandbox, era).await;
        crate::resources::completes_templates_and_prompt_arguments(&client, &sandbox).await;
        let _ = client.cancel().await;
    }
    assert_eq!(
        server.terminate().await.code(),
        Some(0),
        "{}",
        server.stderr()
    );
}

/// OAuth discovery finds no OAuth, with an explanation, instead of a 401 that sends clients
/// into an OAuth flow; the 401 of a request without the token names no resource metadata.
#[tokio::test]
async fn oauth_discovery_says_a_static_token_is_needed() {
    let mut server = HttpServer::start(&["--demo"], &[("SERVER_HTTP_TOKEN", TOKEN)]).await;
    let origin = server.url.trim_end_matches("/mcp").to_owned();
    let client = reqwest::Client::new();
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let answer = client
            .get(format!("{origin}{path}"))
            .send()
            .await
            .expect("answers");
        assert_eq!(answer.status(), 404, "{path}");
        assert!(answer.headers().get("www-authenticate").is_none(), "{path}");
        let body: Value = answer.json().await.expect("a JSON body");
        assert_eq!(body["error"], "not_found", "{path}");
        let description = body["error_description"].as_str().expect("a description");
        assert!(
            description.contains("static bearer token")
                && description.contains("Authorization: Bearer")
                && description.contains("SERVER_HTTP_TOKEN"),
            "{path}: {description}"
        );
        assert!(!description.contains(TOKEN));
    }

    let missing = server.post(&[]).await;
    assert_eq!(missing.status(), 401);
    let challenge = missing.headers()["www-authenticate"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert!(!challenge.contains("resource_metadata"), "{challenge}");
    // The MCP endpoint itself is still behind the token.
    let right = server
        .post(&[("Authorization", &format!("Bearer {TOKEN}"))])
        .await;
    assert_eq!(right.status(), 200);
    assert_eq!(server.terminate().await.code(), Some(0));
}
