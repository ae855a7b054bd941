//! espomcp's benchmarks (issue #6): see BENCHMARKS.md for how to run them and the figures.
//!
//! Groups:
//! - `overhead`: `get`, `search` (20 records) and warm `get_schema` as MCP tool calls through the
//!   real binary over stdio, beside the same upstream HTTP request made directly. Two pairs of
//!   clients: rmcp's client beside reqwest (what an application would use), and a blocking line
//!   client ([`LineClient`]: write a line, read a line) beside a blocking HTTP/1.1 client
//!   ([`LeanHttp`]), which measure the server and the transport with the least client work.
//!   Besides criterion's estimates, `cargo bench` prints p50/p99 of N = 2,000 calls of each
//!   kind, each pair interleaved call by call, and the added time; and, as the floor no tool
//!   call can go below, the same for an MCP `ping` and for the smallest tool answer
//!   (`get_schema` of an unknown entity type). With `ESPOMCP_BENCH_COMPARE=/path/to/another/
//!   espomcp` the line client also runs that binary, interleaved call by call with this one,
//!   and prints the ratio: an A/B within one run.
//! - `answer`: the server's JSON work for one `search` answer of 20 records, step by step, in
//!   process (parse, text copy, the JSON-RPC line, freeing the page).
//! - `throughput`: 16 concurrent callers on one stdio connection (rate limit off,
//!   max_concurrent 16); then max_concurrent 4 with 20 ms of sandbox latency (bound: 200/s).
//! - `startup`: spawn to the `initialize` reply; the child's RSS idle, after 5,000 and 10,000
//!   calls (printed).
//! - `validators`: where-clause validation and query encoding, in process.
//!
//! Everything runs on loopback against an in-process sandbox. With `ESPOCRM_URL` and
//! `ESPOCRM_API_KEY` set, `overhead` and `startup` run against that EspoCRM instead (read-only
//! calls on the first Account it lists; the lean HTTP client only for `http://`); `throughput`
//! and the footprint need the sandbox (fault injection, 10,000 calls) and are skipped.
//!
//! The extra measurements (percentiles, calls/s, RSS) run only in bench mode (`--bench`), so
//! `cargo test --benches` and `cargo nextest run --all-targets` only smoke-test each routine once.

use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use espocrm_sandbox::{FaultConfig, Sandbox};
use espomcp::espo::query::ListQuery;
use espomcp::validate::names;
use espomcp::validate::where_clause::{self, WhereCondition};
use espomcp_actors::Schema;
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, ClientRequest, Implementation,
    JsonObject, PingRequest, ProtocolVersion,
};
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};
use std::io::{BufRead, Read, Write};
use tempfile::TempDir;
use tokio::runtime::Runtime;

const BIN: &str = env!("CARGO_BIN_EXE_espomcp");
const METADATA: &str = include_str!("../actors/tests/fixtures/metadata.json");
const APP_USER: &str = include_str!("../actors/tests/fixtures/app-user.json");

/// Variables of the developer's that must not reach the child.
const CONFIG_VARIABLES: [&str; 20] = [
    "ESPOCRM_URL",
    "ESPOCRM_API_KEY",
    "ESPOCRM_TIMEOUT_SECS",
    "ESPOCRM_TLS_VERIFY",
    "ESPOCRM_EMAIL_FROM",
    "SERVER_MAX_LIMIT",
    "SERVER_METADATA_TTL_SECS",
    "SERVER_RATE_LIMIT_REQUESTS_PER_SECOND",
    "SERVER_RATE_LIMIT_BURST",
    "SERVER_RATE_LIMIT_MAX_CONCURRENT",
    "SERVER_DELETE_CONFIRMATION_TTL_SECS",
    "SERVER_PROMPTS_DIR",
    "SERVER_AGGREGATE_MAX_RECORDS",
    "SERVER_CALL_TIMEOUT_SECS",
    "LOGGING_LEVEL",
    "LOGGING_JSON",
    "LOGGING_FILE",
    "RUST_LOG",
    "HOME",
    "XDG_CONFIG_HOME",
];

/// Iterations of the hand-timed percentile runs.
const PERCENTILE_N: usize = 2_000;

/// The rate limiter off (the default is 10 requests per second).
const NO_RATE_LIMIT: &[(&str, &str)] = &[("SERVER_RATE_LIMIT_REQUESTS_PER_SECOND", "0")];

type Client = RunningService<RoleClient, ClientConfig>;

/// Whether criterion measures (`cargo bench`) rather than lists or smoke-tests.
fn bench_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--list" || a == "--test")
}

