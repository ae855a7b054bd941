//! The `espomcp` binary: parses the command line and hands over to the library.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    espomcp::cli::run(espomcp::cli::Cli::parse()).await
}
