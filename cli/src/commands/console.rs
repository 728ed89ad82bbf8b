//! `skein console`: a fresh one-time sign-in link to a running `skein dev`'s web console.

use std::time::Duration;

use clap::Args;
use serde_json::json;
use skein_cli::client::{ApiClient, CliError};
use skein_cli::config::LocalArgs;
use skein_cli::dev::mint_admin_token;
use skein_core::auth::TokenService;

#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// The running `skein dev`.
    #[arg(long, env = "SKEIN_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// An admin's token; without one, an admin token is minted from the local data dir's key.
    #[arg(long, env = "SKEIN_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[command(flatten)]
    local: LocalArgs,
}

pub async fn run(args: ConsoleArgs) -> Result<(), CliError> {
    let token = match args.token {
        Some(token) => token,
        None => {
            let keys = args
                .local
                .existing_key_config()
                .map_err(|e| CliError::Usage(e.to_string()))?;
            let tokens = TokenService::new(keys, args.local.token_settings())
                .map_err(|e| CliError::Other(e.to_string()))?;
            mint_admin_token(
                &tokens,
                &args.local,
                &args.local.tenant,
                Duration::from_secs(60),
            )
            .map_err(|e| CliError::Other(e.to_string()))?
        }
    };
    let client = ApiClient::new(&args.url, Some(token))?;
    let link = client
        .post("/console/sign-in-links", &json!({}))
        .await?
        .unwrap_or_default();
    println!(
        "Open the console (the link signs you in once, within {} minutes):\n  {}",
        link["expires_in"].as_u64().unwrap_or(0) / 60,
        link["url"].as_str().unwrap_or_default()
    );
    Ok(())
}
