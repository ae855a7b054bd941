//! The `espomcp` command line. `main.rs` only parses and hands over to [`run`].
//!
//! - `espomcp` (or `espomcp serve`): the MCP server over stdio, what MCP clients launch;
//!   `serve --http ADDR`: over Streamable HTTP instead (`http.rs`).
//! - `espomcp tools`: the tools and what they do.
//! - `espomcp call TOOL '{json}'`: runs one tool through the real MCP path and prints its JSON
//!   result (exit code 1 on a tool error) — a person's way to try and script the server.
//! - `espomcp check`: configuration, connectivity, authentication and what the key may do.
//! - `espomcp sandbox`: the in-memory EspoCRM with demo data, standalone.
//! - `espomcp seed`: prepares a real EspoCRM for trying espomcp, as its administrator (seed.rs).
//!
//! `--demo` on any of them uses an in-process sandbox with demo data instead of ESPOCRM_URL;
//! `--read-only`, `--toolsets` and `--entities` on any of them limit the tools (`toolsets.rs`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use espomcp_actors::{AccessLevel, Action, ScopeAccess};
use rmcp::model::{CallToolRequestParams, JsonObject};
use rmcp::{ServiceExt, transport::stdio_pipes};
use serde_json::Value;

use crate::config::{Config, LoadOptions};
use crate::error::ToolError;
use crate::runtime::Runtime;

const ENVIRONMENT_HELP: &str = "\
Configuration (built-in defaults < config file < environment):
  ESPOCRM_URL                            EspoCRM address, e.g. https://crm.example.com (required unless --demo)
  ESPOCRM_API_KEY                        API key of an EspoCRM API user (required unless --demo)
  ESPOCRM_TIMEOUT_SECS                   request timeout [30]
  ESPOCRM_TLS_VERIFY                     verify TLS certificates [true]
  ESPOCRM_EMAIL_FROM                     default `from` address of email drafts
  SERVER_MAX_LIMIT                       largest page a tool returns, 1-200 [200]
  SERVER_METADATA_TTL_SECS               how long the schema is cached [300]
  SERVER_RATE_LIMIT_REQUESTS_PER_SECOND  requests per second to EspoCRM, 0 = no limit [10]
  SERVER_RATE_LIMIT_BURST                burst above that rate [20]
  SERVER_RATE_LIMIT_MAX_CONCURRENT       requests in flight at once [5]
  SERVER_DELETE_CONFIRMATION_TTL_SECS    how long a delete preview stays confirmable [300]
  SERVER_DELETE_CONFIRMATION             who confirms a delete: agent, or human (asked via the client) [agent]
  SERVER_PROMPTS_DIR                     where prompt templates live [.espomcp/prompts]
  SERVER_AGGREGATE_MAX_RECORDS           most records `aggregate` reads, 1-1000000 [50000]
  SERVER_READ_ONLY                       serve only the read tools, refuse the others [false]
  SERVER_TOOLSETS                        tool families served: read,write,notes,kanban,email [all]
  SERVER_ENTITY_TYPES                    the only entity types tools may touch, e.g. Account,Contact [all]
  SERVER_HTTP_ADDR                       serve MCP over HTTP at this address (endpoint /mcp) [stdio]
  SERVER_HTTP_TOKEN                      bearer token every HTTP request must carry (required off loopback)
  SERVER_HTTP_ALLOWED_HOSTS              Host/Origin names accepted besides loopback, e.g. mcp.example.com
  SERVER_AUDIT_LOG                       append one JSON line per write tool call to this file [off]
  LOGGING_LEVEL                          trace, debug, info, warn, error [info]
  LOGGING_JSON                           JSON log lines [false]
  LOGGING_FILE                           also log to this file
`espomcp seed` reads ESPOCRM_URL, ESPOCRM_ADMIN_USER and ESPOCRM_ADMIN_PASSWORD (an
administrator of EspoCRM), and ESPOCRM_TLS_VERIFY and ESPOCRM_TIMEOUT_SECS, from the environment.
Config file: --config PATH, else $XDG_CONFIG_HOME/espocrm-mcp/config.toml or
~/.config/espocrm-mcp/config.toml, with sections [espocrm], [server], [logging].
Logs go to stderr (stdout carries the MCP protocol).";

