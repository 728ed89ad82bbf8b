//! `skein run`, `skein runs list|show|cancel`, `skein approve`, `skein approvals`.

use std::path::Path;

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use skein_cli::client::{CliError, json_arg};

use super::{Remote, text, with_query};

#[derive(Args)]
pub struct RunArgs {
    /// A workflow file (registered first, as `skein workflows apply`) or a registered name.
    workflow: String,
    /// The run input: JSON, or @file.
    #[arg(long, default_value = "{}")]
    input: String,
    /// Run this version instead of the latest.
    #[arg(long)]
    version: Option<u32>,
    /// Starting again with the same key returns the first run instead of a new one.
    #[arg(long)]
    idempotency_key: Option<String>,
    /// Follow the run live until it ends; exit 1 unless it succeeded.
    #[arg(long)]
    watch: bool,
    /// Wait up to this many seconds (1 to 20) for the run to end, in the starting
    /// request itself; exit 1 if it ended other than succeeded.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=20), conflicts_with = "watch")]
    wait: Option<u64>,
    #[command(flatten)]
    remote: Remote,
}

pub async fn start(args: RunArgs) -> Result<(), CliError> {
    let client = args.remote.client()?;
    let input = json_arg("--input", &args.input)?;
    let name = if Path::new(&args.workflow).is_file() {
        let registered = super::workflows::apply(&client, Path::new(&args.workflow)).await?;
        registered["workflow"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    } else {
        args.workflow.clone()
    };
    let body = json!({ "input": input, "version": args.version });
    let headers: Vec<(&str, &str)> = args
        .idempotency_key
        .as_deref()
        .map(|k| ("idempotency-key", k))
        .into_iter()
        .collect();
    let path = match args.wait {
        Some(seconds) => format!("/v1/workflows/{name}/runs?wait={seconds}"),
        None => format!("/v1/workflows/{name}/runs"),
    };
    let run = client
        .send(reqwest::Method::POST, &path, Some(&body), &headers)
        .await?
        .unwrap_or(Value::Null);
    let id = run["id"].as_str().unwrap_or_default().to_string();
    if args.wait.is_some() && run["status"] != "running" {
        return finished(&args.remote, &id, &run);
    }
    if !args.watch {
        args.remote.print(&run, |r| {
            format!(
                "{} started ({} v{})",
                text(r, "id"),
                text(r, "workflow"),
                text(r, "version")
            )
        });
        return Ok(());
    }
    let ended = super::watch::watch(&client, &id).await?;
    finished(&args.remote, &id, &ended)
}

/// Prints a run that ended; an error (exit 1) unless it succeeded.
fn finished(remote: &Remote, id: &str, run: &Value) -> Result<(), CliError> {
    remote.print(run, summary);
    match run["status"].as_str() {
        Some("succeeded") => Ok(()),
        other => Err(CliError::Other(format!(
            "run {id} ended {}",
            other.unwrap_or("?")
        ))),
    }
}

#[derive(Subcommand)]
pub enum RunsCommand {
    /// Runs, newest first.
    List {
        #[arg(long)]
        workflow: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// A run: every step's status, attempts, timing, and the output or error.
    Show {
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// The run's DAG as Mermaid, each step coloured by its status.
    Graph {
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Follow a run live until it ends.
    Watch {
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Stop a run; it ends as cancelled.
    Cancel {
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
}

pub async fn run(command: RunsCommand) -> Result<(), CliError> {
    match command {
        RunsCommand::List {
            workflow,
            status,
            remote,
        } => {
            let path = with_query(
                "/v1/runs",
                &[
                    ("workflow", workflow),
                    ("status", status),
                    ("limit", Some("50".into())),
                ],
            );
            let page = remote.client()?.get(&path).await?;
            remote.print(&page, |page| {
                let mut out = format!(
                    "{:<32} {:<24} {:>3} {:<10} STARTED",
                    "RUN", "WORKFLOW", "V", "STATUS"
                );
                for r in page["items"].as_array().into_iter().flatten() {
                    out += &format!(
                        "\n{:<32} {:<24} {:>3} {:<10} {}",
                        text(r, "id"),
                        text(r, "workflow"),
                        text(r, "version"),
                        text(r, "status"),
                        text(r, "started_at")
                    );
                }
                out
            });
            Ok(())
        }
        RunsCommand::Show { id, remote } => {
            let run = remote.client()?.get(&format!("/v1/runs/{id}")).await?;
            remote.print(&run, summary);
            Ok(())
        }
        RunsCommand::Graph { id, remote } => {
            let picture = remote
                .client()?
                .get(&format!("/v1/runs/{id}/graph"))
                .await?;
            print!("{}", picture.as_str().unwrap_or_default());
            Ok(())
        }
        RunsCommand::Watch { id, remote } => {
            let run = super::watch::watch(&remote.client()?, &id).await?;
            remote.print(&run, summary);
            Ok(())
        }
        RunsCommand::Cancel { id, remote } => {
            let run = remote
                .client()?
                .post(&format!("/v1/runs/{id}/cancel"), &json!({}))
                .await?
                .unwrap_or(Value::Null);
            remote.print(&run, |r| format!("{} is being cancelled", text(r, "id")));
            Ok(())
        }
    }
}

/// A run as text: a line per step, then the output or the error.
pub fn summary(run: &Value) -> String {
    let mut out = format!(
        "run {} of {} v{}: {}",
        text(run, "id"),
        text(run, "workflow"),
        text(run, "version"),
        text(run, "status")
    );
    for s in run["steps"].as_array().into_iter().flatten() {
        let attempts = s["attempts"].as_array().map_or(0, Vec::len);
        let took = s["duration_ms"]
            .as_i64()
            .map(|ms| format!("{ms} ms"))
            .unwrap_or_default();
        let tries = if attempts > 1 {
            format!(" ({attempts} attempts)")
        } else {
            String::new()
        };
        let error = s["error"]["error"]
            .as_str()
            .map(|e| format!("  {e}: {}", s["error"]["cause"].as_str().unwrap_or("")))
            .unwrap_or_default();
        out += &format!(
            "\n  {:<20} {:<18} {took:>9}{tries}{error}",
            text(s, "id"),
            text(s, "status")
        );
    }
    match (&run["output"], &run["error"]) {
        (Value::Null, Value::Null) => {}
        (Value::Null, error) => {
            out += &format!("\nerror: {} {}", text(error, "error"), text(error, "cause"))
        }
        (output, _) => {
            out += &format!(
                "\noutput: {}",
                serde_json::to_string_pretty(output).unwrap_or_default()
            )
        }
    }
    out
}

#[derive(Args)]
pub struct ApproveArgs {
    run: String,
    step: String,
    /// Reject instead of approving.
    #[arg(long)]
    reject: bool,
    #[arg(long)]
    comment: Option<String>,
    #[command(flatten)]
    remote: Remote,
}

pub async fn approve(args: ApproveArgs) -> Result<(), CliError> {
    let verb = if args.reject { "reject" } else { "approve" };
    let body = json!({ "comment": args.comment });
    let run = args
        .remote
        .client()?
        .post(
            &format!("/v1/runs/{}/steps/{}/{verb}", args.run, args.step),
            &body,
        )
        .await?
        .unwrap_or(Value::Null);
    args.remote.print(&run, |_| {
        format!("{}d {} of run {}", verb, args.step, args.run)
    });
    Ok(())
}

pub async fn approvals(remote: Remote) -> Result<(), CliError> {
    let pending = remote.client()?.get("/v1/approvals").await?;
    remote.print(&pending, |list| {
        let mut out = format!("{:<32} {:<20} {:<20} MESSAGE", "RUN", "STEP", "WORKFLOW");
        for a in list.as_array().into_iter().flatten() {
            out += &format!(
                "\n{:<32} {:<20} {:<20} {}",
                text(a, "run"),
                text(a, "step"),
                text(a, "workflow"),
                text(a, "message")
            );
        }
        out
    });
    Ok(())
}
