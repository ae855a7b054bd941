//! The `espomcp` command line. `main.rs` only parses and hands over to [`run`].
//!
//! - `espomcp` (or `espomcp serve`): the MCP server over stdio, what MCP clients launch;
//!   `serve --http ADDR`: over Streamable HTTP instead (`http.rs`).
//! - `espomcp tools`: the tools and what they do (no EspoCRM needed).
//! - `espomcp call TOOL '{json}'`: runs one tool through the real MCP path and prints its JSON
//!   result (exit code 1 on a tool error) — a person's way to try and script the server.
//! - `espomcp check`: configuration, connectivity, authentication and what the key may do.
//! - `espomcp sandbox`: the in-memory EspoCRM with demo data, standalone.
//! - `espomcp seed`: prepares a real EspoCRM for trying espomcp, as its administrator (seed.rs).
//!
//! Each subcommand takes only the flags it uses, and its `--help` lists exactly those:
//! `--demo` (an in-process sandbox with demo data instead of ESPOCRM_URL) on `serve`, `call`
//! and `check`; `--config`, `--read-only`, `--toolsets` and `--entities` (which limit the tools,
//! `toolsets.rs`) on those and `tools`; `sandbox` and `seed` on none of them. Flags written
//! before the subcommand are handed down to it, or refused when it does not use them
//! (`hand_down`), so `espomcp --demo` and `espomcp --demo call …` keep working.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use espomcp_actors::{AccessLevel, Action, EntityType, Schema, ScopeAccess};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, JsonObject};
use serde_json::Value;

use crate::config::{Config, LoadOptions, Loaded, SETTINGS};
use crate::error::ToolError;
use crate::runtime::Runtime;
use crate::server::EspoMcp;

/// `--help`'s environment section: one line per setting ([`SETTINGS`]), then where the
/// settings and the logs go.
fn environment_help() -> String {
    let width = SETTINGS
        .iter()
        .map(|setting| setting.env.len())
        .max()
        .unwrap_or(0)
        + 2;
    let mut help = String::from("Configuration (built-in defaults < config file < environment):\n");
    for setting in SETTINGS {
        let default = match setting.shown_default() {
            Some(default) => format!(" [{default}]"),
            None if setting.is_required() => " (required unless --demo)".to_owned(),
            None => String::new(),
        };
        help.push_str(&format!(
            "  {:<width$}{}{default}\n",
            setting.env, setting.help
        ));
    }
    help + ENVIRONMENT_HELP_END
}

const ENVIRONMENT_HELP_END: &str = "\
`espomcp seed` reads ESPOCRM_URL, ESPOCRM_ADMIN_USER and ESPOCRM_ADMIN_PASSWORD (an
administrator of EspoCRM), and ESPOCRM_TLS_VERIFY and ESPOCRM_TIMEOUT_SECS, from the environment.
Config file: --config PATH, else $XDG_CONFIG_HOME/espocrm-mcp/config.toml or
~/.config/espocrm-mcp/config.toml, with sections [espocrm], [server], [logging].
CONFIG_DIR: $XDG_CONFIG_HOME, else ~/.config (Linux), ~/Library/Application Support (macOS),
%APPDATA% (Windows).
Logs go to stderr (stdout carries the MCP protocol).";

/// espomcp: an MCP server for EspoCRM.
///
/// With no subcommand it serves MCP over stdio, as `espomcp serve` does, and takes serve's
/// flags: `espomcp --demo` is what MCP clients launch to try it.
#[derive(Debug, Parser)]
#[command(name = "espomcp", version, about, after_help = environment_help())]
pub struct Cli {
    /// `serve`'s flags, for `espomcp` without a subcommand. Written before another subcommand
    /// (`espomcp --demo call …`, as the README's first command does) they are that
    /// subcommand's, if it has them; otherwise they are refused ([`run`]).
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Where the settings come from and which tools are served: what every command that builds
/// the tool list reads.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ToolArgs {
    /// Read settings from this TOML file (instead of ~/.config/espocrm-mcp/config.toml).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Serve only the read tools and refuse calls to the others (SERVER_READ_ONLY); wins over
    /// --toolsets.
    #[arg(long)]
    pub read_only: bool,
    /// The tool families to serve, comma-separated: read, write, notes, kanban, email
    /// (SERVER_TOOLSETS).
    #[arg(long, value_name = "LIST")]
    pub toolsets: Option<String>,
    /// The only entity types tools may touch, comma-separated, e.g. Account,Contact
    /// (SERVER_ENTITY_TYPES).
    #[arg(long, value_name = "LIST")]
    pub entities: Option<String>,
}