/// espomcp: an MCP server for EspoCRM.
#[derive(Debug, Parser)]
#[command(name = "espomcp", version, about, after_help = ENVIRONMENT_HELP)]
pub struct Cli {
    /// Use an in-process EspoCRM sandbox with demo data instead of ESPOCRM_URL.
    #[arg(long, global = true)]
    pub demo: bool,
    /// Read settings from this TOML file (instead of ~/.config/espocrm-mcp/config.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Serve only the read tools and refuse calls to the others (SERVER_READ_ONLY); wins over
    /// --toolsets.
    #[arg(long, global = true)]
    pub read_only: bool,
    /// The tool families to serve, comma-separated: read, write, notes, kanban, email
    /// (SERVER_TOOLSETS).
    #[arg(long, global = true, value_name = "LIST")]
    pub toolsets: Option<String>,
    /// The only entity types tools may touch, comma-separated, e.g. Account,Contact
    /// (SERVER_ENTITY_TYPES).
    #[arg(long, global = true, value_name = "LIST")]
    pub entities: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve MCP over stdio (the default; what MCP clients launch), or over HTTP with --http.
    Serve {
        /// Serve Streamable HTTP at this address instead of stdio, endpoint /mcp, e.g.
        /// 127.0.0.1:8765 (SERVER_HTTP_ADDR).
        #[arg(long, value_name = "ADDR")]
        http: Option<String>,
    },
    /// List the tools and what they do.
    Tools,
    /// Run one tool and print its JSON result (exit code 1 on a tool error).
    Call {
        /// The tool, e.g. search.
        tool: String,
        /// Its arguments as a JSON object, e.g. '{"entityType":"Opportunity","limit":3}'.
        #[arg(default_value = "{}")]
        arguments: String,
    },
    /// Check the configuration, the connection to EspoCRM, the API key and what it may do.
    Check,
    /// Run the in-memory EspoCRM sandbox with demo data (prints url and keys on stdout).
    Sandbox {
        /// Address to listen on; the API is served under /api/v1.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Seed of the demo data.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Prepare a real EspoCRM for espomcp: role, API user, demo users and data (as admin).
    ///
    /// Needs ESPOCRM_URL, ESPOCRM_ADMIN_USER and ESPOCRM_ADMIN_PASSWORD. Creates the "MCP Agent"
    /// role, an API user with it (its key is printed on stdout once, by the run that creates
    /// it), demo users and demo data. Safe to run again: it finds what exists. Progress goes to
    /// stderr.
    Seed {
        /// Delete what seed created (the records and users it marked) instead.
        #[arg(long)]
        reset: bool,
        /// How many regular demo users to create and assign the data to (1-5).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=5))]
        users: u8,
    },
}

/// Runs a parsed command line; the exit code is the process's.
pub async fn run(cli: Cli) -> ExitCode {
    let command = cli.command.unwrap_or(Command::Serve { http: None });
    if let Command::Sandbox { listen, seed } = command {
        return run_sandbox(&listen, seed).await;
    }
    if let Command::Seed { reset, users } = command {
        return run_seed(cli.demo, reset, users).await;
    }
    let mut options = LoadOptions::from_process(cli.config, cli.demo);
    if cli.read_only {
        options = options.with_flag("SERVER_READ_ONLY", "--read-only", "true");
    }
    if let Some(toolsets) = cli.toolsets {
        options = options.with_flag("SERVER_TOOLSETS", "--toolsets", toolsets);
    }
    if let Some(entities) = cli.entities {
        options = options.with_flag("SERVER_ENTITY_TYPES", "--entities", entities);
    }
    if let Command::Serve {
        http: Some(address),
    } = &command
    {
        options = options.with_flag("SERVER_HTTP_ADDR", "--http", address.clone());
    }
    let loaded = match Config::load(options) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("espomcp: {e}");
            return ExitCode::from(2);
        }
    };
    let _telemetry = match crate::telemetry::init(&loaded.config.logging) {
        Ok(g) => Some(g),
        Err(e) => {
            eprintln!("espomcp: logging could not start: {e}");
            return ExitCode::from(2);
        }
    };
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let config = loaded.config;
    let runtime = match Runtime::start(&config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("espomcp: {e}");
            return ExitCode::from(2);
        }
    };
    if !matches!(command, Command::Tools)
        && let Err(e) = runtime.check_entity_types().await
    {
        eprintln!("espomcp: {e}");
        runtime.stop().await;
        return ExitCode::from(2);
    }
    let code = match command {
        Command::Serve { .. } => match config.server.http_addr {
            Some(address) => crate::http::serve(&runtime, &config, address).await,
            None => serve(&runtime).await,
        },
        Command::Tools => list_tools(&runtime),
        Command::Call { tool, arguments } => call(&runtime, &tool, &arguments).await,
        Command::Check => check(&runtime, &config, loaded.config_file.as_deref()).await,
        Command::Sandbox { .. } | Command::Seed { .. } => ExitCode::SUCCESS,
    };
    runtime.stop().await;
    code
}

