use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};
use skein_cli::client::{CliError, json_arg};

use super::{Remote, text, with_query};

#[derive(Debug, Subcommand)]
pub enum TasksCommand {
    /// Create a task for an agent or a capability.
    Create(CreateArgs),
    /// Show one task, with its result or error.
    Get {
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// List tasks, newest first.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        agent: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        remote: Remote,
    },
    /// Claim the next task for an agent (as the agent); waits up to --wait seconds.
    Claim {
        agent_id: String,
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(0..=20))]
        wait: u64,
        #[command(flatten)]
        remote: Remote,
    },
    /// Complete a claimed task with a result (as the agent).
    Complete {
        id: String,
        /// JSON result (or @file).
        #[arg(long, default_value = "null")]
        result: String,
        /// What the task's LLM calls used, as JSON (or @file): {"model": ...,
        /// "input_tokens": ..., "output_tokens": ...}; counted against budgets.
        #[arg(long)]
        usage: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Report that a claimed task failed (as the agent); retried while attempts remain.
    Fail {
        id: String,
        #[arg(long)]
        message: String,
        #[arg(long, default_value = "agent_error")]
        code: String,
        /// End the task now instead of retrying.
        #[arg(long)]
        no_retry: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Extend a claimed task's lease (as the agent).
    Heartbeat {
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Address the task to this agent id.
    #[arg(
        long,
        required_unless_present = "capability",
        conflicts_with = "capability"
    )]
    agent: Option<String>,
    /// Address the task to any agent with this capability.
    #[arg(long)]
    capability: Option<String>,
    /// JSON input (or @file).
    #[arg(long, default_value = "{}")]
    input: String,
    /// Seconds a claim lasts without a heartbeat.
    #[arg(long)]
    timeout: Option<u32>,
    #[arg(long)]
    max_attempts: Option<u32>,
    /// Seconds the task may wait unclaimed before it expires.
    #[arg(long)]
    ttl: Option<u32>,
    /// Makes retries of this command create the task only once.
    #[arg(long)]
    idempotency_key: Option<String>,
    /// Print only the task id.
    #[arg(long, short, conflicts_with = "json")]
    quiet: bool,
    #[command(flatten)]
    remote: Remote,
}

pub async fn run(command: TasksCommand) -> Result<(), CliError> {
    match command {
        TasksCommand::Create(args) => create(args).await,
        TasksCommand::Get { id, remote } => {
            let task = remote.client()?.get(&format!("/v1/tasks/{id}")).await?;
            remote.print(&task, describe);
            Ok(())
        }
        TasksCommand::List {
            status,
            agent,
            limit,
            remote,
        } => {
            let params = [
                ("limit", Some(limit.to_string())),
                ("status", status),
                ("agent", agent),
            ];
            let page = remote
                .client()?
                .get(&with_query("/v1/tasks", &params))
                .await?;
            remote.print(&page, |p| {
                task_table(p["items"].as_array().map(Vec::as_slice).unwrap_or_default())
            });
            Ok(())
        }
        TasksCommand::Claim {
            agent_id,
            wait,
            remote,
        } => {
            let path = format!("/v1/agents/{agent_id}/tasks/claim?wait={wait}");
            match remote.client()?.post(&path, &json!({})).await? {
                Some(task) => remote.print(&task, describe),
                None if remote.json => println!("null"),
                None => eprintln!("No task to claim within {wait} s."),
            }
            Ok(())
        }
        TasksCommand::Complete {
            id,
            result,
            usage,
            remote,
        } => {
            let mut body = json!({ "result": json_arg("--result", &result)? });
            if let Some(usage) = usage {
                body["usage"] = json_arg("--usage", &usage)?;
            }
            let task = remote
                .client()?
                .post(&format!("/v1/tasks/{id}/complete"), &body)
                .await?
                .unwrap_or_default();
            remote.print(&task, describe);
            Ok(())
        }
        TasksCommand::Fail {
            id,
            message,
            code,
            no_retry,
            remote,
        } => {
            let body =
                json!({ "error": { "code": code, "message": message }, "retryable": !no_retry });
            let task = remote
                .client()?
                .post(&format!("/v1/tasks/{id}/fail"), &body)
                .await?
                .unwrap_or_default();
            remote.print(&task, describe);
            Ok(())
        }
        TasksCommand::Heartbeat { id, remote } => {
            let task = remote
                .client()?
                .send(
                    Method::POST,
                    &format!("/v1/tasks/{id}/heartbeat"),
                    None,
                    &[],
                )
                .await?
                .unwrap_or_default();
            remote.print(&task, |t| {
                format!(
                    "Lease on {} extended to {}",
                    text(t, "id"),
                    text(&t["lease"], "expires_at")
                )
            });
            Ok(())
        }
    }
}

async fn create(args: CreateArgs) -> Result<(), CliError> {
    let mut body = json!({ "input": json_arg("--input", &args.input)? });
    let fields = [
        ("agent", args.agent.map(Value::from)),
        ("capability", args.capability.map(Value::from)),
    ];
    let numbers = [
        ("timeout_seconds", args.timeout),
        ("max_attempts", args.max_attempts),
        ("ttl_seconds", args.ttl),
    ];
    for (name, value) in fields {
        if let Some(value) = value {
            body[name] = value;
        }
    }
    for (name, value) in numbers {
        if let Some(value) = value {
            body[name] = Value::from(value);
        }
    }
    let headers: Vec<(&str, &str)> = args
        .idempotency_key
        .as_deref()
        .map(|k| ("idempotency-key", k))
        .into_iter()
        .collect();
    let task = args
        .remote
        .client()?
        .send(Method::POST, "/v1/tasks", Some(&body), &headers)
        .await?
        .unwrap_or_default();
    if args.quiet {
        println!("{}", text(&task, "id"));
    } else {
        args.remote.print(&task, |t| {
            format!("Created task {} ({})", text(t, "id"), text(t, "status"))
        });
    }
    Ok(())
}

fn target(t: &Value) -> String {
    match (&t["target"]["agent"], &t["target"]["capability"]) {
        (Value::String(agent), _) => format!("agent {agent}"),
        (_, Value::String(capability)) => format!("capability {capability}"),
        _ => "-".into(),
    }
}

fn describe(t: &Value) -> String {
    let mut out = format!(
        "Task {}\n  status:   {}\n  for:      {}\n  attempts: {}/{}\n  input:    {}",
        text(t, "id"),
        text(t, "status"),
        target(t),
        text(t, "attempts"),
        text(t, "max_attempts"),
        t["input"]
    );
    if !t["lease"].is_null() {
        out.push_str(&format!(
            "\n  lease:    {} held by {} until {}",
            text(&t["lease"], "id"),
            text(&t["lease"], "agent"),
            text(&t["lease"], "expires_at")
        ));
    }
    if !t["result"].is_null() {
        out.push_str(&format!("\n  result:   {}", t["result"]));
    }
    if !t["error"].is_null() {
        out.push_str(&format!(
            "\n  error:    {}: {}",
            text(&t["error"], "code"),
            text(&t["error"], "message")
        ));
    }
    out
}

fn task_table(tasks: &[Value]) -> String {
    if tasks.is_empty() {
        return "No tasks.".into();
    }
    let mut out = format!("{:<30} {:<10} {:<8} FOR", "ID", "STATUS", "ATTEMPTS");
    for t in tasks {
        out.push_str(&format!(
            "\n{:<30} {:<10} {:<8} {}",
            text(t, "id"),
            text(t, "status"),
            format!("{}/{}", text(t, "attempts"), text(t, "max_attempts")),
            target(t)
        ));
    }
    out
}
