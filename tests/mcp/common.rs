//! What every test needs: an in-process sandbox, the real `espomcp` binary spawned over stdio
//! with rmcp's child-process client on a chosen protocol era, and an independent view of the
//! sandbox's data over plain HTTP (reqwest), to check the tools' answers against.
//!
//! Tests about timing (expiry, TTLs, what happens or does not after a cancellation) run the
//! server in the test's own process instead ([`InProcess`]: the library's runtime over a
//! `tokio::io::duplex` pipe, with espomcp's own stdio framing on the server's end), so they can
//! move tokio's clock rather than wait for it ([`let_time_pass`], [`fast_forward`]). The
//! child process stays for what is about the process: stdio, logs, exit, the command line.

use std::future::Future;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use espocrm_sandbox::EspoVersion;
use espocrm_sandbox::Sandbox;
use espomcp::config::{Config, Environment, LoadOptions};
use espomcp::runtime::Runtime;
use espomcp::stdio::StdioTransport;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation,
    JsonObject, ProtocolVersion,
};
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{ClientLifecycleMode, ClientServiceExt, RoleClient, ServiceError, ServiceExt};
use serde_json::{Map, Value, json};
use tempfile::TempDir;
use tokio::io::AsyncReadExt;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_espomcp");

/// The five read tools, in the order the server lists them.
pub const TOOLS: [&str; 5] = [
    "list_entity_types",
    "get_schema",
    "search",
    "get",
    "get_related",
];

/// Every variable the binary reads (its settings, `espomcp seed`'s, the log filter and those that
/// locate its config file). They are removed from the child's environment so the developer's own
/// settings never leak into a test.
fn config_variables() -> impl Iterator<Item = &'static str> {
    let others = [
        "ESPOCRM_ADMIN_USER",
        "ESPOCRM_ADMIN_PASSWORD",
        "RUST_LOG",
        "HOME",
        "XDG_CONFIG_HOME",
        "APPDATA",
    ];
    let settings = espomcp::config::SETTINGS.iter().map(|setting| setting.env);
    settings.chain(others)
}

/// How long any single wait in these tests may take before it counts as a hang.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The MCP protocol era a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// The `initialize` handshake, asking for 2025-11-25.
    Legacy,
    /// `server/discover` and per-request `_meta`, 2026-07-28.
    Modern,
}

impl Era {
    pub fn version(self) -> ProtocolVersion {
        match self {
            Era::Legacy => ProtocolVersion::V_2025_11_25,
            Era::Modern => ProtocolVersion::V_2026_07_28,
        }
    }
}

pub type Client = RunningService<RoleClient, ClientConfig>;

/// A fresh sandbox with the seeded demo data.
pub async fn sandbox() -> Sandbox {
    Sandbox::start().await.expect("the sandbox starts")
}

/// Narrows the API user's role to Email create only (drafts, no reading: the original 8.4.2
/// lab role; the sandbox's role reads its own e-mails), through the admin API as an
/// administrator would.
pub async fn email_create_only(sandbox: &Sandbox) {
    let client = reqwest::Client::new();
    let roles: Value = client
        .get(format!("{}/api/v1/Role", sandbox.url))
        .basic_auth(&sandbox.admin_user, Some(&sandbox.admin_password))
        .send()
        .await
        .expect("the sandbox answers")
        .json()
        .await
        .expect("JSON");
    let role = roles["list"]
        .as_array()
        .expect("a list of roles")
        .iter()
        .find(|r| r["name"] == json!(espocrm_sandbox::roles::AGENT_ROLE_NAME))
        .expect("the agent's role");
    let mut data = role["data"].as_object().cloned().expect("the role's data");
    data.insert(
        "Email".into(),
        json!({"create": "yes", "read": "no", "edit": "no", "delete": "no", "stream": "no"}),
    );
    let response = client
        .put(format!(
            "{}/api/v1/Role/{}",
            sandbox.url,
            role["id"].as_str().expect("an id")
        ))
        .basic_auth(&sandbox.admin_user, Some(&sandbox.admin_password))
        .json(&json!({ "data": data }))
        .send()
        .await
        .expect("the sandbox answers");
    assert!(response.status().is_success(), "{}", response.status());
}

/// A fresh sandbox with the seeded demo data, answering as `version` of EspoCRM: for tests of
/// behaviour that differs between versions, run once per [`EspoVersion::ALL`].
pub async fn sandbox_of(version: EspoVersion) -> Sandbox {
    Sandbox::start_version(version)
        .await
        .expect("the sandbox starts")
}

