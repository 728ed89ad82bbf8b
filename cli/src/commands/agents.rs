use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};
use skein_cli::client::{CliError, json_arg};

use super::{Remote, text, with_query};

#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    /// Register an agent; prints its client credentials once.
    Register(RegisterArgs),
    /// List agents (filter by capability or status).
    List {
        #[arg(long)]
        capability: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Follow `next_cursor` and print every page.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Show one agent.
    Get {
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Pause an agent: it keeps its identity but is offered no tasks.
    Pause {
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Resume a paused agent.
    Resume {
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Delete an agent and its credentials.
    Delete {
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Report that an agent is alive (as the agent).
    Heartbeat {
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Unique name in the tenant, e.g. `summarizer`.
    name: String,
    /// A capability; repeat for several.
    #[arg(long = "capability", short = 'c')]
    capabilities: Vec<String>,
    #[arg(long, default_value = "generic")]
    kind: String,
    /// Free-form JSON config (or @file).
    #[arg(long)]
    config: Option<String>,
    /// Print `export SKEIN_AGENT_ID=... SKEIN_AGENT_SECRET=...` lines for `eval`.
    #[arg(long, conflicts_with = "json")]
    env: bool,
    #[command(flatten)]
    remote: Remote,
}

pub async fn run(command: AgentsCommand) -> Result<(), CliError> {
    match command {
        AgentsCommand::Register(args) => register(args).await,
        AgentsCommand::List {
            capability,
            status,
            limit,
            all,
            remote,
        } => {
            let client = remote.client()?;
            let mut cursor: Option<String> = None;
            let mut rows = Vec::new();
            loop {
                let params = [
                    ("limit", Some(limit.to_string())),
                    ("capability", capability.clone()),
                    ("status", status.clone()),
                    ("cursor", cursor.clone()),
                ];
                let page = client.get(&with_query("/v1/agents", &params)).await?;
                rows.extend(page["items"].as_array().cloned().unwrap_or_default());
                cursor = page["next_cursor"].as_str().map(String::from);
                if !all || cursor.is_none() {
                    break;
                }
            }
            let listing = json!({ "items": rows, "next_cursor": cursor });
            remote.print(&listing, |v| {
                agent_table(v["items"].as_array().map(Vec::as_slice).unwrap_or_default())
            });
            Ok(())
        }
        AgentsCommand::Get { id, remote } => {
            let agent = remote.client()?.get(&format!("/v1/agents/{id}")).await?;
            remote.print(&agent, describe);
            Ok(())
        }
        AgentsCommand::Pause { id, remote } => set_status(&id, "paused", remote).await,
        AgentsCommand::Resume { id, remote } => set_status(&id, "active", remote).await,
        AgentsCommand::Delete { id, remote } => {
            remote
                .client()?
                .send(Method::DELETE, &format!("/v1/agents/{id}"), None, &[])
                .await?;
            remote.print(&json!({ "deleted": id }), |_| format!("Deleted agent {id}"));
            Ok(())
        }
        AgentsCommand::Heartbeat { id, remote } => {
            let agent = remote
                .client()?
                .post(&format!("/v1/agents/{id}/heartbeat"), &json!({}))
                .await?
                .unwrap_or_default();
            remote.print(&agent, |a| {
                format!(
                    "{} is online (heartbeat at {})",
                    text(a, "name"),
                    text(a, "last_heartbeat_at")
                )
            });
            Ok(())
        }
    }
}

async fn register(args: RegisterArgs) -> Result<(), CliError> {
    let mut body =
        json!({ "name": args.name, "kind": args.kind, "capabilities": args.capabilities });
    if let Some(config) = &args.config {
        body["config"] = json_arg("--config", config)?;
    }
    let registered = args
        .remote
        .client()?
        .post("/v1/agents", &body)
        .await?
        .unwrap_or_default();
    let (id, secret) = (
        text(&registered["credentials"], "client_id"),
        text(&registered["credentials"], "client_secret"),
    );
    if args.env {
        // The values come from the server: quoted, so `eval` runs none of them.
        println!(
            "export SKEIN_AGENT_ID={}\nexport SKEIN_AGENT_SECRET={}",
            shell_quote(&id),
            shell_quote(&secret)
        );
        return Ok(());
    }
    args.remote.print(&registered, |r| {
        format!(
            "Registered agent {} ({id})\n  client_id:     {id}\n  client_secret: {secret}\n  The secret is shown only now; exchange it for a token with\n  skein token --client-id {id} --client-secret <secret>",
            text(&r["agent"], "name")
        )
    });
    Ok(())
}

async fn set_status(id: &str, status: &str, remote: Remote) -> Result<(), CliError> {
    let body = json!({ "status": status });
    let agent = remote
        .client()?
        .send(Method::PATCH, &format!("/v1/agents/{id}"), Some(&body), &[])
        .await?
        .unwrap_or_default();
    remote.print(&agent, |a| {
        format!("{} is now {}", text(a, "name"), text(a, "status"))
    });
    Ok(())
}

fn agent_table(agents: &[Value]) -> String {
    if agents.is_empty() {
        return "No agents.".into();
    }
    let mut out = format!(
        "{:<30} {:<20} {:<8} {:<7} CAPABILITIES",
        "ID", "NAME", "STATUS", "ONLINE"
    );
    for a in agents {
        let caps: Vec<String> = a["capabilities"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str().map(String::from))
            .collect();
        out.push_str(&format!(
            "\n{:<30} {:<20} {:<8} {:<7} {}",
            text(a, "id"),
            text(a, "name"),
            text(a, "status"),
            if a["online"] == true { "yes" } else { "no" },
            caps.join(",")
        ));
    }
    out
}

fn describe(a: &Value) -> String {
    format!(
        "{} ({})\n  kind:         {}\n  status:       {}{}\n  capabilities: {}\n  heartbeat:    {}\n  config:       {}",
        text(a, "name"),
        text(a, "id"),
        text(a, "kind"),
        text(a, "status"),
        if a["online"] == true {
            ", online"
        } else {
            ", offline"
        },
        a["capabilities"],
        text(a, "last_heartbeat_at"),
        a["config"]
    )
}

/// `value` as one POSIX shell word: single-quoted, each `'` written as `'\''`.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn server_values_are_quoted_so_eval_runs_none_of_them() {
        assert_eq!(shell_quote("agt_01"), "'agt_01'");
        assert_eq!(shell_quote("$(id)"), "'$(id)'");
        assert_eq!(shell_quote("x'; id; '"), r"'x'\''; id; '\'''");
    }
}
