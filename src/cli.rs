//! The `espomcp` command line. `main.rs` only parses and hands over to [`run`].

use clap::{Parser, Subcommand};

/// espomcp: an MCP server for EspoCRM.
#[derive(Debug, Parser)]
#[command(name = "espomcp", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
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
pub async fn run(cli: Cli) -> std::process::ExitCode {
    match cli.command {
        Command::Sandbox { listen, seed } => {
            let config = espocrm_sandbox::SandboxConfig {
                seed,
                ..Default::default()
            };
            let sandbox = match espocrm_sandbox::Sandbox::start_with(config, &listen).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("espomcp sandbox: {e}");
                    return std::process::ExitCode::FAILURE;
                }
            };
            print!("{}", sandbox.connection_lines());
            let _ = tokio::signal::ctrl_c().await;
            sandbox.stop().await;
            std::process::ExitCode::SUCCESS
        }
    }
}
