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
    /// Scheduling of random DAGs against their critical path, engine overhead per step,
    /// and 3-step workflow runs/s and latency over HTTP.
    Dag(DagArgs),
    /// Cold start, peak RSS and zip size of each Lambda function's release binary, served
    /// through a local Lambda Runtime API (build them first: `make bench` does).
    ColdStart(ColdStartArgs),
    /// Messages/s through the router on the SQLite queue, and inbox latency p50/p99 from
    /// send to the receiver's long-poll returning, on a fresh dev server.
    Messages(MessagesArgs),
    /// Delivery of run events to a watcher: from an event's `at` to its arrival over
    /// `GET /v1/runs/{id}/events`, against a running API (the origin, or the edge in
    /// front of it: compare the two).
    Events(EventsArgs),
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// The API's base URL.
    #[arg(long, env = "SKEIN_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// An admin token for it.
    #[arg(long, env = "SKEIN_TOKEN", hide_env_values = true)]
    token: String,
    /// Runs to watch (each times three step ends and the run's end).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    runs: u64,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct MessagesArgs {
    /// Messages queued and routed in the throughput phase.
    #[arg(long, default_value_t = 5000)]
    messages: usize,
    /// Send -> long-poll round trips in the latency phase.
    #[arg(long, default_value_t = 300)]
    rounds: usize,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ColdStartArgs {
    /// Where the functions' release binaries are.
    #[arg(long, default_value = "target/release")]
    bin_dir: std::path::PathBuf,
    /// Where `make package` put the zips (`<function>/bootstrap.zip`); sizes are shown
    /// when present.
    #[arg(long, default_value = "target/lambda")]
    zip_dir: std::path::PathBuf,
    /// The sample events.
    #[arg(long, default_value = "events")]
    events: std::path::PathBuf,
    /// Cold starts per function.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=1000))]
    runs: u64,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct DagArgs {
    /// How many random DAGs.
    #[arg(long, default_value_t = 3)]
    dags: usize,
    #[arg(long, default_value_t = 200)]
    steps: usize,
    #[arg(long, default_value_t = 50)]
    max_width: usize,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Steps in the no-op chain that measures overhead.
    #[arg(long, default_value_t = 200)]
    chain: usize,
    /// Seconds of the HTTP phase.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Concurrent clients in the HTTP phase.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    #[arg(long)]
    json: bool,
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
    match command {
        BenchCommand::Api(args) => run_api_bench(args).await,
        BenchCommand::Dag(args) => run_dag_bench(args).await,
        BenchCommand::ColdStart(args) => run_cold_start_bench(args).await,
        BenchCommand::Messages(args) => run_messages_bench(args).await,
        BenchCommand::Events(args) => run_events_bench(args).await,
    }
}

async fn run_events_bench(args: EventsArgs) -> Result<(), CliError> {
    use skein_cli::bench::events::{EventsBenchPlan, run_events};
    let plan = EventsBenchPlan {
        url: args.url,
        token: args.token,
        runs: args.runs as usize,
    };
    let bar = if args.json {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(args.runs)
    };
    let report = run_events(&plan, &|n| bar.set_position(n as u64)).await;
    bar.finish_and_clear();
    let report = report.map_err(|e| CliError::Other(e.to_string()))?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        println!(
            "run events at {}: {} events over {} runs, from written to watched p50 {:.2} ms p99 {:.2} ms max {:.2} ms",
            report.url, report.events, report.runs, report.p50_ms, report.p99_ms, report.max_ms
        );
    }
    Ok(())
}

async fn run_dag_bench(args: DagArgs) -> Result<(), CliError> {
    let fail = |e: &dyn std::fmt::Display| CliError::Other(e.to_string());
    let (server, token, dir) = fresh_server().await?;
    let plan = skein_cli::bench::dag::DagBenchPlan {
        base: server.url(),
        token,
        dags: args.dags,
        steps: args.steps,
        max_width: args.max_width,
        seed: args.seed,
        chain: args.chain.max(2),
        http_duration: Duration::from_secs(args.duration.max(1)),
        http_clients: args.clients,
    };
    let bar = if args.json {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new_spinner()
    };
    bar.enable_steady_tick(Duration::from_millis(120));
    let report =
        skein_cli::bench::dag::run_dag(&plan, &|phase| bar.set_message(phase.to_string())).await;
    bar.finish_and_clear();
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    let report = report.map_err(|e| fail(&e))?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
        return Ok(());
    }
    println!(
        "random DAGs ({} steps, width <= {}, steps sleep 10-100 ms)",
        args.steps, args.max_width
    );
    println!(
        "{:>6} {:>6} {:>14} {:>12} {:>10} {:>16} {:>10}",
        "levels", "widest", "critical (ms)", "makespan", "ratio", "level-by-level", "ratio"
    );
    for d in &report.dags {
        println!(
            "{:>6} {:>6} {:>14.0} {:>12.0} {:>10.3} {:>16.0} {:>10.3}",
            d.levels,
            d.widest,
            d.critical_path_ms,
            d.makespan_ms,
            d.makespan_over_critical_path,
            d.level_by_level_ms,
            d.level_by_level_over_critical_path
        );
    }
    let o = &report.overhead;
    println!(
        "engine overhead: {} no-op steps in a chain took {:.1} ms: {:.0} us per step (SQLite checkpoints included)",
        o.steps, o.run_ms, o.per_step_us
    );
    let h = &report.http;
    println!(
        "3-step workflow over HTTP: {} runs, {:.0} runs/s, client latency p50 {:.2} ms p99 {:.2} ms (engine p50 {:.2} ms)",
        h.runs, h.runs_per_second, h.p50_ms, h.p99_ms, h.engine_p50_ms
    );
    Ok(())
}