/// Whether the command line's filter (if any) selects `group`.
fn selected(group: &str) -> bool {
    let filter = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_default();
    filter.is_empty() || group.contains(&filter) || filter.contains(group)
}

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

/// The EspoCRM the binary talks to: the sandbox, or the one named by the environment.
struct Upstream {
    url: String,
    api_key: String,
    sandbox: Option<Sandbox>,
}

impl Upstream {
    async fn start() -> Upstream {
        match (
            std::env::var("ESPOCRM_URL"),
            std::env::var("ESPOCRM_API_KEY"),
        ) {
            (Ok(url), Ok(api_key)) if !url.is_empty() => Upstream {
                url: url.trim_end_matches('/').to_owned(),
                api_key,
                sandbox: None,
            },
            _ => {
                let sandbox = Sandbox::start().await.expect("the sandbox starts");
                Upstream {
                    url: sandbox.url.clone(),
                    api_key: sandbox.agent_api_key.clone(),
                    sandbox: Some(sandbox),
                }
            }
        }
    }
}

/// `espomcp` as a child over stdio, with a connected client.
struct Server {
    client: Client,
    pid: Option<u32>,
    _home: TempDir,
}

impl Server {
    async fn start(upstream: &Upstream, env: &[(&str, &str)]) -> (Server, Duration) {
        let home = TempDir::new().expect("a temporary home");
        let command = child_command(BIN, upstream, env, &home);
        let started = Instant::now();
        let (transport, _) = TokioChildProcess::builder(command)
            .stderr(Stdio::null())
            .spawn()
            .expect("espomcp spawns");
        let pid = transport.id();
        let config = ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("espomcp-bench", "0.0.0"),
        )
        .with_protocol_version(ProtocolVersion::V_2025_11_25);
        let client = config.serve(transport).await.expect("initialize");
        let elapsed = started.elapsed();
        (
            Server {
                client,
                pid,
                _home: home,
            },
            elapsed,
        )
    }

    async fn stop(self) {
        let _ = self.client.cancel().await;
    }
}

/// The command that starts `binary` as a stdio server on `upstream`, with a home of its own and
/// none of the developer's settings.
fn child_command(
    binary: &str,
    upstream: &Upstream,
    env: &[(&str, &str)],
    home: &TempDir,
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(binary);
    for name in CONFIG_VARIABLES {
        command.env_remove(name);
    }
    command.configure(|c| {
        c.env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join(".config"))
            .current_dir(home.path())
            .kill_on_drop(true)
            .env("ESPOCRM_URL", &upstream.url)
            .env("ESPOCRM_API_KEY", &upstream.api_key)
            .env("LOGGING_LEVEL", "warn");
        for (name, value) in env {
            c.env(name, value);
        }
    })
}

/// `espomcp` as a child over stdio, driven by hand with blocking pipes: a call writes one
/// JSON-RPC line and reads the answer's line as bytes, checking only its id and `isError`, as
/// [`LeanHttp`] reads the upstream body. It runs on the bench's main thread, outside the tokio
/// runtime, so a call costs the server, the pipe and two wake-ups, and no client machinery.
/// The rmcp client ([`Server`]) adds its own tasks and its parsing of the answer (both copies)
/// into typed values.
struct LineClient {
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
    line: Vec<u8>,
    next_id: u64,
    child: std::process::Child,
    _home: TempDir,
}