/// A fresh sandbox without demo data: the recorded users and roles only (what `espomcp seed`
/// meets on a new EspoCRM).
pub async fn empty_sandbox() -> Sandbox {
    let config = espocrm_sandbox::SandboxConfig {
        demo_data: false,
        ..Default::default()
    };
    Sandbox::start_with(config, "127.0.0.1:0")
        .await
        .expect("the sandbox starts")
}

/// A `tokio` command for the binary with a clean environment: no settings of the developer's,
/// and a home and config directory of its own (so no user config file is read).
pub fn command(home: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(BIN);
    for name in config_variables() {
        command.env_remove(name);
    }
    command
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .current_dir(home)
        .kill_on_drop(true);
    command
}

/// The same for `std::process` (the CLI tests).
pub fn std_command(home: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(BIN);
    for name in config_variables() {
        command.env_remove(name);
    }
    command
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .current_dir(home);
    command
}

/// Connects an rmcp client on `era` over any transport.
pub async fn connect<T, E, A>(transport: T, era: Era) -> Client
where
    T: rmcp::transport::IntoTransport<RoleClient, E, A>,
    E: std::error::Error + Send + Sync + 'static,
{
    let config = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("espomcp-integration-tests", "0.0.0"),
    )
    .with_protocol_version(era.version());
    connect_as(config, transport, era).await
}

/// Connects any client handler (e.g. one that answers elicitations) on `era`.
pub async fn connect_as<H, T, E, A>(
    handler: H,
    transport: T,
    era: Era,
) -> RunningService<RoleClient, H>
where
    H: rmcp::ClientHandler,
    T: rmcp::transport::IntoTransport<RoleClient, E, A>,
    E: std::error::Error + Send + Sync + 'static,
{
    let started = match era {
        Era::Legacy => handler.serve(transport).await,
        Era::Modern => {
            handler
                .serve_with_lifecycle(
                    transport,
                    ClientLifecycleMode::Discover {
                        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                    },
                )
                .await
        }
    };
    started.unwrap_or_else(|e| panic!("the MCP session on {era:?} does not start: {e}"))
}

/// How to start a server.
pub struct ServerBuilder<'a> {
    sandbox: &'a Sandbox,
    era: Era,
    api_key: String,
    env: Vec<(String, String)>,
}

/// `espomcp` running as a child process, or in this process, with a connected client.
pub struct Server {
    pub client: Client,
    backend: Backend,
    /// The server's HOME and config directory, removed when the server is dropped (a child's;
    /// a server in process reads no HOME).
    _home: TempDir,
}

/// Where the server runs.
enum Backend {
    /// The real binary; its stderr is collected until it exits.
    Child {
        stderr: Arc<Mutex<Vec<u8>>>,
        stderr_task: tokio::task::JoinHandle<()>,
    },
    /// The library's runtime in the test's own runtime, whose clock the test may move.
    InProcess(Box<InProcess>),
}

impl<'a> ServerBuilder<'a> {
    pub fn era(mut self, era: Era) -> Self {
        self.era = era;
        self
    }

    pub fn api_key(mut self, key: &str) -> Self {
        self.api_key = key.to_owned();
        self
    }

    pub fn env(mut self, name: &str, value: impl ToString) -> Self {
        self.env.push((name.to_owned(), value.to_string()));
        self
    }

    pub async fn start(self) -> Server {
        Server::start_at(&self.sandbox.url, &self.api_key, self.era, &self.env).await
    }

    /// The same server in this process (see [`InProcess`]): for tests that move tokio's clock.
    pub async fn start_in_process(self) -> Server {
        let (server, transport) =
            InProcess::start(&self.sandbox.url, &self.api_key, &self.env).await;
        let client = connect(transport, self.era).await;
        Server {
            client,
            backend: Backend::InProcess(Box::new(server)),
            _home: TempDir::new().expect("a temporary home"),
        }
    }
}

