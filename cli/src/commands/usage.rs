//! `skein usage`: what LLM calls used and cost (a tenant's days, one run), and the
//! tenant's monthly budget.

use clap::{Subcommand, ValueEnum};
use reqwest::Method;
use serde_json::{Value, json};
use skein_cli::client::CliError;

use super::{Remote, text, with_query};

#[derive(Debug, Subcommand)]
pub enum UsageCommand {
    /// The tenant's calls, tokens and cost over whole UTC days, grouped.
    Report {
        /// First day, YYYY-MM-DD (default: the first of this month).
        #[arg(long)]
        from: Option<String>,
        /// Last day, inclusive, YYYY-MM-DD (default: today).
        #[arg(long)]
        to: Option<String>,
        #[arg(long, value_enum, default_value_t = GroupBy::Workflow)]
        group_by: GroupBy,
        #[command(flatten)]
        remote: Remote,
    },
    /// Every LLM call of one run, with its totals and budget.
    Run {
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Show the tenant's monthly budget; with --usd/--tokens set it, with --clear remove it.
    Budget {
        /// US dollars a calendar month (UTC) may spend.
        #[arg(long, conflicts_with = "clear")]
        usd: Option<f64>,
        /// Tokens (input + output) a calendar month may use.
        #[arg(long, conflicts_with = "clear")]
        tokens: Option<u64>,
        #[arg(long)]
        clear: bool,
        #[command(flatten)]
        remote: Remote,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GroupBy {
    Workflow,
    Agent,
    Model,
}

impl GroupBy {
    fn as_str(self) -> &'static str {
        match self {
            GroupBy::Workflow => "workflow",
            GroupBy::Agent => "agent",
            GroupBy::Model => "model",
        }
    }
}

pub async fn run(command: UsageCommand) -> Result<(), CliError> {
    match command {
        UsageCommand::Report {
            from,
            to,
            group_by,
            remote,
        } => {
            let params = [
                ("from", from),
                ("to", to),
                ("group_by", Some(group_by.as_str().to_string())),
            ];
            let report = remote
                .client()?
                .get(&with_query("/v1/usage", &params))
                .await?;
            remote.print(&report, describe_report);
            Ok(())
        }
        UsageCommand::Run { id, remote } => {
            let usage = remote
                .client()?
                .get(&format!("/v1/runs/{id}/usage"))
                .await?;
            remote.print(&usage, describe_run);
            Ok(())
        }
        UsageCommand::Budget {
            usd,
            tokens,
            clear,
            remote,
        } => {
            let client = remote.client()?;
            let status = if clear || usd.is_some() || tokens.is_some() {
                let monthly = (!clear).then(|| json!({ "usd": usd, "tokens": tokens }));
                let mut body = json!({ "monthly": monthly });
                if let Some(monthly) = body["monthly"].as_object_mut() {
                    monthly.retain(|_, v| !v.is_null());
                }
                client
                    .send(Method::PUT, "/v1/usage/budget", Some(&body), &[])
                    .await?
                    .unwrap_or_default()
            } else {
                client.get("/v1/usage/budget").await?
            };
            remote.print(&status, describe_budget);
            Ok(())
        }
    }
}

fn usd(value: &Value) -> String {
    match value.as_f64() {
        Some(v) => format!("${v:.4}"),
        None => "-".into(),
    }
}

fn totals_row(label: &str, t: &Value) -> String {
    let unpriced = t["unpriced_calls"].as_u64().unwrap_or(0);
    format!(
        "{:<32} {:>7} {:>12} {:>12} {:>12} {:>11}{}",
        label,
        text(t, "calls"),
        text(t, "input_tokens"),
        text(t, "output_tokens"),
        text(t, "cached_tokens"),
        usd(&t["cost_usd"]),
        if unpriced > 0 {
            format!("  ({unpriced} unpriced)")
        } else {
            String::new()
        }
    )
}

fn header(first: &str) -> String {
    format!(
        "{:<32} {:>7} {:>12} {:>12} {:>12} {:>11}",
        first, "CALLS", "INPUT", "OUTPUT", "CACHED", "COST"
    )
}

fn describe_report(report: &Value) -> String {
    let by = text(report, "group_by").to_uppercase();
    let mut out = format!(
        "Usage from {} to {} (UTC days)\n{}",
        text(report, "from"),
        text(report, "to"),
        header(&by)
    );
    for group in report["groups"].as_array().into_iter().flatten() {
        out += &format!("\n{}", totals_row(&text(group, "key"), group));
    }
    out += &format!("\n{}", totals_row("TOTAL", &report["totals"]));
    out
}

fn describe_run(usage: &Value) -> String {
    let mut out = format!("Run {} ({})", text(usage, "run"), text(usage, "workflow"));
    if let Some(budget) = usage["budget"].as_object() {
        let parts: Vec<String> = budget.iter().map(|(k, v)| format!("{k} {v}")).collect();
        out += &format!("  budget: {}", parts.join(", "));
    }
    out += &format!(
        "\n{:<20} {:<8} {:<28} {:>7} {:>7} {:>11}",
        "STEP", "SOURCE", "MODEL", "INPUT", "OUTPUT", "COST"
    );
    for call in usage["calls"].as_array().into_iter().flatten() {
        out += &format!(
            "\n{:<20} {:<8} {:<28} {:>7} {:>7} {:>11}",
            text(call, "step"),
            text(call, "source"),
            text(call, "model"),
            text(call, "input_tokens"),
            text(call, "output_tokens"),
            usd(&call["cost_usd"]),
        );
    }
    out += &format!(
        "\n\n{}\n{}",
        header(""),
        totals_row("TOTAL", &usage["totals"])
    );
    out
}

fn describe_budget(status: &Value) -> String {
    let cap = match status["monthly"].as_object() {
        Some(monthly) => {
            let parts: Vec<String> = monthly.iter().map(|(k, v)| format!("{k} {v}")).collect();
            parts.join(", ")
        }
        None => "none".into(),
    };
    format!(
        "Monthly budget: {cap}\n{}: {} tokens, {} committed",
        text(status, "month"),
        text(status, "committed_tokens"),
        usd(&status["committed_usd"])
    )
}
