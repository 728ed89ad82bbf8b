pub mod agents;
pub mod asl;
pub mod aws;
pub mod bench;
pub mod console;
pub mod dev;
pub mod messages;
pub mod runs;
pub mod tasks;
pub mod token;
pub mod usage;
pub mod watch;
pub mod workflows;

use clap::Args;
use serde_json::Value;
use skein_cli::client::{ApiClient, CliError};

/// Where the API is and who is calling; shared by the client commands.
#[derive(Debug, Clone, Args)]
pub struct Remote {
    /// Base URL of the Skein API.
    #[arg(
        long,
        env = "SKEIN_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// Where live run events stream from, when not from --url: on AWS without the edge,
    /// Terraform's `events_url` output (SAM's `EventsUrl`), since API Gateway buffers them.
    #[arg(long, env = "SKEIN_EVENTS_URL", global = true)]
    pub events_url: Option<String>,
    /// Bearer token (for a local dev server: `export SKEIN_TOKEN=$(skein token --admin)`).
    #[arg(long, env = "SKEIN_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Print JSON instead of text, for scripts.
    #[arg(long, global = true)]
    pub json: bool,
}

impl Remote {
    pub fn client(&self) -> Result<ApiClient, CliError> {
        if self.token.is_none() {
            return Err(CliError::Usage(
                "no token: pass --token or set SKEIN_TOKEN (for a local dev server: export SKEIN_TOKEN=$(skein token --admin))".into(),
            ));
        }
        Ok(ApiClient::new(&self.url, self.token.clone())?
            .with_events_url(self.events_url.as_deref()))
    }

    pub fn print(&self, value: &Value, human: impl FnOnce(&Value) -> String) {
        if self.json {
            println!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_default()
            );
        } else {
            println!("{}", human(value));
        }
    }
}

pub fn text(value: &Value, field: &str) -> String {
    match &value[field] {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `path?name=value&...` with the given parameters URL-encoded; absent ones left out.
pub fn with_query(path: &str, params: &[(&str, Option<String>)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    format!("{path}?{}", query.finish())
}
