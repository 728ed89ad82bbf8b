use std::time::Duration;

use clap::Args;
use serde_json::json;
use skein_cli::client::{ApiClient, CliError};
use skein_cli::config::LocalArgs;
use skein_cli::dev::mint_admin_token;
use skein_core::auth::TokenService;
use skein_core::ids::TenantId;

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Mint an admin token with the local data dir's signing key (no server needed).
    #[arg(long, conflicts_with_all = ["client_id", "client_secret"])]
    admin: bool,
    /// Tenant for --admin (defaults to the seeded one).
    #[arg(long = "for-tenant", requires = "admin", value_parser = |s: &str| TenantId::parse(s).map_err(|e| e.0))]
    for_tenant: Option<TenantId>,
    /// Lifetime of an --admin token, in seconds.
    #[arg(long, default_value_t = 3600, requires = "admin")]
    ttl: u64,
    /// Exchange client credentials (an agent's or a client's) at the server's token endpoint.
    #[arg(long, env = "SKEIN_CLIENT_ID", requires = "client_secret")]
    client_id: Option<String>,
    #[arg(
        long,
        env = "SKEIN_CLIENT_SECRET",
        hide_env_values = true,
        requires = "client_id"
    )]
    client_secret: Option<String>,
    #[arg(long, env = "SKEIN_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    #[command(flatten)]
    local: LocalArgs,
}

pub async fn run(args: TokenArgs) -> Result<(), CliError> {
    if args.admin {
        let fail = |e: &dyn std::fmt::Display| CliError::Other(e.to_string());
        let keys = args
            .local
            .existing_key_config()
            .map_err(|e| CliError::Usage(e.to_string()))?;
        let tokens = TokenService::new(keys, args.local.token_settings()).map_err(|e| fail(&e))?;
        let tenant = args.for_tenant.unwrap_or(args.local.tenant.clone());
        let token = mint_admin_token(&tokens, &args.local, &tenant, Duration::from_secs(args.ttl))
            .map_err(|e| fail(&e))?;
        println!("{token}");
        return Ok(());
    }
    let (Some(id), Some(secret)) = (args.client_id, args.client_secret) else {
        return Err(CliError::Usage(
            "pass --admin, or --client-id and --client-secret".into(),
        ));
    };
    let client = ApiClient::new(&args.url, None)?;
    let body =
        json!({ "grant_type": "client_credentials", "client_id": id, "client_secret": secret });
    let response = client
        .post("/v1/auth/token", &body)
        .await?
        .unwrap_or_default();
    println!("{}", response["access_token"].as_str().unwrap_or_default());
    Ok(())
}