impl Server {
    /// A server on any EspoCRM (the live tests' real one, or a sandbox), with these settings.
    pub async fn start_at(url: &str, api_key: &str, era: Era, env: &[(String, String)]) -> Server {
        let home = TempDir::new().expect("a temporary home");
        let command = command(home.path()).configure(|c| {
            c.env("ESPOCRM_URL", url)
                .env("ESPOCRM_API_KEY", api_key)
                .env("LOGGING_LEVEL", "warn");
            for (name, value) in env {
                c.env(name, value);
            }
        });
        let (transport, stderr) = TokioChildProcess::builder(command)
            .stderr(Stdio::piped())
            .spawn()
            .expect("espomcp spawns");
        let captured = Arc::new(Mutex::new(Vec::new()));
        let sink = captured.clone();
        let mut stderr = stderr.expect("stderr is piped");
        let stderr_task = tokio::spawn(async move {
            let mut buffer = [0u8; 4096];
            loop {
                match stderr.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink.lock().unwrap().extend_from_slice(&buffer[..n]),
                }
            }
        });
        let client = connect(transport, era).await;
        Server {
            client,
            backend: Backend::Child {
                stderr: captured,
                stderr_task,
            },
            _home: home,
        }
    }
}

impl Server {
    /// The server's HOME, which is also its working directory.
    pub fn home(&self) -> &Path {
        self._home.path()
    }

    /// A server on `sandbox` with the agent's key, the legacy era and default settings.
    pub fn builder(sandbox: &Sandbox) -> ServerBuilder<'_> {
        ServerBuilder {
            sandbox,
            era: Era::Legacy,
            api_key: sandbox.agent_api_key.clone(),
            env: Vec::new(),
        }
    }

    /// A server on the legacy era without the request-rate limit, for tests that make many calls.
    pub async fn unthrottled(sandbox: &Sandbox) -> Server {
        Server::builder(sandbox)
            .env("SERVER_RATE_LIMIT_REQUESTS_PER_SECOND", 0)
            .start()
            .await
    }

    pub async fn start(sandbox: &Sandbox, era: Era) -> Server {
        Server::builder(sandbox).era(era).start().await
    }

    /// Calls a tool; a protocol error is returned as such.
    pub async fn try_call(
        &self,
        tool: &str,
        arguments: Value,
    ) -> Result<CallToolResult, ServiceError> {
        let arguments: JsonObject = match arguments {
            Value::Object(o) => o,
            other => panic!("tool arguments must be an object, not {other}"),
        };
        let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
        tokio::time::timeout(PATIENCE, self.client.call_tool(params))
            .await
            .unwrap_or_else(|_| panic!("{tool} did not answer within {PATIENCE:?}"))
    }

    /// Calls a tool that must answer (successfully or with a tool error).
    pub async fn call(&self, tool: &str, arguments: Value) -> CallToolResult {
        let shown = arguments.to_string();
        self.try_call(tool, arguments)
            .await
            .unwrap_or_else(|e| panic!("{tool} {shown}: protocol error {e}"))
    }

    /// Calls a tool that must succeed; returns its structured content.
    pub async fn ok(&self, tool: &str, arguments: Value) -> Value {
        let shown = arguments.to_string();
        let result = self.call(tool, arguments).await;
        success_of(&result, &format!("{tool} {shown}"))
    }

    /// Calls a tool that must fail with a tool error; returns the `error` object.
    pub async fn err(&self, tool: &str, arguments: Value) -> Map<String, Value> {
        let shown = arguments.to_string();
        let result = self.call(tool, arguments).await;
        error_of(&result, &format!("{tool} {shown}"))
    }

    /// Calls a tool that must fail with `code`; returns the `error` object.
    pub async fn err_code(&self, tool: &str, arguments: Value, code: &str) -> Map<String, Value> {
        let shown = arguments.to_string();
        let error = self.err(tool, arguments).await;
        assert_eq!(error["code"], code, "{tool} {shown}: {error:?}");
        error
    }

    /// A good call still works (the server keeps serving after bad ones).
    pub async fn assert_still_serving(&self) {
        let page = self
            .ok(
                "search",
                json!({"entityType": "Account", "limit": 1, "select": ["name"]}),
            )
            .await;
        assert_eq!(page["list"].as_array().map(Vec::len), Some(1), "{page}");
    }

    /// Closes the session (stdin), waits for the child, and returns what it wrote to stderr
    /// (nothing for a server in this process, which logs nowhere).
    pub async fn stop(self) -> String {
        let Server {
            client, backend, ..
        } = self;
        let _ = tokio::time::timeout(PATIENCE, client.cancel()).await;
        match backend {
            Backend::Child {
                stderr,
                stderr_task,
            } => {
                let _ = tokio::time::timeout(PATIENCE, stderr_task).await;
                String::from_utf8_lossy(&stderr.lock().unwrap()).into_owned()
            }
            Backend::InProcess(server) => {
                server.stop().await;
                String::new()
            }
        }
    }
}