impl LineClient {
    fn start(binary: &str, upstream: &Upstream, env: &[(&str, &str)]) -> LineClient {
        let home = TempDir::new().expect("a temporary home");
        let mut child = child_command(binary, upstream, env, &home)
            .as_std_mut()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("espomcp spawns");
        let mut client = LineClient {
            stdin: child.stdin.take().expect("a stdin pipe"),
            stdout: std::io::BufReader::with_capacity(
                256 * 1024,
                child.stdout.take().expect("a stdout pipe"),
            ),
            line: Vec::with_capacity(256 * 1024),
            next_id: 0,
            child,
            _home: home,
        };
        client.request(
            "initialize",
            json!({
                "protocolVersion": ProtocolVersion::V_2025_11_25,
                "capabilities": {},
                "clientInfo": {"name": "espomcp-bench-lines", "version": "0.0.0"}
            }),
        );
        client.write(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        client
    }

    fn write(&mut self, message: &Value) {
        let mut bytes = serde_json::to_vec(message).expect("a JSON line");
        bytes.push(b'\n');
        self.stdin.write_all(&bytes).expect("stdin open");
        self.stdin.flush().expect("stdin open");
    }

    /// Sends a request and reads its answer's line into `self.line`; panics on an answer to
    /// another id or a JSON-RPC error.
    fn request(&mut self, method: &str, params: Value) {
        self.next_id += 1;
        let id = self.next_id;
        self.write(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.line.clear();
        self.stdout
            .read_until(b'\n', &mut self.line)
            .expect("stdout open");
        let head = format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":");
        assert!(
            self.line.starts_with(head.as_bytes()),
            "{method}: {}",
            String::from_utf8_lossy(&self.line[..self.line.len().min(300)])
        );
    }

    /// Calls a tool; panics unless its `isError` is `failing`.
    fn call(&mut self, tool: &str, arguments: &Value, failing: bool) {
        self.request("tools/call", json!({"name": tool, "arguments": arguments}));
        let tail = &self.line[self.line.len().saturating_sub(64)..];
        let expected: &[u8] = if failing {
            b"\"isError\":true"
        } else {
            b"\"isError\":false"
        };
        assert!(
            tail.windows(expected.len()).any(|w| w == expected),
            "{tool}: {}",
            String::from_utf8_lossy(tail)
        );
    }

    fn run(&mut self, kind: Kind, args: &Value) {
        match kind {
            Kind::Ping => self.request("ping", json!({})),
            Kind::ToolError => self.call("get_schema", args, true),
            Kind::Tool(tool) => self.call(tool, args, false),
        }
    }
}

impl Drop for LineClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The line client's counterpart for the direct requests: HTTP/1.1 over one kept-alive
/// loopback connection with blocking I/O, reading the body by its `Content-Length`, as
/// [`LineClient`] reads a line. Plain `http://` only (the sandbox); `None` for TLS.
struct LeanHttp {
    stream: std::io::BufReader<std::net::TcpStream>,
    host: String,
    api_key: String,
    body: Vec<u8>,
}

impl LeanHttp {
    fn connect(upstream: &Upstream) -> Option<LeanHttp> {
        let host = upstream
            .url
            .strip_prefix("http://")?
            .split('/')
            .next()?
            .to_owned();
        let stream = std::net::TcpStream::connect(&host).ok()?;
        stream.set_nodelay(true).ok()?;
        Some(LeanHttp {
            stream: std::io::BufReader::with_capacity(256 * 1024, stream),
            host,
            api_key: upstream.api_key.clone(),
            body: Vec::with_capacity(256 * 1024),
        })
    }