/// The flags of the commands that talk to EspoCRM (`serve`, `call`, `check`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServerArgs {
    /// Use an in-process EspoCRM sandbox with demo data instead of ESPOCRM_URL.
    #[arg(long)]
    pub demo: bool,
    #[command(flatten)]
    pub tools: ToolArgs,
}

/// `serve`'s flags (and those of `espomcp` alone).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Serve Streamable HTTP at this address instead of stdio, endpoint /mcp, e.g.
    /// 127.0.0.1:8765 (SERVER_HTTP_ADDR).
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
}

/// The default address of `espomcp sandbox`: not 8080, where docker-compose.yml's EspoCRM
/// (and many other development servers) listen.
pub const SANDBOX_LISTEN: &str = "127.0.0.1:8089";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve MCP over stdio (the default; what MCP clients launch), or over HTTP with --http.
    Serve(ServeArgs),
    /// List the tools and what they do (needs no EspoCRM: no URL or key).
    Tools(ToolArgs),
    /// Run one tool and print its JSON result (exit code 1 on a tool error).
    ///
    /// A delete needs two calls that share the preview, and this process ends after one: `call
    /// delete '{"entityType":…,"id":…}' --confirm` previews and confirms in one run (the
    /// preview goes to stderr, the result to stdout). Without --confirm, on a terminal, it
    /// shows the preview and asks; otherwise it only previews.
    Call {
        /// The tool, e.g. search.
        tool: String,
        /// Its arguments as a JSON object, e.g. '{"entityType":"Opportunity","limit":3}'.
        #[arg(default_value = "{}")]
        arguments: String,
        /// For `delete`: preview the record, then delete it, in this one run (what answering
        /// yes at the terminal prompt does). Also answers yes when
        /// SERVER_DELETE_CONFIRMATION=human asks.
        #[arg(long)]
        confirm: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Check the configuration, the connection to EspoCRM, the API key and what it may do.
    Check(ServerArgs),
    /// Run the in-memory EspoCRM sandbox with demo data (prints url and keys on stdout).
    Sandbox {
        /// Address to listen on; the API is served under /api/v1. Port 0 picks a free port
        /// (the url line says which).
        #[arg(long, default_value = SANDBOX_LISTEN)]
        listen: String,
        /// Seed of the demo data.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Prepare a real EspoCRM for espomcp: role, API user, demo users and data (as admin).
    ///
    /// Needs ESPOCRM_URL, ESPOCRM_ADMIN_USER and ESPOCRM_ADMIN_PASSWORD (from the environment
    /// only; no config file). Creates the "MCP Agent" role, an API user with it (its key is
    /// printed on stdout once, by the run that creates it), demo users and demo data. Safe to
    /// run again: it finds what exists. Progress goes to stderr.
    Seed {
        /// Delete what seed created (the records and users it marked) instead.
        #[arg(long)]
        reset: bool,
        /// How many regular demo users to create and assign the data to (1-5).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=5))]
        users: u8,
    },
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Command::Serve(_) => "serve",
            Command::Tools(_) => "tools",
            Command::Call { .. } => "call",
            Command::Check(_) => "check",
            Command::Sandbox { .. } => "sandbox",
            Command::Seed { .. } => "seed",
        }
    }
}

/// The flags given before the subcommand, as typed (`--demo`, `--config`, …).
fn flags_given(args: &ServeArgs) -> Vec<&'static str> {
    let ServeArgs { server, http } = args;
    let tools = &server.tools;
    [
        (server.demo, "--demo"),
        (tools.config.is_some(), "--config"),
        (tools.read_only, "--read-only"),
        (tools.toolsets.is_some(), "--toolsets"),
        (tools.entities.is_some(), "--entities"),
        (http.is_some(), "--http"),
    ]
    .into_iter()
    .filter_map(|(given, flag)| given.then_some(flag))
    .collect()
}

