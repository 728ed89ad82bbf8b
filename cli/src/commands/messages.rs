//! `skein messages`: send, broadcast, read an inbox (or follow it), acknowledge, list and
//! redrive dead letters.

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use skein_cli::client::{CliError, json_arg};

use super::{Remote, text, with_query};

#[derive(Debug, Subcommand)]
pub enum MessagesCommand {
    /// Send a message to one agent.
    Send {
        /// The receiving agent's id.
        agent_id: String,
        #[command(flatten)]
        message: MessageArgs,
    },
    /// Send a message to every active agent with a capability and/or tags.
    Broadcast {
        #[arg(long)]
        capability: Option<String>,
        /// Repeat for several; an agent needs all of them.
        #[arg(long = "tag")]
        tags: Vec<String>,
        #[command(flatten)]
        message: MessageArgs,
    },
    /// Read an agent's inbox (as the agent). Messages shown stay hidden for --visibility
    /// seconds; acknowledge them with `skein messages ack`, or pass --ack.
    Inbox {
        agent_id: String,
        /// Seconds to wait for a message when none is there (0 to 20).
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=20))]
        wait: u64,
        #[arg(long, default_value_t = 30)]
        visibility: u64,
        #[arg(long, default_value_t = 10)]
        limit: u32,
        /// Keep reading and print messages as they arrive (Ctrl-C to stop).
        #[arg(long)]
        follow: bool,
        /// Acknowledge each message once printed.
        #[arg(long)]
        ack: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Acknowledge a message: it leaves the inbox for good.
    Ack {
        agent_id: String,
        message_id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Messages the router gave up on (admins and operators).
    DeadLetters {
        #[command(flatten)]
        remote: Remote,
    },
    /// Send a dead letter again.
    Redrive {
        message_id: String,
        #[command(flatten)]
        remote: Remote,
    },
}

#[derive(Debug, Args)]
pub struct MessageArgs {
    /// What the message means to its receiver, e.g. `question`.
    #[arg(long)]
    kind: String,
    /// JSON payload (or @file).
    #[arg(long, default_value = "null")]
    payload: String,
    #[arg(long)]
    correlation_id: Option<String>,
    /// Seconds until the message expires (default 1 day).
    #[arg(long)]
    ttl: Option<u64>,
    #[command(flatten)]
    remote: Remote,
}

impl MessageArgs {
    fn body(&self) -> Result<Value, CliError> {
        let mut body =
            json!({ "kind": self.kind, "payload": json_arg("--payload", &self.payload)? });
        if let Some(id) = &self.correlation_id {
            body["correlation_id"] = json!(id);
        }
        if let Some(ttl) = self.ttl {
            body["ttl_seconds"] = json!(ttl);
        }
        Ok(body)
    }
}

pub async fn run(command: MessagesCommand) -> Result<(), CliError> {
    match command {
        MessagesCommand::Send { agent_id, message } => {
            let path = format!("/v1/agents/{agent_id}/messages");
            let sent = message
                .remote
                .client()?
                .post(&path, &message.body()?)
                .await?;
            message.remote.print(&sent.unwrap_or_default(), |m| {
                format!("Queued {}", text(m, "id"))
            });
            Ok(())
        }
        MessagesCommand::Broadcast {
            capability,
            tags,
            message,
        } => {
            let mut body = message.body()?;
            body["capability"] = json!(capability);
            body["tags"] = json!(tags);
            let sent = message
                .remote
                .client()?
                .post("/v1/messages/broadcast", &body)
                .await?;
            message.remote.print(&sent.unwrap_or_default(), |m| {
                format!("Queued broadcast {}", text(m, "id"))
            });
            Ok(())
        }
        MessagesCommand::Inbox {
            agent_id,
            wait,
            visibility,
            limit,
            follow,
            ack,
            remote,
        } => {
            let client = remote.client()?;
            let wait = if follow { 20 } else { wait };
            let params = [
                ("wait", Some(wait.to_string())),
                ("visibility", Some(visibility.to_string())),
                ("limit", Some(limit.to_string())),
            ];
            let path = with_query(&format!("/v1/agents/{agent_id}/inbox"), &params);
            loop {
                let page = client.get(&path).await?;
                let messages = page["messages"].as_array().cloned().unwrap_or_default();
                if follow {
                    for entry in &messages {
                        remote.print(entry, describe);
                    }
                } else {
                    remote.print(&page, |_| {
                        if messages.is_empty() {
                            "No messages.".into()
                        } else {
                            messages.iter().map(describe).collect::<Vec<_>>().join("\n")
                        }
                    });
                }
                if ack {
                    for entry in &messages {
                        let id = text(&entry["message"], "id");
                        client
                            .post(&format!("/v1/agents/{agent_id}/inbox/{id}/ack"), &json!({}))
                            .await?;
                    }
                }
                if !follow {
                    return Ok(());
                }
            }
        }
        MessagesCommand::Ack {
            agent_id,
            message_id,
            remote,
        } => {
            let path = format!("/v1/agents/{agent_id}/inbox/{message_id}/ack");
            remote.client()?.post(&path, &json!({})).await?;
            if !remote.json {
                println!("Acknowledged {message_id}");
            }
            Ok(())
        }
        MessagesCommand::DeadLetters { remote } => {
            let page = remote.client()?.get("/v1/dead-letters").await?;
            remote.print(&page, |p| {
                let items = p["items"].as_array().cloned().unwrap_or_default();
                if items.is_empty() {
                    return "No dead letters.".into();
                }
                items
                    .iter()
                    .map(|d| {
                        format!(
                            "{}  {} receives  {}",
                            text(&d["message"], "id"),
                            text(d, "receives"),
                            text(d, "error")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(())
        }
        MessagesCommand::Redrive { message_id, remote } => {
            let path = format!("/v1/dead-letters/{message_id}/redrive");
            let sent = remote.client()?.post(&path, &json!({})).await?;
            remote.print(&sent.unwrap_or_default(), |m| {
                format!(
                    "Queued {} again (attempt {})",
                    text(m, "id"),
                    text(m, "attempt")
                )
            });
            Ok(())
        }
    }
}

fn describe(entry: &Value) -> String {
    let message = &entry["message"];
    format!(
        "{}  from {}  {}  {}{}",
        text(message, "id"),
        text(message, "sender"),
        text(message, "kind"),
        message["payload"],
        match entry["receives"].as_u64() {
            Some(n) if n > 1 => format!("  (delivery {n})"),
            _ => String::new(),
        }
    )
}