/// espomcp's server in the test's own process: the configuration loaded from the given
/// variables alone (no file, no process environment), [`Runtime::start`] and the entity-type
/// check as `espomcp serve` does them, and the MCP session over an in-memory pipe with
/// espomcp's stdio framing on the server's end. No logging is set up (the subscriber is
/// global to the process), so tests about logs use the child process.
///
/// Everything then runs on the test's runtime: the sandbox, the actors and both ends of the
/// session. On a `current_thread` runtime the test can pause tokio's clock and move it, and
/// every timer of the server moves with it.
pub struct InProcess {
    runtime: Runtime,
    /// The MCP session's service loop; it ends when the client closes its end of the pipe.
    serving: tokio::task::JoinHandle<()>,
}

impl InProcess {
    /// Starts the server on EspoCRM at `url`; returns it and the client's end of the pipe.
    pub async fn start(
        url: &str,
        api_key: &str,
        env: &[(String, String)],
    ) -> (InProcess, tokio::io::DuplexStream) {
        let variables = [("ESPOCRM_URL", url), ("ESPOCRM_API_KEY", api_key)]
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .chain(env.iter().cloned());
        let options = LoadOptions {
            env: variables.collect::<Environment>(),
            ..LoadOptions::default()
        };
        let config = Config::load(options)
            .unwrap_or_else(|e| panic!("the configuration loads: {e}"))
            .config;
        let runtime = Runtime::start(&config)
            .await
            .unwrap_or_else(|e| panic!("the runtime starts: {e}"));
        runtime
            .check_entity_types()
            .await
            .unwrap_or_else(|e| panic!("the entity types check: {e}"));
        let (client_end, server_end) = tokio::io::duplex(1 << 16);
        let (reader, writer) = tokio::io::split(server_end);
        let server = runtime.server.clone();
        // The server answers the client's first message, so it must be serving before the
        // client connects.
        let serving = tokio::spawn(async move {
            let running = server
                .serve(StdioTransport::new(reader, writer))
                .await
                .unwrap_or_else(|e| panic!("the MCP session starts: {e}"));
            let _ = running.waiting().await;
        });
        (InProcess { runtime, serving }, client_end)
    }

    /// Waits for the session to end (the client must have closed it), then stops the actors.
    pub async fn stop(self) {
        let _ = tokio::time::timeout(PATIENCE, self.serving).await;
        self.runtime.stop().await;
    }
}

/// Lets `duration` pass on tokio's clock at once: the clock is paused, the test sleeps on it
/// (whenever nothing in the runtime is ready to run, tokio jumps to the next timer), and it
/// resumes `duration` later than it was. Every timer and `tokio::time::Instant` of an
/// [`InProcess`] server sees the time go by. Needs a `current_thread` runtime.
///
/// Nothing due after `duration` can fire early: the sleep itself is the last timer the jumps
/// may reach. So a window short of every request timeout cannot end a request in flight, even
/// when the runtime jumps while its bytes are still on their way over loopback TCP.
pub async fn let_time_pass(duration: Duration) {
    tokio::time::pause();
    tokio::time::sleep(duration).await;
    tokio::time::resume();
}

/// After [`let_time_pass`], before a check that nothing happened: a short wait in real time, so
/// that a request already on its way over loopback TCP when the clock jumped has landed.
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// Awaits `work` on a paused clock for at most `window` of it (as [`let_time_pass`]): the
/// timers of the work (the sandbox's latency, the server's own waits) fire as soon as the
/// runtime is idle instead of in real time. If the window passes first, the clock resumes and
/// the work goes on in real time, so a jump of the paused clock can shorten a wait but never
/// fail one. Needs a `current_thread` runtime.
pub async fn fast_forward<F: Future>(window: Duration, work: F) -> F::Output {
    tokio::pin!(work);
    tokio::time::pause();
    let done = tokio::select! {
        biased;
        out = &mut work => Some(out),
        () = tokio::time::sleep(window) => None,
    };
    tokio::time::resume();
    match done {
        Some(out) => out,
        None => work.await,
    }
}

/// The text blocks of a result, joined.
pub fn text_of(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text())
        .map(|t| t.text.clone())
        .collect()
}