    /// `GET url` (same host); panics unless the answer is a 2xx with a body.
    fn get(&mut self, url: &str) {
        let path = url
            .strip_prefix("http://")
            .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
            .expect("an http:// URL with a path");
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nX-Api-Key: {}\r\nAccept: */*\r\n\r\n",
            self.host, self.api_key
        );
        self.stream
            .get_mut()
            .write_all(request.as_bytes())
            .expect("the upstream is up");
        let mut length = None;
        let mut status = String::new();
        self.stream.read_line(&mut status).expect("a status line");
        assert!(status.starts_with("HTTP/1.1 2"), "{url}: {status}");
        loop {
            let mut header = String::new();
            self.stream.read_line(&mut header).expect("a header");
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse::<usize>().ok();
            }
        }
        let length = length.expect("a Content-Length");
        self.body.resize(length, 0);
        self.stream
            .read_exact(&mut self.body)
            .expect("the whole body");
    }
}

fn params(tool: &str, arguments: &Value) -> CallToolRequestParams {
    let arguments: JsonObject = arguments.as_object().cloned().expect("an object");
    CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments)
}

/// Calls a tool that must succeed.
async fn call(peer: &rmcp::Peer<RoleClient>, tool: &str, arguments: &Value) {
    let result = peer
        .call_tool(params(tool, arguments))
        .await
        .unwrap_or_else(|e| panic!("{tool}: protocol error {e}"));
    assert_ne!(result.is_error, Some(true), "{tool} failed: {result:?}");
}

/// An MCP `ping`: the protocol round trip alone, no tool.
async fn ping(peer: &rmcp::Peer<RoleClient>) {
    peer.send_request(ClientRequest::PingRequest(PingRequest {
        method: Default::default(),
        extensions: Default::default(),
    }))
    .await
    .expect("a ping answer");
}

/// Calls a tool that must fail with a tool error (not a protocol error).
async fn call_failing(peer: &rmcp::Peer<RoleClient>, tool: &str, arguments: &Value) {
    let result = peer
        .call_tool(params(tool, arguments))
        .await
        .unwrap_or_else(|e| panic!("{tool}: protocol error {e}"));
    assert_eq!(result.is_error, Some(true), "{tool} succeeded: {result:?}");
}

/// The binary to compare with, from `ESPOMCP_BENCH_COMPARE`.
fn compare_binary() -> Option<String> {
    std::env::var("ESPOMCP_BENCH_COMPARE")
        .ok()
        .filter(|path| !path.is_empty())
}

/// The same request the tool makes upstream, straight to EspoCRM.
async fn direct(http: &reqwest::Client, url: &str) {
    let response = http.get(url).send().await.expect("the upstream answers");
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    let _ = response.bytes().await.expect("a body");
}

/// The shared fixture of the `overhead` group.
struct Overhead {
    upstream: Upstream,
    server: Server,
    /// A second server of this binary, driven by the line client.
    lines: Mutex<LineClient>,
    /// The direct requests' counterpart of the line client (`None` unless `http://`).
    lean: Option<Mutex<LeanHttp>>,
    /// The `ESPOMCP_BENCH_COMPARE` binary, when given, driven by the line client.
    compare: Option<Mutex<LineClient>>,
    http: reqwest::Client,
    get_args: Value,
    get_url: String,
    search_args: Value,
    search_url: String,
    schema_args: Value,
}

fn overhead() -> &'static Overhead {
    static FIXTURE: OnceLock<Overhead> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        runtime().block_on(async {
            let upstream = Upstream::start().await;
            let http = reqwest::Client::builder()
                .default_headers(
                    [(
                        reqwest::header::HeaderName::from_static("x-api-key"),
                        upstream.api_key.parse().expect("a header value"),
                    )]
                    .into_iter()
                    .collect(),
                )
                .build()
                .expect("a reqwest client");
            let api = format!("{}/api/v1", upstream.url);
            let first: Value = http
                .get(format!("{api}/Account?maxSize=1&select=id"))
                .send()
                .await
                .expect("the upstream answers")
                .json()
                .await
                .expect("a JSON list");
            let id = first["list"][0]["id"]
                .as_str()
                .expect("at least one Account")
                .to_owned();
            // The default rate limit (10/s) would make every sequential call wait ~100 ms: it is
            // a deliberate throttle, not overhead, so it is off here.
            let (server, _) = Server::start(&upstream, NO_RATE_LIMIT).await;
            let mut lines = LineClient::start(BIN, &upstream, NO_RATE_LIMIT);
            let mut compare =
                compare_binary().map(|binary| LineClient::start(&binary, &upstream, NO_RATE_LIMIT));
            let lean = LeanHttp::connect(&upstream);
            let get_args = json!({"entityType": "Account", "id": id});
            let search_args = json!({"entityType": "Account", "limit": 20});
            let schema_args = json!({"entityType": "Opportunity"});
            // Warm every path (the metadata cache in particular) once.
            let peer = server.client.peer();
            call(peer, "get", &get_args).await;
            call(peer, "search", &search_args).await;
            call(peer, "get_schema", &schema_args).await;
            for client in std::iter::once(&mut lines).chain(compare.as_mut()) {
                client.call("get", &get_args, false);
                client.call("search", &search_args, false);
                client.call("get_schema", &schema_args, false);
            }
            let fixture = Overhead {
                get_args,
                get_url: format!("{api}/Account/{id}"),
                search_args,
                search_url: format!("{api}/Account?maxSize=20&offset=0"),
                schema_args,
                upstream,
                server,
                lines: Mutex::new(lines),
                lean: lean.map(Mutex::new),
                compare: compare.map(Mutex::new),
                http,
            };
            direct(&fixture.http, &fixture.get_url).await;
            fixture
        })
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// What one percentile run calls.
#[derive(Clone, Copy)]
enum Kind {
    Ping,
    /// `get_schema` of an entity type that does not exist: the smallest tool answer.
    ToolError,
    Tool(&'static str),
}

async fn run_kind(peer: &rmcp::Peer<RoleClient>, kind: Kind, args: &Value) {
    match kind {
        Kind::Ping => ping(peer).await,
        Kind::ToolError => call_failing(peer, "get_schema", args).await,
        Kind::Tool(tool) => call(peer, tool, args).await,
    }
}

fn p50_p99(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort();
    (
        micros(percentile(samples, 50.0)),
        micros(percentile(samples, 99.0)),
    )
}

/// p50/p99 of N interleaved MCP and direct calls of each kind, with the added time; the same
/// for the floor (ping, the smallest tool answer); and the compared binary, when given.
fn overhead_percentiles() {
    let f = overhead();
    let rt = runtime();
    println!(
        "\n== overhead percentiles (N = {PERCENTILE_N} each, interleaved; upstream {}) ==",
        if f.upstream.sandbox.is_some() {
            "sandbox"
        } else {
            "ESPOCRM_URL"
        }
    );
    let unknown = json!({"entityType": "NoSuchEntityType"});
    let kinds: [(&str, Kind, &Value, Option<&str>); 5] = [
        ("ping", Kind::Ping, &Value::Null, None),
        ("tool_error", Kind::ToolError, &unknown, None),
        ("get", Kind::Tool("get"), &f.get_args, Some(&f.get_url)),
        (
            "search",
            Kind::Tool("search"),
            &f.search_args,
            Some(&f.search_url),
        ),
        ("get_schema", Kind::Tool("get_schema"), &f.schema_args, None),
    ];
    for (label, kind, args, url) in kinds {
        let [mut mcp, mut lines, mut other, mut http, mut lean] = [const { Vec::new() }; 5];
        let peer = f.server.client.peer();
        let mut line_client = f.lines.lock().expect("the line client");
        let mut lean_http = f.lean.as_ref().map(|l| l.lock().expect("the lean client"));
        let mut compare = f
            .compare
            .as_ref()
            .map(|c| c.lock().expect("the compared binary"));
        // Two pairs, each interleaved call by call: the async clients on the runtime, then the
        // blocking ones on this thread, outside it (mixing the two in one loop would make each
        // blocking call follow a wake-up of the runtime's threads).
        rt.block_on(async {
            for _ in 0..PERCENTILE_N {
                let t = Instant::now();
                run_kind(peer, kind, args).await;
                mcp.push(t.elapsed());
                if let Some(url) = url {
                    let t = Instant::now();
                    direct(&f.http, url).await;
                    http.push(t.elapsed());
                }
            }
        });
        for _ in 0..PERCENTILE_N {
            let t = Instant::now();
            line_client.run(kind, args);
            lines.push(t.elapsed());
            if let Some(compare) = compare.as_mut() {
                let t = Instant::now();
                compare.run(kind, args);
                other.push(t.elapsed());
            }
            if let (Some(url), Some(lean_http)) = (url, lean_http.as_mut()) {
                let t = Instant::now();
                lean_http.get(url);
                lean.push(t.elapsed());
            }
        }
        let pairs = [
            ("rmcp client", &mut mcp, "reqwest", &mut http),
            ("line client", &mut lines, "lean HTTP", &mut lean),
        ];
        for (client, samples, direct_client, direct) in pairs {
            let (m50, m99) = p50_p99(samples);
            let mut line = format!("{label:<10} {client}: p50 {m50:>8.1} µs  p99 {m99:>8.1} µs");
            if url.is_none() {
                line.push_str("  (no upstream request)");
            } else if direct.is_empty() {
                line.push_str(&format!("  ({direct_client}: not measured)"));
            } else {
                let (h50, h99) = p50_p99(direct);
                line.push_str(&format!(
                    " | direct ({direct_client}) p50 {h50:>8.1} µs  p99 {h99:>8.1} µs | added p50 {:>8.1} µs  p99 {:>8.1} µs",
                    m50 - h50,
                    m99 - h99
                ));
            }
            println!("{line}");
        }
        if !other.is_empty() {
            let (l50, l99) = p50_p99(&mut lines);
            let (o50, o99) = p50_p99(&mut other);
            println!(
                "{:<10} compared binary (line client): p50 {o50:>8.1} µs  p99 {o99:>8.1} µs; this one / that one: p50 {:.2}, p99 {:.2}",
                "",
                l50 / o50,
                l99 / o99
            );
        }
    }
}

fn bench_overhead(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("overhead");
    group.sample_size(30);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.bench_function(BenchmarkId::new("get", "mcp"), |b| {
        let f = overhead();
        b.to_async(rt)
            .iter(|| call(f.server.client.peer(), "get", &f.get_args))
    });
    group.bench_function(BenchmarkId::new("get", "lines"), |b| {
        let f = overhead();
        b.iter(|| {
            f.lines
                .lock()
                .expect("lines")
                .call("get", &f.get_args, false)
        })
    });
    group.bench_function(BenchmarkId::new("get", "direct"), |b| {
        let f = overhead();
        b.to_async(rt).iter(|| direct(&f.http, &f.get_url))
    });
    if let Some(lean) = &overhead().lean {
        group.bench_function(BenchmarkId::new("get", "direct_lean"), |b| {
            let f = overhead();
            b.iter(|| lean.lock().expect("lean").get(&f.get_url))
        });
    }
    group.bench_function(BenchmarkId::new("search20", "mcp"), |b| {
        let f = overhead();
        b.to_async(rt)
            .iter(|| call(f.server.client.peer(), "search", &f.search_args))
    });
    group.bench_function(BenchmarkId::new("search20", "lines"), |b| {
        let f = overhead();
        b.iter(|| {
            f.lines
                .lock()
                .expect("lines")
                .call("search", &f.search_args, false)
        })
    });
    group.bench_function(BenchmarkId::new("search20", "direct"), |b| {
        let f = overhead();
        b.to_async(rt).iter(|| direct(&f.http, &f.search_url))
    });
    if let Some(lean) = &overhead().lean {
        group.bench_function(BenchmarkId::new("search20", "direct_lean"), |b| {
            let f = overhead();
            b.iter(|| lean.lock().expect("lean").get(&f.search_url))
        });
    }
    group.bench_function(BenchmarkId::new("get_schema_warm", "mcp"), |b| {
        let f = overhead();
        b.to_async(rt)
            .iter(|| call(f.server.client.peer(), "get_schema", &f.schema_args))
    });
    group.bench_function(BenchmarkId::new("get_schema_warm", "lines"), |b| {
        let f = overhead();
        b.iter(|| {
            f.lines
                .lock()
                .expect("lines")
                .call("get_schema", &f.schema_args, false)
        })
    });
    group.finish();
    if bench_mode() && selected("overhead") {
        overhead_percentiles();
    }
}

/// `total` `get` calls from `callers` concurrent tasks on one connection; calls per second.
async fn run_concurrent(server: &Server, args: &Value, callers: usize, total: usize) -> Duration {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..callers {
        let peer = server.client.peer().clone();
        let next = next.clone();
        let args = args.clone();
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < total {
                call(&peer, "get", &args).await;
            }
        }));
    }
    for task in tasks {
        task.await.expect("a caller");
    }
    started.elapsed()
}

struct Throughput16 {
    upstream: Upstream,
    server: Server,
    args: Value,
}

async fn throughput_fixture(max_concurrent: &str) -> Option<Throughput16> {
    let upstream = Upstream::start().await;
    upstream.sandbox.as_ref()?;
    let id = first_account(&upstream).await;
    let (server, _) = Server::start(
        &upstream,
        &[
            ("SERVER_RATE_LIMIT_REQUESTS_PER_SECOND", "0"),
            ("SERVER_RATE_LIMIT_MAX_CONCURRENT", max_concurrent),
        ],
    )
    .await;
    let args = json!({"entityType": "Account", "id": id});
    call(server.client.peer(), "get", &args).await;
    Some(Throughput16 {
        upstream,
        server,
        args,
    })
}

fn bench_throughput(c: &mut Criterion) {
    let rt = runtime();
    if std::env::var("ESPOCRM_URL").is_ok_and(|u| !u.is_empty()) {
        println!("throughput: skipped (needs the sandbox; ESPOCRM_URL is set)");
        return;
    }
    let mut group = c.benchmark_group("throughput");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    const BATCH: usize = 320;
    group.throughput(Throughput::Elements(BATCH as u64));
    let fast: OnceLock<Option<Throughput16>> = OnceLock::new();
    group.bench_function("get_16_callers_mc16", |b| {
        let f = fast
            .get_or_init(|| rt.block_on(throughput_fixture("16")))
            .as_ref()
            .expect("sandbox");
        b.to_async(rt).iter_custom(|iters| async move {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += run_concurrent(&f.server, &f.args, 16, BATCH).await;
            }
            total
        })
    });
    group.finish();

    if bench_mode() && selected("throughput") {
        println!("\n== throughput (16 callers, one stdio connection, rate limit off) ==");
        let f = fast
            .get_or_init(|| rt.block_on(throughput_fixture("16")))
            .as_ref()
            .expect("sandbox");
        let n = 10_000;
        let elapsed = rt.block_on(run_concurrent(&f.server, &f.args, 16, n));
        println!(
            "max_concurrent 16, no latency: {n} calls in {:.3} s = {:.0} calls/s",
            elapsed.as_secs_f64(),
            n as f64 / elapsed.as_secs_f64()
        );
        let slow = rt.block_on(throughput_fixture("4")).expect("sandbox");
        if let Some(sandbox) = &slow.upstream.sandbox {
            sandbox.set_faults(FaultConfig {
                latency_ms: 20,
                ..Default::default()
            });
        }
        let n = 1_000;
        let elapsed = rt.block_on(run_concurrent(&slow.server, &slow.args, 16, n));
        let rate = n as f64 / elapsed.as_secs_f64();
        let peak = slow
            .upstream
            .sandbox
            .as_ref()
            .map(|s| s.stats().peak_in_flight)
            .unwrap_or(0);
        println!(
            "max_concurrent 4, 20 ms latency: {n} calls in {:.3} s = {rate:.1} calls/s = {:.1}% of the 200/s bound (sandbox peak in flight {peak})",
            elapsed.as_secs_f64(),
            rate / 2.0
        );
        rt.block_on(slow.server.stop());
    }
    if let Some(Some(f)) = fast.into_inner() {
        rt.block_on(f.server.stop());
    }
}

/// The id of the first Account the upstream lists.
async fn first_account(upstream: &Upstream) -> String {
    let list: Value = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/Account?maxSize=1&select=id",
            upstream.url
        ))
        .header("x-api-key", &upstream.api_key)
        .send()
        .await
        .expect("the upstream answers")
        .json()
        .await
        .expect("a JSON list");
    list["list"][0]["id"]
        .as_str()
        .expect("at least one Account")
        .to_owned()
}

fn rss_kib(pid: Option<u32>) -> Option<u64> {
    let status =
        std::fs::read_to_string(Path::new("/proc").join(pid?.to_string()).join("status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn bench_startup(c: &mut Criterion) {
    let rt = runtime();
    let upstream: OnceLock<Upstream> = OnceLock::new();
    let mut group = c.benchmark_group("startup");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("spawn_to_initialize", |b| {
        let up = upstream.get_or_init(|| rt.block_on(Upstream::start()));
        b.to_async(rt).iter_custom(|iters| async move {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (server, elapsed) = Server::start(up, &[]).await;
                total += elapsed;
                server.stop().await;
            }
            total
        })
    });
    group.finish();

    if bench_mode() && selected("startup") {
        let up = upstream.get_or_init(|| rt.block_on(Upstream::start()));
        if up.sandbox.is_none() {
            println!("footprint: skipped (10,000 calls; runs on the sandbox only)");
            return;
        }
        println!("\n== footprint (VmRSS of the child) ==");
        rt.block_on(async {
            // Idle RSS varies by a few hundred KiB from start to start (which code pages the
            // start touches), so it is the median of the same 20 starts.
            let (mut starts, mut idle_rss): (Vec<Duration>, Vec<u64>) = (Vec::new(), Vec::new());
            for _ in 0..20 {
                let (server, elapsed) = Server::start(up, &[]).await;
                starts.push(elapsed);
                tokio::time::sleep(Duration::from_millis(200)).await;
                idle_rss.extend(rss_kib(server.pid));
                server.stop().await;
            }
            starts.sort();
            idle_rss.sort();
            println!(
                "spawn to initialize reply, 20 starts: p50 {:.2} ms, max {:.2} ms",
                starts[9].as_secs_f64() * 1e3,
                starts[19].as_secs_f64() * 1e3
            );
            if let (Some(min), Some(max)) = (idle_rss.first(), idle_rss.last()) {
                println!(
                    "RSS idle (200 ms after initialize), {} starts: median {} KiB, min {min} KiB, max {max} KiB",
                    idle_rss.len(),
                    idle_rss[(idle_rss.len() - 1) / 2]
                );
            }
            let (server, _) = Server::start(up, NO_RATE_LIMIT).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            let idle = rss_kib(server.pid);
            let id = first_account(up).await;
            let get = json!({"entityType": "Account", "id": id});
            let search = json!({"entityType": "Account", "limit": 20});
            let mut at_5000 = None;
            let peer = server.client.peer();
            for i in 1..=10_000 {
                // Mostly gets, every tenth a 20-record search.
                if i % 10 == 0 {
                    call(peer, "search", &search).await;
                } else {
                    call(peer, "get", &get).await;
                }
                if i == 5_000 {
                    at_5000 = rss_kib(server.pid);
                }
            }
            let at_10000 = rss_kib(server.pid);
            let show = |v: Option<u64>| v.map_or("n/a".to_owned(), |k| format!("{k} KiB"));
            println!(
                "the long-running server: RSS idle {}, after 5,000 calls {}, after 10,000 calls {}; growth 5,000→10,000: {}",
                show(idle),
                show(at_5000),
                show(at_10000),
                match (at_5000, at_10000) {
                    (Some(a), Some(b)) => format!("{} KiB", b as i64 - a as i64),
                    _ => "n/a".to_owned(),
                }
            );
            server.stop().await;
        });
    }
}

fn bench_validators(c: &mut Criterion) {
    let metadata: Value = serde_json::from_str(METADATA).expect("metadata fixture");
    let app_user: Value = serde_json::from_str(APP_USER).expect("app-user fixture");
    let schema = Schema::from_espo(&metadata, &app_user).expect("a schema");
    let entity = schema.entity("Opportunity").expect("Opportunity");
    let simple: Vec<WhereCondition> = serde_json::from_value(json!([
        {"field": "stage", "type": "equals", "value": "Proposal"}
    ]))
    .expect("conditions");
    let typical: Vec<WhereCondition> = serde_json::from_value(json!([
        {"field": "stage", "type": "in", "value": ["Proposal", "Negotiation"]},
        {"field": "amount", "type": "greaterThan", "value": 10000},
        {"field": "closeDate", "type": "between", "value": ["2024-01-01", "2024-12-31"]},
        {"type": "or", "value": [
            {"field": "name", "type": "like", "value": "%Acme%"},
            {"field": "accountId", "type": "isNotNull"}
        ]}
    ]))
    .expect("conditions");
    let select = names::select(entity, &["name", "stage", "amount", "account"]).expect("select");
    let query = ListQuery {
        filter: where_clause::validate(entity, &typical).expect("valid"),
        select,
        max_size: Some(20),
        offset: Some(0),
        ..Default::default()
    };

    let mut group = c.benchmark_group("validators");
    group.sample_size(50);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    group.bench_function("where_validate_1_condition", |b| {
        b.iter(|| where_clause::validate(entity, std::hint::black_box(&simple)).expect("valid"))
    });
    group.bench_function("where_validate_5_conditions", |b| {
        b.iter(|| where_clause::validate(entity, std::hint::black_box(&typical)).expect("valid"))
    });
    group.bench_function("list_query_to_pairs", |b| {
        b.iter(|| std::hint::black_box(&query).to_pairs())
    });
    group.finish();
}

/// A page of 20 Accounts as the sandbox answers `GET Account?maxSize=20` (21 KB).
fn account_page() -> Vec<u8> {
    runtime().block_on(async {
        let sandbox = Sandbox::start().await.expect("the sandbox starts");
        let body = reqwest::Client::new()
            .get(format!(
                "{}/api/v1/Account?maxSize=20&offset=0",
                sandbox.url
            ))
            .header("x-api-key", &sandbox.agent_api_key)
            .send()
            .await
            .expect("the sandbox answers")
            .bytes()
            .await
            .expect("a body");
        body.to_vec()
    })
}

/// The JSON-RPC line rmcp writes for a result (its codec: `serde_json::to_writer` into a buffer).
#[derive(serde::Serialize)]
struct Envelope<'a> {
    jsonrpc: &'static str,
    id: u64,
    result: &'a rmcp::model::CallToolResult,
}

/// The server's JSON work for one `search` answer of 20 records, step by step, in process:
/// what the added time of `search` is made of (see BENCHMARKS.md).
fn bench_answer(c: &mut Criterion) {
    let body = account_page();
    let page: Value = serde_json::from_slice(&body).expect("a JSON page");
    let result = espomcp::tools::structured(page.clone());
    let mut group = c.benchmark_group("answer");
    group.sample_size(50);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("parse_serde_json", |b| {
        b.iter(|| serde_json::from_slice::<Value>(std::hint::black_box(&body)).expect("JSON"))
    });
    group.bench_function("parse_espomcp", |b| {
        b.iter(|| espomcp_actors::parse_json(std::hint::black_box(&body)).expect("JSON"))
    });
    group.bench_function("text_display", |b| {
        b.iter(|| std::hint::black_box(&page).to_string())
    });
    group.bench_function("text_espomcp", |b| {
        b.iter(|| espomcp::tools::compact(std::hint::black_box(&page)))
    });
    group.bench_function("encode_jsonrpc_line", |b| {
        b.iter(|| {
            serde_json::to_vec(&Envelope {
                jsonrpc: "2.0",
                id: 1,
                result: std::hint::black_box(&result),
            })
            .expect("a line")
        })
    });
    group.bench_function("drop_page", |b| {
        b.iter_batched(|| page.clone(), drop, criterion::BatchSize::SmallInput)
    });
    group.bench_function("whole_answer", |b| {
        b.iter(|| {
            let page = espomcp_actors::parse_json(std::hint::black_box(&body)).expect("JSON");
            let result = espomcp::tools::structured(page);
            serde_json::to_vec(&Envelope {
                jsonrpc: "2.0",
                id: 1,
                result: &result,
            })
            .expect("a line")
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_validators,
    bench_answer,
    bench_overhead,
    bench_throughput,
    bench_startup
);
criterion_main!(benches);
