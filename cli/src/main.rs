use std::process::ExitCode;

use clap::{Parser, Subcommand};
use skein_cli::config::DevArgs;

mod commands;

// The dev server allocates many small, short-lived JSON values per request; mimalloc
// handles that pattern with less contention than glibc's malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "skein",
    version,
    about = "Run multi-agent workflows: locally with `skein dev`, serverlessly on AWS"
)]
#[command(
    after_help = "Exit codes: 0 ok, 1 request failed, 2 bad usage, 3 server unreachable, 4 not authorized, 5 not found."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole platform locally on SQLite (first start seeds a tenant and an admin).
    Dev(DevArgs),
    /// Print an access token.
    Token(commands::token::TokenArgs),
    /// Print a one-time link that signs you in to a running `skein dev`'s web console.
    Console(commands::console::ConsoleArgs),
    /// Register, list, inspect and manage agents on a running server.
    #[command(subcommand)]
    Agents(commands::agents::AgentsCommand),
    /// Create, claim, complete and inspect tasks on a running server.
    #[command(subcommand)]
    Tasks(commands::tasks::TasksCommand),
    /// Send and broadcast messages, read (or --follow) an inbox, acknowledge, redrive.
    #[command(subcommand)]
    Messages(commands::messages::MessagesCommand),
    /// Register, list and show workflows on a running server.
    #[command(subcommand)]
    Workflows(commands::workflows::WorkflowsCommand),
    /// Start a workflow run (from a file or a registered name); --watch follows it live.
    Run(commands::runs::RunArgs),
    /// List, show, watch and cancel runs.
    #[command(subcommand)]
    Runs(commands::runs::RunsCommand),
    /// What LLM calls used and cost (by workflow, agent, model or run), and the tenant's
    /// monthly budget.
    #[command(subcommand)]
    Usage(commands::usage::UsageCommand),
    /// Approve (or --reject) a run's approval step.
    Approve(commands::runs::ApproveArgs),
    /// Approvals waiting for you.
    Approvals(commands::Remote),
    /// Print the ASL a workflow file compiles to (no server needed).
    Compile(commands::workflows::CompileArgs),
    /// Draw a workflow's DAG as Mermaid or DOT, from a file or a registered workflow.
    Graph(commands::workflows::GraphArgs),
    /// Validate and run Amazon States Language definitions locally (virtual time by default).
    #[command(subcommand)]
    Asl(commands::asl::AslCommand),
    /// Print the API's OpenAPI 3.1 document (also served at /v1/openapi.json).
    Openapi,
    /// The AWS deployment on this machine: `skein aws local` (moto, the resources, the
    /// functions' variables, the API's routes and the event sources).
    #[command(subcommand)]
    Aws(commands::aws::AwsCommand),
    /// Measure the platform: `skein bench api`.
    #[command(subcommand)]
    Bench(commands::bench::BenchCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // ASL runs choose their own runtime: a paused one gives virtual time.
    let cli = match cli.command {
        Command::Asl(command) => return commands::asl::run(command),
        command => Cli { command },
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Dev(args) => commands::dev::run(args).await,
            Command::Token(args) => commands::token::run(args).await,
            Command::Console(args) => commands::console::run(args).await,
            Command::Agents(cmd) => commands::agents::run(cmd).await,
            Command::Tasks(cmd) => commands::tasks::run(cmd).await,
            Command::Messages(cmd) => commands::messages::run(cmd).await,
            Command::Bench(cmd) => commands::bench::run(cmd).await,
            Command::Aws(cmd) => commands::aws::run(cmd).await,
            Command::Workflows(cmd) => commands::workflows::run(cmd).await,
            Command::Run(args) => commands::runs::start(args).await,
            Command::Runs(cmd) => commands::runs::run(cmd).await,
            Command::Usage(cmd) => commands::usage::run(cmd).await,
            Command::Approve(args) => commands::runs::approve(args).await,
            Command::Approvals(remote) => commands::runs::approvals(remote).await,
            Command::Compile(args) => commands::workflows::compile_file(args),
            Command::Graph(args) => commands::workflows::graph_of(args).await,
            Command::Asl(_) => unreachable!("handled before the runtime starts"),
            Command::Openapi => {
                let document = skein_http::openapi_document();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&document).unwrap_or_default()
                );
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
