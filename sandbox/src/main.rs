//! `espocrm-sandbox`: runs the in-memory EspoCRM REST API (8.4 or 10.0) standalone and prints, on
//! stdout, one `KEY=VALUE` line each for `url`, `agent_api_key`, `limited_api_key`, `admin_user`,
//! `admin_password`, `user_name` and `user_password` (a regular user, for password and token
//! logins), so scripts can read them.

use clap::Parser;
use espocrm_sandbox::{EspoVersion, FaultConfig, Sandbox, SandboxConfig};

/// An in-memory EspoCRM REST API with demo data, for trying and testing espomcp. It answers as
/// EspoCRM 8.4.2 or 10.0.0 does, as recorded on real servers of those versions.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on (the API is served under /api/v1).
    #[arg(long, default_value = "127.0.0.1:8089", env = "SANDBOX_LISTEN")]
    listen: String,
    /// Seed of the demo data and generated ids.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Which EspoCRM to answer as: 8.4 (8.4.2) or 10.0 (10.0.0).
    #[arg(long, default_value = "8.4", env = "SANDBOX_ESPOCRM_VERSION", value_parser = parse_version)]
    espocrm_version: EspoVersion,
    /// Start without demo records (users and roles only).
    #[arg(long)]
    empty: bool,
    /// API key of the full-access API user `mcp-agent` (derived from the seed if unset).
    #[arg(long, env = "SANDBOX_AGENT_API_KEY")]
    agent_api_key: Option<String>,
    /// API key of `mcp-readonly`, which may only read Account and Contact.
    #[arg(long, env = "SANDBOX_LIMITED_API_KEY")]
    limited_api_key: Option<String>,
    /// Administrator user name (Basic / Espo-Authorization login).
    #[arg(long, default_value = "admin")]
    admin_user: String,
    /// Administrator password.
    #[arg(long, default_value = "sandbox-admin", env = "SANDBOX_ADMIN_PASSWORD")]
    admin_password: String,
    /// Latency added to every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Share (0-1) of requests answered 500.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Share (0-1) of requests answered 429 with Retry-After.
    #[arg(long, default_value_t = 0.0)]
    rate_limit_rate: f64,
    /// Retry-After seconds sent with injected 429s.
    #[arg(long, default_value_t = 1)]
    retry_after_secs: u64,
    /// Share (0-1) of requests whose connection is dropped mid-response.
    #[arg(long, default_value_t = 0.0)]
    drop_rate: f64,
}

fn parse_version(s: &str) -> Result<EspoVersion, String> {
    s.parse()
        .map_err(|e: espocrm_sandbox::version::UnknownVersion| e.to_string())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let config = SandboxConfig {
        seed: args.seed,
        demo_data: !args.empty,
        agent_api_key: args.agent_api_key,
        limited_api_key: args.limited_api_key,
        admin_user: args.admin_user,
        admin_password: args.admin_password,
        faults: FaultConfig {
            latency_ms: args.latency_ms,
            error_rate: args.error_rate,
            rate_limit_rate: args.rate_limit_rate,
            retry_after_secs: args.retry_after_secs,
            drop_rate: args.drop_rate,
            ..FaultConfig::default()
        },
        espocrm_version: args.espocrm_version,
        ..SandboxConfig::default()
    };
    let sandbox = match Sandbox::start_with(config, &args.listen).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("espocrm-sandbox: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    print!("{}", sandbox.connection_lines());
    eprintln!(
        "espocrm-sandbox: serving {}/api/v1 (Ctrl-C to stop)",
        sandbox.url
    );
    let _ = tokio::signal::ctrl_c().await;
    sandbox.stop().await;
    std::process::ExitCode::SUCCESS
}