/// Gives the flags written before the subcommand to it, when it has them; a flag the
/// subcommand does not take is an error naming the flag, rather than silently doing nothing.
fn hand_down(top: ServeArgs, command: &mut Command) -> Result<(), String> {
    let given = flags_given(&top);
    if given.is_empty() {
        return Ok(());
    }
    let refuse = |flags: Vec<&'static str>, command: &Command| {
        let why = match command {
            Command::Tools(_) => " (it needs no EspoCRM, demo or real)",
            Command::Sandbox { .. } => " (it is an EspoCRM itself)",
            Command::Seed { .. } => " (it reads the environment only)",
            _ => "",
        };
        Err(format!(
            "{} does not apply to `espomcp {}`{why}: see `espomcp {} --help` for its flags",
            flags.join(", "),
            command.name(),
            command.name()
        ))
    };
    fn merge_tools(top: ToolArgs, own: &mut ToolArgs) {
        own.config = own.config.take().or(top.config);
        own.read_only |= top.read_only;
        own.toolsets = own.toolsets.take().or(top.toolsets);
        own.entities = own.entities.take().or(top.entities);
    }
    match command {
        Command::Serve(own) => {
            own.server.demo |= top.server.demo;
            merge_tools(top.server.tools, &mut own.server.tools);
            own.http = own.http.take().or(top.http);
            Ok(())
        }
        Command::Call { server: own, .. } | Command::Check(own) => {
            if top.http.is_some() {
                return refuse(vec!["--http"], command);
            }
            own.demo |= top.server.demo;
            merge_tools(top.server.tools, &mut own.tools);
            Ok(())
        }
        Command::Tools(own) => {
            let wrong: Vec<&'static str> = given
                .into_iter()
                .filter(|flag| matches!(*flag, "--demo" | "--http"))
                .collect();
            if !wrong.is_empty() {
                return refuse(wrong, command);
            }
            merge_tools(top.server.tools, own);
            Ok(())
        }
        Command::Sandbox { .. } | Command::Seed { .. } => refuse(given, command),
    }
}

