//! `portcullis`: the authentication service binary.

use clap::Parser;
use portcullis::cli::{Cli, Command, ConfigCommand};
use portcullis::config::Config;
use portcullis::{server, telemetry};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("portcullis: configuration error: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    telemetry::init(&config);
    // `config check` also lists what would be left out at start (a bad sign-in provider).
    let problems = if matches!(cli.command, Some(Command::Config(ConfigCommand::Check))) {
        portcullis::cli::config_problems(&config)
    } else {
        Vec::new()
    };
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config),
        other => portcullis::cli::run_offline(other, &config),
    };
    match result {
        Ok(()) if !problems.is_empty() => {
            for problem in &problems {
                eprintln!("portcullis: configuration problem: {problem}");
            }
            std::process::ExitCode::from(2)
        }
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("portcullis: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn serve(config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let running = server::spawn(config).await?;
        running.wait().await
    })
}
