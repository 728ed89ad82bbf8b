//! `skein asl validate|run|serve`: check and run Amazon States Language definitions
//! locally, and serve them behind Step Functions' API.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use skein_asl::{
    Execution, ExecutionConfig, ExecutionHandle, Outcome, Resources, StateMachine, Status,
    TaskCall, TaskError, TaskHandler, VirtualClock,
};
use skein_cli::client::{CliError, json_arg};

#[derive(Subcommand)]
pub enum AslCommand {
    /// Check a definition; lists every problem with its state and field (exit 2 if invalid).
    Validate {
        /// The state machine definition (JSON).
        file: PathBuf,
    },
    /// Run a definition locally and print its output (exit 1 if the execution fails).
    Run(RunArgs),
    /// Time repeated executions of a definition in-process (what scripts/asl-compare.sh uses).
    Bench(BenchArgs),
    /// Serve Step Functions' API locally, for the AWS CLI and SDKs (`--endpoint-url`).
    Serve(ServeArgs),
    /// Re-run an execution recorded on AWS, its tasks answered as they were there, and show
    /// the first event where the two differ (exit 1), or fork it from a state.
    Replay(ReplayArgs),
}

#[derive(Args)]
pub struct ReplayArgs {
    /// The state machine definition (JSON): the one that ran, or the one you changed.
    file: PathBuf,
    /// The execution's history: `aws stepfunctions get-execution-history --execution-arn ARN`.
    history: PathBuf,
    /// Start in this top-level state instead of StartAt (a fork: nothing is compared).
    #[arg(long)]
    from: Option<String>,
    /// The input to start with: JSON, or @file (by default, the recorded execution's).
    #[arg(long)]
    input: Option<String>,
}

#[derive(Args)]
pub struct ServeArgs {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:8083")]
    addr: std::net::SocketAddr,
    /// Mocked Task responses in Step Functions Local's MockConfigFile format; an execution
    /// uses one of its test cases when started on `stateMachineArn#TestCase`.
    #[arg(long, env = "SFN_MOCK_CONFIG")]
    mock_config: Option<PathBuf>,
    /// A Lambda Invoke endpoint (e.g. `cargo lambda watch`'s http://127.0.0.1:9000) for
    /// Lambda tasks no mock answers.
    #[arg(long, env = "SKEIN_ASL_LAMBDA_ENDPOINT")]
    lambda_endpoint: Option<String>,
    /// Wait states and retry back-off end at once (timeouts still run in real time).
    #[arg(long)]
    virtual_time: bool,
    /// The region in the ARNs it makes.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// The account in the ARNs it makes.
    #[arg(long, default_value = "123456789012")]
    account: String,
}

#[derive(Args)]
pub struct BenchArgs {
    /// The state machine definition (JSON).
    file: PathBuf,
    /// Execution input: JSON, or @file.
    #[arg(long, default_value = "{}")]
    input: String,
    /// How many executions to time in a round (after a tenth as many warm-up runs).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    iterations: u32,
    /// How many rounds to time; the median round is reported, so that one stall of the
    /// machine does not decide the figure.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
    /// Keep event types but not state inputs and outputs in the history (saves a copy of
    /// the state's data at every transition).
    #[arg(long)]
    without_payloads: bool,
}

#[derive(Args)]
pub struct RunArgs {
    /// The state machine definition (JSON).
    file: PathBuf,
    /// Execution input: JSON, or @file.
    #[arg(long, default_value = "{}")]
    input: String,
    /// Also print the execution history, one JSON event per line, on stderr.
    #[arg(long)]
    history: bool,
    /// Make Wait states and back-off really wait (by default time is virtual: instant).
    #[arg(long)]
    real_time: bool,
    /// Give a Task resource a fixed result: ARN=JSON (or ARN=@file). Repeatable. Token
    /// resources (.waitForTaskToken) are answered with it through their task token.
    #[arg(long = "task-output", value_name = "ARN=JSON")]
    task_outputs: Vec<String>,
    /// Execution name (`$$.Execution.Name`).
    #[arg(long, default_value = "local")]
    name: String,
}