/// Runs a parsed command line; the exit code is the process's.
pub async fn run(cli: Cli) -> ExitCode {
    let Cli {
        serve: top,
        command,
    } = cli;
    let mut command = command.unwrap_or_else(|| Command::Serve(ServeArgs::default()));
    if let Err(message) = hand_down(top, &mut command) {
        eprintln!("espomcp: {message}");
        return ExitCode::from(2);
    }
    let (server, http) = match command {
        Command::Sandbox { listen, seed } => return run_sandbox(&listen, seed).await,
        Command::Seed { reset, users } => return run_seed(reset, users).await,
        Command::Tools(args) => return run_tools(args),
        Command::Serve(ServeArgs {
            ref server,
            ref http,
        }) => (server.clone(), http.clone()),
        Command::Call { ref server, .. } | Command::Check(ref server) => (server.clone(), None),
    };
    let Some(loaded) = load(&server.tools, server.demo, http) else {
        return ExitCode::from(2);
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
    let config = loaded.config.clone();
    let started = match &command {
        Command::Check(_) => Runtime::start_for_check(&config).await,
        _ => Runtime::start(&config).await,
    };
    let runtime = match started {
        Ok(r) => r,
        Err(e) => {
            eprintln!("espomcp: {e}");
            return ExitCode::from(2);
        }
    };
    if !matches!(command, Command::Check(_))
        && let Err(e) = runtime.check_entity_types().await
    {
        eprintln!("espomcp: {e}");
        runtime.stop().await;
        return ExitCode::from(2);
    }
    let code = match command {
        Command::Serve(_) => match config.server.http_addr {
            Some(address) => crate::http::serve(&runtime, &config, address).await,
            None => serve(&runtime).await,
        },
        Command::Call {
            tool,
            arguments,
            confirm,
            ..
        } => call(&runtime, &tool, &arguments, confirm).await,
        Command::Check(_) => check(&runtime, &loaded).await,
        Command::Tools(_) | Command::Sandbox { .. } | Command::Seed { .. } => ExitCode::SUCCESS,
    };
    runtime.stop().await;
    code
}

/// Loads the configuration with the command line's flags on top; `None` (after saying why on
/// stderr, with the warnings that may explain it, such as a misspelt key) when it is unusable.
fn load(args: &ToolArgs, demo: bool, http: Option<String>) -> Option<Loaded> {
    let mut options = LoadOptions::from_process(args.config.clone(), demo);
    if args.read_only {
        options = options.with_flag("SERVER_READ_ONLY", "--read-only", "true");
    }
    if let Some(toolsets) = &args.toolsets {
        options = options.with_flag("SERVER_TOOLSETS", "--toolsets", toolsets.clone());
    }
    if let Some(entities) = &args.entities {
        options = options.with_flag("SERVER_ENTITY_TYPES", "--entities", entities.clone());
    }
    if let Some(address) = http {
        options = options.with_flag("SERVER_HTTP_ADDR", "--http", address);
    }
    match Config::load(options) {
        Ok(loaded) => Some(loaded),
        Err(e) => {
            eprintln!("espomcp: {e}");
            for warning in e.warnings() {
                eprintln!("espomcp: {warning}");
            }
            None
        }
    }
}

/// `espomcp tools`: the tool list needs the tool filters only, not EspoCRM, so the URL and
/// key are not asked for (the configuration is read as in demo mode).
fn run_tools(args: ToolArgs) -> ExitCode {
    let Some(loaded) = load(&args, true, None) else {
        return ExitCode::from(2);
    };
    for warning in &loaded.warnings {
        eprintln!("espomcp: {warning}");
    }
    let server = &loaded.config.server;
    let filter = crate::toolsets::ToolFilter {
        read_only: server.read_only,
        toolsets: server.toolsets.clone(),
    };
    let human = server.delete_confirmation == crate::config::DeleteConfirmation::Human;
    print!("{}", tool_table(&EspoMcp::catalog(&filter, human)));
    ExitCode::SUCCESS
}

/// One line per tool: its name, padded to the longest name, and its description.
pub fn tool_table(tools: &[rmcp::model::Tool]) -> String {
    let width = tools
        .iter()
        .map(|tool| tool.name.chars().count())
        .max()
        .unwrap_or(0);
    tools
        .iter()
        .map(|tool| {
            let description = tool.description.as_deref().unwrap_or("");
            format!("{:<width$}  {description}\n", tool.name)
        })
        .collect()
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
async fn run_seed(reset: bool, users: u8) -> ExitCode {
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
            } else if report.api_user_found {
                eprintln!(
                    "the API user {user} already exists, so no key is printed: the run that \
                     created it printed its key (ESPOCRM_API_KEY=…). EspoCRM shows it, and \
                     makes a new one, under Administration > API Users > {user}",
                    user = crate::seed::API_USER
                );
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
    // espomcp's own framing (stdio.rs): every line gets an answer, on rmcp's non-blocking
    // pipes where stdin and stdout are pipes.
    let running = match runtime
        .server
        .clone()
        .serve(crate::stdio::transport())
        .await
    {
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

/// The MCP client of `espomcp call`: the person at the terminal. It declares form elicitation,
/// so with SERVER_DELETE_CONFIRMATION=human the server's question reaches them: `--confirm`
/// answers yes, a terminal shows the question and reads the answer, anything else declines.
struct TerminalClient {
    confirm: bool,
}

impl rmcp::ClientHandler for TerminalClient {
    fn get_info(&self) -> rmcp::model::ClientConfig {
        rmcp::model::ClientConfig::new(
            rmcp::model::ClientCapabilities::builder()
                .enable_elicitation()
                .build(),
            rmcp::model::Implementation::new("espomcp-call", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn create_elicitation(
        &self,
        request: rmcp::model::ElicitRequestParams,
        _context: rmcp::service::RequestContext<rmcp::RoleClient>,
    ) -> Result<rmcp::model::ElicitResult, rmcp::ErrorData> {
        use rmcp::model::{ElicitRequestParams, ElicitResult, ElicitationAction};
        let ElicitRequestParams::FormElicitationParams { message, .. } = request else {
            return Ok(ElicitResult::new(ElicitationAction::Decline));
        };
        eprintln!("{message}");
        let yes = self.confirm || ask_on_terminal("Delete it? [y/N] ").await;
        Ok(if yes {
            ElicitResult::new(ElicitationAction::Accept)
                .with_content(serde_json::json!({ "confirm": true }))
        } else {
            ElicitResult::new(ElicitationAction::Decline)
        })
    }
}

/// Asks a yes/no question on stderr and reads the answer from stdin, when stdin is a
/// terminal; `false` otherwise (a script is never asked, it says `--confirm`).
async fn ask_on_terminal(question: &'static str) -> bool {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return false;
    }
    tokio::task::spawn_blocking(move || {
        eprint!("{question}");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        match std::io::stdin().lock().read_line(&mut answer) {
            Ok(_) => matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"),
            Err(_) => false,
        }
    })
    .await
    .unwrap_or(false)
}

/// The tool's answer as `call` prints it: the structured result, else the text parsed as
/// JSON, else the text.
fn body_of(result: &rmcp::model::CallToolResult) -> Value {
    result.structured_content.clone().unwrap_or_else(|| {
        let text: String = result
            .content
            .iter()
            .filter_map(|c| c.as_text())
            .map(|t| t.text.clone())
            .collect();
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    })
}

fn pretty(body: &Value) -> String {
    serde_json::to_string_pretty(body).unwrap_or_else(|_| body.to_string())
}

/// The known name nearest to a mistyped one, if it is near enough to be what was meant.
fn nearest<'a>(typed: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut previous = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let substitution = previous + usize::from(ca != *cb);
                previous = row[j + 1];
                row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
            }
        }
        row[b.len()]
    }
    known
        .into_iter()
        .map(|name| (distance(typed, name), name))
        .filter(|(d, name)| *d <= (name.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, name)| name)
}

/// Runs one tool through a real MCP session over an in-memory pipe, so `call` exercises
/// exactly what a client gets. A `delete` with `--confirm` (or `"confirm": true`, or a yes at
/// the terminal) is the two calls of the two-step delete in this one session.
async fn call(runtime: &Runtime, tool: &str, arguments: &str, confirm: bool) -> ExitCode {
    let mut arguments: JsonObject = match serde_json::from_str::<Value>(arguments) {
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
    let catalog = EspoMcp::catalog(&crate::toolsets::ToolFilter::default(), false);
    let known: Vec<&str> = catalog.iter().map(|t| t.name.as_ref()).collect();
    if !known.contains(&tool) {
        let message = match nearest(tool, known.iter().copied()) {
            Some(name) => format!("unknown tool `{tool}`; did you mean `{name}`?"),
            None => format!("unknown tool `{tool}`"),
        };
        let error = ToolError::new(
            crate::error::ErrorCode::InvalidArgument,
            message,
            format!("The tools: {}", known.join(", ")),
            false,
        );
        println!("{}", pretty(&error.to_json()));
        return ExitCode::FAILURE;
    }
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    let server = runtime.server.clone();
    let server_task = tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let client = match (TerminalClient { confirm }).serve(client_io).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("espomcp: the in-process MCP session failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let run_once = |arguments: JsonObject| {
        client.call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments))
    };
    let two_step = tool == "delete";
    let wants_delete = confirm || arguments.get("confirm") == Some(&Value::Bool(true));
    if two_step {
        arguments.insert("confirm".into(), Value::Bool(false));
    }
    let mut result = run_once(arguments.clone()).await;
    if two_step
        && let Ok(preview) = &result
        && preview.is_error != Some(true)
    {
        let go_ahead = if wants_delete {
            eprintln!("{}", pretty(&body_of(preview)));
            true
        } else if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            eprintln!("{}", pretty(&body_of(preview)));
            // In human mode the server asks the person itself (TerminalClient shows its
            // question): asking here too would ask twice.
            runtime.server.ctx.human_confirmation.is_some()
                || ask_on_terminal("Delete this record? [y/N] ").await
        } else {
            false
        };
        if go_ahead {
            arguments.insert("confirm".into(), Value::Bool(true));
            result = run_once(arguments).await;
        }
    }
    let code = match result {
        Ok(result) => {
            println!("{}", pretty(&body_of(&result)));
            if result.is_error == Some(true) {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            let reason = match &e {
                rmcp::ServiceError::McpError(data) => data.message.to_string(),
                other => other.to_string(),
            };
            let error = ToolError::new(
                crate::error::ErrorCode::InvalidArgument,
                format!("{tool}: {reason}"),
                "Check the tool's arguments with `espomcp tools` and call again",
                false,
            );
            println!("{}", pretty(&error.to_json()));
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
fn check_failure(error: &ToolError, url: &str, waited: std::time::Duration) -> (String, String) {
    use crate::error::ErrorCode;
    let message = error.message.clone();
    if error.code == ErrorCode::UpstreamTimeout {
        return (
            format!(
                "no answer from {url} within {} s (check makes one attempt)",
                waited.as_secs()
            ),
            "Something accepted the connection but did not answer: check that ESPOCRM_URL is \
             EspoCRM's address (not another service's port, or a firewall that swallows \
             connections) and that EspoCRM is running normally. If it is only slow, raise \
             ESPOCRM_TIMEOUT_SECS"
                .into(),
        );
    }
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

/// The EspoCRM features the tools adapt to, as (feature, the entity types where it is on).
fn feature_report(schema: &Schema) -> Vec<(&'static str, String)> {
    let on = |feature: fn(&EntityType) -> bool| {
        let names: Vec<&str> = schema
            .entities()
            .filter(|entity| feature(entity))
            .map(|entity| entity.name.as_str())
            .collect();
        if names.is_empty() {
            "off".to_owned()
        } else {
            format!("on for {}", names.join(", "))
        }
    };
    vec![
        (
            "optimistic concurrency",
            on(|entity| entity.optimistic_concurrency),
        ),
        ("record locks", on(|entity| entity.lockable)),
    ]
}

/// `espomcp check`: one line per step, then what the key may do per entity type. Fails (exit
/// code 1) when a step fails, when the config file has keys espomcp ignores, or when the audit
/// log cannot be written; other warnings are shown as `warning` lines.
async fn check(runtime: &Runtime, loaded: &Loaded) -> ExitCode {
    let config = &loaded.config;
    let mut failed = false;
    let target = if config.demo {
        "demo sandbox (in-process)".to_owned()
    } else {
        config.espocrm.url.clone().unwrap_or_default()
    };
    let file = loaded
        .config_file
        .as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "none (defaults and environment)".into());
    if loaded.ignored_settings.is_empty() {
        println!("{:<16} ok (config file: {file})", "configuration");
    } else {
        failed = true;
        println!(
            "{:<16} FAILED: {} setting(s) in {file} are ignored",
            "configuration",
            loaded.ignored_settings.len()
        );
    }
    for warning in &loaded.warnings {
        println!("{:<16} {warning}", "warning");
    }
    if let Some((path, reason)) = runtime.server.ctx.audit.broken() {
        failed = true;
        println!(
            "{:<16} FAILED: SERVER_AUDIT_LOG {} cannot be opened for appending ({reason})",
            "audit log",
            path.display()
        );
        println!(
            "{:<16} Create its directory and make it writable by this user, or unset \
             SERVER_AUDIT_LOG",
            "fix"
        );
    } else if let Some(path) = &config.server.audit_log {
        println!("{:<16} ok ({})", "audit log", path.display());
    }
    println!("{:<16} {target}", "espocrm");
    let started = Instant::now();
    let schema = match runtime.metadata.schema().await {
        Ok(s) => s,
        Err(e) => {
            let waited = Runtime::check_timeout(config);
            let error = ToolError::from(e);
            let step = match error.code {
                crate::error::ErrorCode::AuthFailed | crate::error::ErrorCode::PermissionDenied => {
                    "authentication"
                }
                _ => "connectivity",
            };
            let (message, fix) = check_failure(&error, &target, waited);
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
    println!(
        "{:<16} {}",
        "version",
        schema
            .espocrm_version
            .as_deref()
            .unwrap_or("unknown (App/user shows no settings.version)")
    );
    if let Some(names) = runtime.server.ctx.entities.names() {
        let unknown = runtime.server.ctx.entities.unknown_in(&schema);
        if unknown.is_empty() {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            println!("{:<16} ok ({})", "entity types", names.join(", "));
        } else {
            failed = true;
            println!(
                "{:<16} FAILED: SERVER_ENTITY_TYPES (or --entities) names entity types EspoCRM \
                 does not have: {}",
                "entity types",
                unknown.join(", ")
            );
        }
    }
    println!();
    let rows: Vec<_> = schema
        .record_entities()
        .filter(|e| e.access.is_some())
        .collect();
    let width = rows
        .iter()
        .map(|e| e.name.chars().count())
        .chain([16])
        .max()
        .unwrap_or(16);
    println!(
        "{:<width$} {:<6} {:<6} {:<6} {:<6}",
        "entity type", "read", "create", "edit", "delete"
    );
    for entity in rows {
        println!(
            "{:<width$} {:<6} {:<6} {:<6} {:<6}",
            entity.name,
            level(&entity.access, Action::Read),
            level(&entity.access, Action::Create),
            level(&entity.access, Action::Edit),
            level(&entity.access, Action::Delete)
        );
    }
    println!();
    println!("EspoCRM features espomcp adapts to (read from the metadata, not the version):");
    for (feature, state) in feature_report(&schema) {
        println!("{feature:<24} {state}");
    }
    // The mail EspoCRM sends by itself about changes (espomcp refuses what would reach portal
    // users; the rest is the administrator's choice, under Administration > Notifications).
    println!();
    println!("EspoCRM's own notification mail (Administration > Notifications):");
    for (setting, state) in crate::outbound::notification_report(&schema.notifications) {
        println!("{setting:<16} {state}");
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
