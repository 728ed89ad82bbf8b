use std::time::Duration;

use clap::{Args, Subcommand};
use skein_cli::bench::{ApiBenchPlan, run_api};
use skein_cli::client::CliError;
use skein_cli::config::DevArgs;
use skein_cli::dev::DevServer;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Requests/s and p50/p99 of GET /v1/agents/{id}, and task lifecycles/s.
    Api(ApiArgs),
}

#[derive(Debug, Args)]
pub struct ApiArgs {
    /// Seconds per phase.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Concurrent connections for the GET phase.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Concurrent agents for the lifecycle phase.
    #[arg(long, default_value_t = 16)]
    agents: usize,
    /// Benchmark a running server (host:port) instead of a fresh in-process one.
    #[arg(long, requires = "token")]
    addr: Option<std::net::SocketAddr>,
    /// Admin token for --addr.
    #[arg(long, env = "SKEIN_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[arg(long)]
    json: bool,
}

pub async fn run(command: BenchCommand) -> Result<(), CliError> {
    let BenchCommand::Api(args) = command;
    let fail = |e: &dyn std::fmt::Display| CliError::Other(e.to_string());
    let mut scratch = None;
    let (addr, admin_token, server) = match (args.addr, args.token.clone()) {
        (Some(addr), Some(token)) => (addr, token, None),
        _ => {
            let dir = tempfile_dir().map_err(|e| fail(&e))?;
            let dev = DevArgs::for_data_dir(&dir);
            let server = DevServer::start(&dev).await.map_err(|e| fail(&e))?;
            let token = server
                .local
                .admin_token(&dev.local, &dev.local.tenant, Duration::from_secs(3600))
                .map_err(|e| fail(&e))?;
            scratch = Some(dir);
            (server.addr, token, Some(server))
        }
    };
    let plan = ApiBenchPlan {
        addr,
        admin_token,
        duration: Duration::from_secs(args.duration.max(1)),
        connections: args.connections,
        agents: args.agents,
    };
    let results = run_api(&plan, !args.json).await.map_err(|e| fail(&e));
    if let Some(server) = server {
        server.shutdown().await;
    }
    if let Some(dir) = scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
    let results = results?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&results).unwrap_or_default()
        );
        return Ok(());
    }
    println!(
        "{:<24} {:>10} {:>12} {:>10} {:>10} {:>8}",
        "benchmark", "ops", "ops/s", "p50 (us)", "p99 (us)", "errors"
    );
    for m in &results {
        println!(
            "{:<24} {:>10} {:>12.0} {:>10} {:>10} {:>8}",
            m.name, m.operations, m.per_second, m.p50_us, m.p99_us, m.errors
        );
    }
    Ok(())
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("skein-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