async fn run_sandbox(listen: &str, seed: u64) -> ExitCode {
    let config = espocrm_sandbox::SandboxConfig {
        seed,
        ..Default::default()
    };
    let sandbox = match espocrm_sandbox::Sandbox::start_with(config, listen).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("espomcp sandbox: {e}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", sandbox.connection_lines());
    let _ = tokio::signal::ctrl_c().await;
    sandbox.stop().await;
    ExitCode::SUCCESS
}

/// `espomcp seed`: its settings come from the environment only (the admin password never
/// belongs in a file or on the command line); the new API key, if any, is the only output on
/// stdout.
async fn run_seed(demo: bool, reset: bool, users: u8) -> ExitCode {
    if demo {
        eprintln!(
            "espomcp seed: --demo already has demo data; seed is for a real EspoCRM (ESPOCRM_URL)"
        );
        return ExitCode::from(2);
    }
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let mut missing = Vec::new();
    let mut required = |name: &'static str| {
        var(name).or_else(|| {
            missing.push(name);
            None
        })
    };
    let (url, user, password) = (
        required("ESPOCRM_URL"),
        required("ESPOCRM_ADMIN_USER"),
        required("ESPOCRM_ADMIN_PASSWORD"),
    );
    let (Some(url), Some(admin_user), Some(admin_password)) = (url, user, password) else {
        eprintln!(
            "espomcp seed: {} must be set: the EspoCRM address and the user name and password \
             of one of its administrators",
            missing.join(", ")
        );
        return ExitCode::from(2);
    };
    let tls_verify = !matches!(
        var("ESPOCRM_TLS_VERIFY")
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref(),
        Some("false" | "no" | "off" | "0")
    );
    let timeout = var("ESPOCRM_TIMEOUT_SECS")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|secs| (1..=3600).contains(secs))
        .unwrap_or(30);
    let options = crate::seed::SeedOptions {
        url,
        admin_user,
        admin_password,
        users: usize::from(users),
        reset,
        tls_verify,
        timeout: std::time::Duration::from_secs(timeout),
    };
    match crate::seed::run(&options).await {
        Ok(report) => {
            if let Some(key) = report.api_key {
                eprintln!(
                    "created the API user {}: its API key follows on stdout, shown this once \
                     (EspoCRM also shows it under Administration > API Users)",
                    crate::seed::API_USER
                );
                println!("ESPOCRM_API_KEY={key}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("espomcp seed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(runtime: &Runtime) -> ExitCode {
    tracing::info!("serving MCP over stdio");
    // Over pipes (how MCP clients start servers) reads and writes run on the I/O reactor
    // instead of a blocking-pool thread per operation; anything else (a terminal, a file)
    // falls back to the blocking standard streams.
    let running = match runtime.server.clone().serve(stdio_pipes()).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("the MCP session could not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match running.waiting().await {
        Ok(reason) => {
            tracing::info!("MCP session ended: {reason:?}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("MCP session failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn list_tools(runtime: &Runtime) -> ExitCode {
    for tool in runtime.server.tools() {
        let description = tool.description.as_deref().unwrap_or("");
        println!("{:<18} {}", tool.name, description);
    }
    ExitCode::SUCCESS
}

/// Runs one tool through a real MCP session over an in-memory pipe, so `call` exercises
/// exactly what a client gets.
async fn call(runtime: &Runtime, tool: &str, arguments: &str) -> ExitCode {
    let arguments: JsonObject = match serde_json::from_str::<Value>(arguments) {
        Ok(Value::Object(o)) => o,
        Ok(_) | Err(_) => {
            let e = ToolError::invalid_argument(
                "arguments",
                "must be a JSON object, e.g. '{\"entityType\":\"Account\"}'",
            );
            println!("{}", e.to_json());
            return ExitCode::FAILURE;
        }
    };
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    let server = runtime.server.clone();
    let server_task = tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let client = match ().serve(client_io).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("espomcp: the in-process MCP session failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments))
        .await;
    let code = match result {
        Ok(result) => {
            let failed = result.is_error == Some(true);
            let body = result.structured_content.clone().unwrap_or_else(|| {
                let text: String = result
                    .content
                    .iter()
                    .filter_map(|c| c.as_text())
                    .map(|t| t.text.clone())
                    .collect();
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&body).unwrap_or_else(|_| body.to_string())
            );
            if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            let known: Vec<String> = runtime
                .server
                .tools()
                .into_iter()
                .map(|t| t.name.to_string())
                .collect();
            let error = ToolError::invalid_argument("tool", &format!("{tool}: {e}"))
                .with_suggestion(format!("Known tools: {}", known.join(", ")));
            println!(
                "{}",
                serde_json::to_string_pretty(&error.to_json()).unwrap_or_default()
            );
            ExitCode::FAILURE
        }
    };
    let _ = client.cancel().await;
    let _ = server_task.await;
    code
}

fn level(access: &Option<ScopeAccess>, action: Action) -> &'static str {
    match access {
        None => "no",
        Some(ScopeAccess::Enabled(true)) => "yes",
        Some(ScopeAccess::Enabled(false)) => "no",
        Some(ScopeAccess::Levels(levels)) => match (levels.level(action), action) {
            (AccessLevel::No, _) => "no",
            (_, Action::Create) => "yes",
            (AccessLevel::All, _) => "all",
            (AccessLevel::Team, _) => "team",
            (AccessLevel::Own, _) => "own",
        },
    }
}

/// What `check` says about a failure to read the metadata: the tool error's own words, except
/// where the first request failing means something the tools' advice does not cover (a wrong
/// address, a certificate that is not trusted, nothing listening).
fn check_failure(error: &ToolError, url: &str) -> (String, String) {
    use crate::error::ErrorCode;
    let message = error.message.clone();
    if error.code == ErrorCode::RecordNotFound {
        return (
            format!("nothing answers EspoCRM's API under {url} (404)"),
            "Set ESPOCRM_URL to the address you open EspoCRM at (its site root, e.g. \
             https://crm.example.com), not to a page or folder inside it"
                .into(),
        );
    }
    let lower = message.to_lowercase();
    if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
        return (
            message,
            "EspoCRM's TLS certificate is not trusted: give EspoCRM a certificate from a public \
             CA, or add its CA to this system's trust store; for a test instance only, set \
             ESPOCRM_TLS_VERIFY=false"
                .into(),
        );
    }
    if lower.contains("connection refused") || lower.contains("dns") || lower.contains("resolve") {
        return (
            message,
            "Check the host and port in ESPOCRM_URL, and that EspoCRM is running and reachable \
             from this machine"
                .into(),
        );
    }
    (message, error.suggestion.clone())
}

/// `espomcp check`: one line per step, then what the key may do per entity type.
async fn check(runtime: &Runtime, config: &Config, file: Option<&std::path::Path>) -> ExitCode {
    let target = if config.demo {
        "demo sandbox (in-process)".to_owned()
    } else {
        config.espocrm.url.clone().unwrap_or_default()
    };
    let file = file
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "none (defaults and environment)".into());
    println!("{:<16} ok (config file: {file})", "configuration");
    println!("{:<16} {target}", "espocrm");
    let started = Instant::now();
    let schema = match runtime.metadata.schema().await {
        Ok(s) => s,
        Err(e) => {
            let error = ToolError::from(e);
            let step = match error.code {
                crate::error::ErrorCode::AuthFailed | crate::error::ErrorCode::PermissionDenied => {
                    "authentication"
                }
                _ => "connectivity",
            };
            let (message, fix) = check_failure(&error, &target);
            println!("{step:<16} FAILED: {message}");
            println!("{:<16} {fix}", "fix");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "{:<16} ok ({} ms to read metadata and the user)",
        "connectivity",
        started.elapsed().as_millis()
    );
    println!(
        "{:<16} ok (user {}, type {})",
        "authentication",
        schema.user.user_name,
        schema.user.user_type.as_deref().unwrap_or("?")
    );
    println!();
    println!(
        "{:<16} {:<6} {:<6} {:<6} {:<6}",
        "entity type", "read", "create", "edit", "delete"
    );
    for entity in schema.record_entities().filter(|e| e.access.is_some()) {
        println!(
            "{:<16} {:<6} {:<6} {:<6} {:<6}",
            entity.name,
            level(&entity.access, Action::Read),
            level(&entity.access, Action::Create),
            level(&entity.access, Action::Edit),
            level(&entity.access, Action::Delete)
        );
    }
    // The mail EspoCRM sends by itself about changes (espomcp refuses what would reach portal
    // users; the rest is the administrator's choice, under Administration > Notifications).
    println!();
    println!("EspoCRM's own notification mail (Administration > Notifications):");
    for (setting, state) in crate::outbound::notification_report(&schema.notifications) {
        println!("{setting:<16} {state}");
    }
    ExitCode::SUCCESS
}