/// The structured content of a successful result, checked against its text twin.
pub fn success_of(result: &CallToolResult, what: &str) -> Value {
    assert_ne!(
        result.is_error,
        Some(true),
        "{what} failed: {}",
        text_of(result)
    );
    let structured = result
        .structured_content
        .clone()
        .unwrap_or_else(|| panic!("{what}: no structuredContent: {}", text_of(result)));
    let text: Value = serde_json::from_str(&text_of(result))
        .unwrap_or_else(|e| panic!("{what}: the text content is not JSON ({e})"));
    assert_eq!(
        text, structured,
        "{what}: text and structuredContent differ"
    );
    structured
}

/// The `error` object of a failed result, checked for its four parts. A tool error is the
/// JSON error as the only content and no `structuredContent` (clients validate that against
/// the tool's `outputSchema`, which an error does not match).
pub fn error_of(result: &CallToolResult, what: &str) -> Map<String, Value> {
    assert_eq!(
        result.is_error,
        Some(true),
        "{what} should have failed: {}",
        text_of(result)
    );
    assert_eq!(
        result.structured_content, None,
        "{what}: an error must not carry structuredContent"
    );
    assert_eq!(
        result.content.len(),
        1,
        "{what}: an error is one text block: {result:?}"
    );
    let body: Value = serde_json::from_str(&text_of(result))
        .unwrap_or_else(|e| panic!("{what}: the error text is not JSON ({e})"));
    let error = body["error"]
        .as_object()
        .cloned()
        .unwrap_or_else(|| panic!("{what}: no error object in {body}"));
    for key in ["code", "message", "suggestion"] {
        assert!(
            error[key].as_str().is_some_and(|s| !s.trim().is_empty()),
            "{what}: error.{key} missing or empty: {error:?}"
        );
    }
    assert!(error["retryable"].is_boolean(), "{what}: {error:?}");
    error
}

/// The entity type names of a `list_entity_types` answer (or the `espocrm://entity-types`
/// resource), in order.
pub fn entity_type_names(answer: &Value) -> Vec<String> {
    answer["entityTypes"]
        .as_array()
        .unwrap_or_else(|| panic!("no entityTypes in {answer}"))
        .iter()
        .map(|t| t["name"].as_str().expect("a name").to_owned())
        .collect()
}

/// The arguments of a `delete` call.
pub fn delete_params(entity_type: &str, id: &str, confirm: bool) -> CallToolRequestParams {
    let arguments: JsonObject = json!({"entityType": entity_type, "id": id, "confirm": confirm})
        .as_object()
        .cloned()
        .expect("an object");
    CallToolRequestParams::new("delete").with_arguments(arguments)
}

/// Sends `callers` confirmations of the same delete at once; each answer must be a deletion or
/// `DELETE_NOT_CONFIRMED`. Returns (deleted, refused).
pub async fn confirm_concurrently(
    peer: &rmcp::Peer<RoleClient>,
    entity_type: &str,
    id: &str,
    callers: usize,
) -> (usize, usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..callers {
        let peer = peer.clone();
        let params = delete_params(entity_type, id, true);
        tasks.spawn(async move { peer.call_tool(params).await });
    }
    let (mut deleted, mut refused) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        let result = joined.expect("the task ran").expect("no protocol error");
        if result.is_error == Some(true) {
            let error = error_of(&result, "a concurrent confirmation");
            assert_eq!(error["code"], "DELETE_NOT_CONFIRMED", "{error:?}");
            refused += 1;
        } else {
            let outcome = success_of(&result, "a concurrent confirmation");
            assert_eq!(outcome["status"], "deleted");
            deleted += 1;
        }
    }
    (deleted, refused)
}

/// The list of a page, as objects.
pub fn rows(page: &Value) -> Vec<Map<String, Value>> {
    page["list"]
        .as_array()
        .unwrap_or_else(|| panic!("no list in {page}"))
        .iter()
        .map(|r| r.as_object().cloned().expect("a record is an object"))
        .collect()
}

pub fn ids(page: &Value) -> Vec<String> {
    rows(page)
        .iter()
        .map(|r| r["id"].as_str().expect("an id").to_owned())
        .collect()
}

pub fn total(page: &Value) -> u64 {
    page["total"]
        .as_u64()
        .unwrap_or_else(|| panic!("no total in {page}"))
}

/// The record's page in EspoCRM's web UI, as the server must link it.
pub fn record_url(sandbox: &Sandbox, entity: &str, id: &str) -> String {
    format!("{}/#{entity}/view/{id}", sandbox.url)
}