async fn run_api_bench(args: ApiArgs) -> Result<(), CliError> {
    let fail = |e: &dyn std::fmt::Display| CliError::Other(e.to_string());
    let mut scratch = None;
    let (addr, admin_token, server) = match (args.addr, args.token.clone()) {
        (Some(addr), Some(token)) => (addr, token, None),
        _ => {
            let (server, token, dir) = fresh_server().await?;
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

/// A dev server on a fresh data dir and a free port, with an admin token; the caller
/// shuts it down and removes the dir.
async fn fresh_server() -> Result<(DevServer, String, std::path::PathBuf), CliError> {
    let fail = |e: &dyn std::fmt::Display| CliError::Other(e.to_string());
    let dir = tempfile_dir().map_err(|e| fail(&e))?;
    let dev = DevArgs::for_data_dir(&dir);
    let server = DevServer::start(&dev).await.map_err(|e| fail(&e))?;
    let token = server
        .local
        .admin_token(&dev.local, &dev.local.tenant, Duration::from_secs(3600))
        .map_err(|e| fail(&e))?;
    Ok((server, token, dir))
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("skein-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

async fn run_messages_bench(args: MessagesArgs) -> Result<(), CliError> {
    use skein_cli::bench::messages::{
        MessagesReport, inbox_latency, quantile_ms, router_throughput,
    };
    let fail = |e: &dyn std::fmt::Display| CliError::Other(e.to_string());
    let bar = |len: usize, what: &str| {
        let bar = if args.json {
            indicatif::ProgressBar::hidden()
        } else {
            indicatif::ProgressBar::new(len as u64)
        };
        bar.set_message(what.to_string());
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg:>16} {bar:30} {pos}/{len}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    };
    let dir = tempfile_dir().map_err(|e| fail(&e))?.join("router");
    let routing = bar(args.messages, "routing");
    let (routed, elapsed) = router_throughput(&dir, args.messages, &|n| routing.set_position(n))
        .await
        .map_err(|e| fail(&e))?;
    routing.finish_and_clear();
    let _ = std::fs::remove_dir_all(&dir);

    let (server, token, dir) = fresh_server().await?;
    let polling = bar(args.rounds, "send -> inbox");
    let latencies = inbox_latency(&server, &token, args.rounds.max(1), &|n| {
        polling.set_position(n)
    })
    .await;
    polling.finish_and_clear();
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    let mut latencies = latencies.map_err(|e| fail(&e))?;
    let report = MessagesReport {
        routed,
        routed_per_second: routed as f64 / elapsed.as_secs_f64(),
        round_trips: latencies.len(),
        latency_p50_ms: quantile_ms(&mut latencies, 0.50),
        latency_p99_ms: quantile_ms(&mut latencies, 0.99),
        latency_max_ms: quantile_ms(&mut latencies, 1.0),
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
        return Ok(());
    }
    println!(
        "router (SQLite queue -> inboxes): {} messages in {:.2} s = {:.0} messages/s",
        report.routed,
        elapsed.as_secs_f64(),
        report.routed_per_second
    );
    println!(
        "inbox end to end (POST message -> waiting long-poll returns), {} round trips: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        report.round_trips, report.latency_p50_ms, report.latency_p99_ms, report.latency_max_ms
    );
    Ok(())
}

async fn run_cold_start_bench(args: ColdStartArgs) -> Result<(), CliError> {
    use skein_cli::bench::cold_start;
    let subjects = cold_start::subjects(&args.events).map_err(CliError::Other)?;
    let bar = if args.json {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new((subjects.len() as u64) * args.runs)
    };
    let results = cold_start::measure(
        &args.bin_dir,
        &args.zip_dir,
        &subjects,
        &cold_start::lambda_env(),
        args.runs as usize,
        &bar,
    )
    .await
    .map_err(CliError::Other)?;
    bar.finish_and_clear();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&results).unwrap_or_default()
        );
        return Ok(());
    }
    println!(
        "{:<14} {:>10} {:>10} {:>12} {:>12} {:>9} {:>10}",
        "function", "init p50", "init max", "1st resp p50", "1st resp max", "peak RSS", "zip"
    );
    for r in &results {
        println!(
            "{:<14} {:>8.1}ms {:>8.1}ms {:>10.1}ms {:>10.1}ms {:>7.1}MB {:>10}",
            r.function,
            r.init_ms_p50,
            r.init_ms_max,
            r.first_response_ms_p50,
            r.first_response_ms_max,
            r.peak_rss_mb,
            r.zip_bytes
                .map_or("-".to_string(), |b| format!("{:.2}MB", b as f64 / 1e6))
        );
    }
    Ok(())
}