pub fn run(command: AslCommand) -> ExitCode {
    let result = match command {
        AslCommand::Validate { file } => validate(&file),
        AslCommand::Run(args) => run_definition(args),
        AslCommand::Bench(args) => bench(args),
        AslCommand::Serve(args) => serve(args),
        AslCommand::Replay(args) => replay(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

fn load(
    file: &std::path::Path,
) -> Result<Result<StateMachine, skein_asl::InvalidDefinition>, CliError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?;
    Ok(StateMachine::parse(&text))
}

fn report_invalid(file: &std::path::Path, invalid: &skein_asl::InvalidDefinition) -> ExitCode {
    eprintln!("{}: {invalid}", file.display());
    ExitCode::from(2)
}

fn validate(file: &std::path::Path) -> Result<ExitCode, CliError> {
    match load(file)? {
        Ok(machine) => {
            println!(
                "{}: valid ({} states)",
                file.display(),
                machine.state_count()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(invalid) => Ok(report_invalid(file, &invalid)),
    }
}

/// Answers a resource with a fixed output, directly or through its task token.
struct FixedOutput {
    output: Value,
    handle: Arc<OnceLock<ExecutionHandle>>,
}

#[async_trait::async_trait]
impl TaskHandler for FixedOutput {
    async fn call(&self, call: TaskCall) -> Result<Value, TaskError> {
        if let (Some(token), Some(handle)) = (&call.task_token, self.handle.get()) {
            handle
                .send_task_success(token, self.output.clone())
                .map_err(|e| TaskError::new("States.Runtime", e.to_string()))?;
        }
        Ok(self.output.clone())
    }
}

fn resources(
    task_outputs: &[String],
    handle: &Arc<OnceLock<ExecutionHandle>>,
) -> Result<Resources, CliError> {
    let mut resources = Resources::new();
    for spec in task_outputs {
        let (arn, raw) = spec
            .split_once('=')
            .ok_or_else(|| CliError::Usage(format!("--task-output '{spec}': write it as ARN=JSON, e.g. arn:aws:lambda:us-east-1:123456789012:function:f={{\"ok\":true}}")))?;
        let output = json_arg("--task-output", raw)?;
        resources.register(
            arn,
            FixedOutput {
                output,
                handle: handle.clone(),
            },
        );
    }
    Ok(resources)
}

fn run_definition(args: RunArgs) -> Result<ExitCode, CliError> {
    let machine = match load(&args.file)? {
        Ok(machine) => machine,
        Err(invalid) => return Ok(report_invalid(&args.file, &invalid)),
    };
    let input = json_arg("--input", &args.input)?;
    let handle_slot = Arc::new(OnceLock::new());
    let mut config = ExecutionConfig::new(Arc::new(resources(&args.task_outputs, &handle_slot)?));
    config.name = args.name.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(!args.real_time)
        .build()
        .map_err(|e| CliError::Other(format!("cannot start the async runtime: {e}")))?;
    let outcome: Outcome = runtime.block_on(async {
        if !args.real_time {
            config.clock = Arc::new(VirtualClock::starting_at(chrono::Utc::now()));
        }
        let execution = Execution::new(&machine, input, config);
        handle_slot.set(execution.handle()).ok();
        execution.run().await
    });
    if args.history {
        for event in outcome.history.iter() {
            eprintln!("{}", serde_json::to_string(&event).unwrap_or_default());
        }
    }
    let pretty = |value: &Value| serde_json::to_string_pretty(value).unwrap_or_default();
    match (outcome.status, &outcome.output, &outcome.error) {
        (Status::Succeeded, Some(output), _) => {
            println!("{}", pretty(output));
            Ok(ExitCode::SUCCESS)
        }
        (_, _, error) => {
            let (error, cause) = error
                .as_ref()
                .map(|e| (e.error.clone(), e.cause.clone()))
                .unwrap_or_default();
            println!("{}", pretty(&json!({ "error": error, "cause": cause })));
            Ok(ExitCode::from(1))
        }
    }
}

fn bench(args: BenchArgs) -> Result<ExitCode, CliError> {
    let machine = match load(&args.file)? {
        Ok(machine) => machine,
        Err(invalid) => return Ok(report_invalid(&args.file, &invalid)),
    };
    let input = json_arg("--input", &args.input)?;
    let mut config = ExecutionConfig::new(Arc::new(Resources::new()));
    config.max_history_events = usize::MAX;
    config.record_payloads = !args.without_payloads;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Other(format!("cannot start the async runtime: {e}")))?;
    let run_once = |input: Value| -> Result<(), CliError> {
        let outcome = runtime.block_on(Execution::new(&machine, input, config.clone()).run());
        match outcome.status {
            Status::Succeeded => Ok(()),
            _ => Err(CliError::Other(format!(
                "the execution did not succeed: {:?}",
                outcome.error
            ))),
        }
    };
    for _ in 0..(args.iterations / 10).max(1) {
        run_once(input.clone())?;
    }
    let mut rounds_us = Vec::with_capacity(args.rounds as usize);
    for _ in 0..args.rounds {
        let inputs: Vec<Value> = (0..args.iterations).map(|_| input.clone()).collect();
        let started = std::time::Instant::now();
        for input in inputs {
            run_once(input)?;
        }
        rounds_us.push(started.elapsed().as_secs_f64() * 1e6 / f64::from(args.iterations));
    }
    let mut sorted = rounds_us.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    println!(
        "{}",
        json!({ "iterations": args.iterations, "rounds_us": rounds_us, "per_execution_us": median })
    );
    Ok(ExitCode::SUCCESS)
}

fn serve(args: ServeArgs) -> Result<ExitCode, CliError> {
    let mocks = args
        .mock_config
        .as_deref()
        .map(skein_cli::asl::tasks::MockConfig::read)
        .transpose()
        .map_err(CliError::Usage)?
        .map(Arc::new);
    let settings = skein_cli::asl::serve::ServeSettings {
        mocks,
        lambda_endpoint: args.lambda_endpoint,
        virtual_time: args.virtual_time,
        region: args.region,
        account: args.account,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Other(format!("cannot start the async runtime: {e}")))?;
    runtime
        .block_on(skein_cli::asl::serve::serve(args.addr, settings))
        .map_err(|e| CliError::Other(format!("cannot serve on {}: {e}", args.addr)))?;
    Ok(ExitCode::SUCCESS)
}

fn replay(args: ReplayArgs) -> Result<ExitCode, CliError> {
    use skein_cli::asl::replay;
    let machine = match load(&args.file)? {
        Ok(machine) => machine,
        Err(invalid) => return Ok(report_invalid(&args.file, &invalid)),
    };
    let text = std::fs::read_to_string(&args.history)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", args.history.display())))?;
    let history: Value = serde_json::from_str(&text)
        .map_err(|e| CliError::Usage(format!("{}: not JSON: {e}", args.history.display())))?;
    let recording = replay::Recording::read(&history)
        .map_err(|e| CliError::Usage(format!("{}: {e}", args.history.display())))?;
    let input = args
        .input
        .as_deref()
        .map(|raw| json_arg("--input", raw))
        .transpose()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Other(format!("cannot start the async runtime: {e}")))?;
    let outcome = runtime
        .block_on(replay::run(
            &machine,
            &recording,
            args.from.as_deref(),
            input,
        ))
        .map_err(CliError::Usage)?;
    let status = format!("{:?}", outcome.status).to_uppercase();
    if args.from.is_some() {
        let result = match (&outcome.output, &outcome.error) {
            (Some(output), _) => output.clone(),
            (_, Some(error)) => json!({ "error": error.error, "cause": error.cause }),
            _ => Value::Null,
        };
        println!("forked from {}: {status}", args.from.unwrap_or_default());
        println!(
            "{}",
            serde_json::to_string_pretty(&result).unwrap_or_default()
        );
        return Ok(if outcome.output.is_some() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let local = replay::events_of(&outcome);
    match replay::first_divergence(&recording.events, &local) {
        None => {
            println!(
                "replayed {} events: the same states, outputs and errors as the recording ({status})",
                local.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(divergence) => {
            let recorded = divergence
                .recorded
                .map(|e| format!("event {}: {}", e.id, e.describe()))
                .unwrap_or_else(|| "nothing (the recording ended)".into());
            let here = divergence
                .local
                .map(|e| e.describe())
                .unwrap_or_else(|| "nothing (the local run ended)".into());
            println!("diverges from the recording:\n  recorded  {recorded}\n  here      {here}");
            Ok(ExitCode::from(1))
        }
    }
}
