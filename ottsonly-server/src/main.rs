use clap::Parser;
use ottsonly_server::host::cli::{Cli, run};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the whole context chain on one line; it never includes secrets.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
