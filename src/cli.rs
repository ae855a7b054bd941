//! The `espomcp` command line. `main.rs` only parses and hands over to [`run`].
//!
//! - `espomcp` (or `espomcp serve`): the MCP server over stdio, what MCP clients launch.
//! - `espomcp tools`: the tools and what they do.
//! - `espomcp call TOOL '{json}'`: runs one tool through the real MCP path and prints its JSON
//!   result (exit code 1 on a tool error) — a person's way to try and script the server.
//! - `espomcp check`: configuration, connectivity, authentication and what the key may do.
//! - `espomcp sandbox`: the in-memory EspoCRM with demo data, standalone.
//!
//! `--demo` on any of them uses an in-process sandbox with demo data instead of ESPOCRM_URL.

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
  SERVER_PROMPTS_DIR                     where prompt templates live [.espomcp/prompts]
  SERVER_AGGREGATE_MAX_RECORDS           most records `aggregate` reads, 1-1000000 [50000]
  LOGGING_LEVEL                          trace, debug, info, warn, error [info]
  LOGGING_JSON                           JSON log lines [false]
  LOGGING_FILE                           also log to this file
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
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve MCP over stdio (the default; what MCP clients launch).
    Serve,
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
}

/// Runs a parsed command line; the exit code is the process's.
pub async fn run(cli: Cli) -> ExitCode {
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Sandbox { listen, seed } = command {
        return run_sandbox(&listen, seed).await;
    }
    let loaded = match Config::load(LoadOptions::from_process(cli.config, cli.demo)) {
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
    let code = match command {
        Command::Serve => serve(&runtime).await,
        Command::Tools => list_tools(&runtime),
        Command::Call { tool, arguments } => call(&runtime, &tool, &arguments).await,
        Command::Check => check(&runtime, &config, loaded.config_file.as_deref()).await,
        Command::Sandbox { .. } => ExitCode::SUCCESS,
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
            println!("{step:<16} FAILED: {}", error.message);
            println!("{:<16} {}", "fix", error.suggestion);
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
    ExitCode::SUCCESS
}