/// Plain HTTP access to the sandbox, independent of espomcp.
pub struct Direct<'a> {
    sandbox: &'a Sandbox,
    http: reqwest::Client,
}

impl<'a> Direct<'a> {
    pub fn new(sandbox: &'a Sandbox) -> Self {
        Self {
            sandbox,
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1/{path}", self.sandbox.url)
    }

    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Value {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let response = self
            .http
            .get(format!("{}?{query}", self.url(path)))
            .header("X-Api-Key", &self.sandbox.agent_api_key)
            .send()
            .await
            .expect("the sandbox answers");
        let status = response.status();
        assert!(status.is_success(), "GET {path}: {status}");
        response.json().await.expect("JSON")
    }

    /// Every record of a type, all attributes, in the sandbox's default order.
    pub async fn all(&self, entity: &str) -> Vec<Map<String, Value>> {
        self.all_at(entity).await
    }

    /// Every record linked to `entity`/`id` through `link`.
    pub async fn all_related(&self, entity: &str, id: &str, link: &str) -> Vec<Map<String, Value>> {
        self.all_at(&format!("{entity}/{id}/{link}")).await
    }

    async fn all_at(&self, path: &str) -> Vec<Map<String, Value>> {
        let mut records = Vec::new();
        loop {
            let page = self
                .get(
                    path,
                    &[
                        ("maxSize", "200".to_owned()),
                        ("offset", records.len().to_string()),
                    ],
                )
                .await;
            let list = page["list"].as_array().cloned().unwrap_or_default();
            let total = page["total"].as_u64().unwrap_or(0) as usize;
            if list.is_empty() {
                break;
            }
            records.extend(list.into_iter().filter_map(|v| v.as_object().cloned()));
            if records.len() >= total {
                break;
            }
        }
        records
    }

    /// Creates a record; returns its id.
    pub async fn create(&self, entity: &str, body: Value) -> String {
        let answer = self.write(reqwest::Method::POST, entity, body).await;
        answer["id"].as_str().expect("the new id").to_owned()
    }

    /// Changes a record behind espomcp's back, as a person in EspoCRM's web UI would.
    pub async fn update(&self, entity: &str, id: &str, body: Value) {
        self.write(reqwest::Method::PUT, &format!("{entity}/{id}"), body)
            .await;
    }

    /// Sends one write as the agent's API user; fails the test unless it succeeds.
    async fn write(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response = self
            .http
            .request(method.clone(), self.url(path))
            .header("X-Api-Key", &self.sandbox.agent_api_key)
            .json(&body)
            .send()
            .await
            .expect("the sandbox answers");
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{method} {path}: {status} {answer}");
        answer
    }
}

/// Polls `check` every 50 ms until it holds, failing after `deadline`. For state outside the
/// test's runtime that offers nothing to await (a child process's port, what it has sent to
/// the sandbox), so the sleep between polls is real time; tests that can run the server in
/// process wait on tokio's clock instead ([`let_time_pass`], [`fast_forward`]).
pub async fn eventually<F, Fut>(deadline: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return;
        }
        assert!(
            started.elapsed() < deadline,
            "{what}: not within {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `body` and asserts that it made no request to EspoCRM at all.
pub async fn assert_no_upstream_request<F, Fut, T>(sandbox: &Sandbox, what: &str, body: F) -> T
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = T>,
{
    let before = sandbox.stats();
    let out = body().await;
    let after = sandbox.stats();
    assert_eq!(
        before.requests_by_route, after.requests_by_route,
        "{what}: a pure validation error must not reach EspoCRM"
    );
    out
}

/// Runs `body` and asserts that no write (any method but GET) reached the sandbox meanwhile:
/// for refusals that may read first (the record, the schema) but must change nothing.
pub async fn assert_no_upstream_write<F, Fut, T>(sandbox: &Sandbox, what: &str, body: F) -> T
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = T>,
{
    let writes = |stats: espocrm_sandbox::Stats| -> Vec<(String, u64)> {
        stats
            .requests_by_route
            .into_iter()
            .filter(|(route, _)| !route.starts_with("GET "))
            .collect()
    };
    let before = writes(sandbox.stats());
    let out = body().await;
    let after = writes(sandbox.stats());
    assert_eq!(
        before, after,
        "{what}: a refused write must not reach EspoCRM"
    );
    out
}

/// Lower-case, for the case-insensitive comparisons of EspoCRM's collation.
pub fn lower(value: &Value) -> Option<String> {
    value.as_str().map(str::to_lowercase)
}

pub fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}
