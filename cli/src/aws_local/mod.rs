//! `skein aws local`: the AWS deployment on a laptop. Starts moto (or uses the server
//! `--endpoint` names), creates what the deployment defines, writes the variables every
//! function reads for `cargo lambda watch --env-file`, creates the tenant's first admin,
//! then serves the HTTP API's routes on one address and plays the event sources AWS would
//! run (SQS event source mappings, the EventBridge rule for execution ends, the tick).

pub mod events;
pub mod gateway;
pub mod moto;
pub mod provision;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use skein_core::ids::TenantId;

#[derive(Debug, thiserror::Error)]
pub enum AwsLocalError {
    #[error(
        "moto_server not found at {}: run `bash scripts/setup.sh` (make test does), set SKEIN_VENV, or pass --endpoint",
        .0.display()
    )]
    NoMoto(PathBuf),
    #[error("cannot start {}: {source}", bin.display())]
    Spawn {
        bin: PathBuf,
        source: std::io::Error,
    },
    #[error("the AWS-protocol server at {0} did not answer within 30 s")]
    NotReady(String),
    #[error("moto: {0}")]
    Moto(String),
    #[error("cannot create {what}: {detail}")]
    Provision { what: String, detail: String },
    #[error("the functions' settings: {0}")]
    Settings(String),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source} (pass --gateway)")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Args)]
pub struct AwsLocalArgs {
    /// An AWS-protocol server to use instead of starting moto.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub endpoint: Option<String>,
    /// The port of the moto server this starts.
    #[arg(long, default_value_t = 5000)]
    pub moto_port: u16,
    /// The deployment's name prefix: the table, the queues, the state machines.
    #[arg(long, default_value = "skein-local")]
    pub prefix: String,
    /// Where to write the functions' variables (`cargo lambda watch --env-file`).
    #[arg(long, default_value = ".skein/aws-local.env")]
    pub env_file: PathBuf,
    /// The tenant created with a first admin.
    #[arg(long, default_value = "default", value_parser = |s: &str| TenantId::parse(s).map_err(|e| e.0))]
    pub tenant: TenantId,
    /// Where `cargo lambda watch` serves the functions.
    #[arg(long, default_value = "http://127.0.0.1:9000")]
    pub functions: String,
    /// Where the HTTP API's routes are served (point SKEIN_URL here).
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub gateway: SocketAddr,
    /// Seconds between the scheduler's ticks (AWS: 60).
    #[arg(long, default_value_t = 60)]
    pub tick_seconds: u64,
    /// Create the resources and write the files, then exit (no gateway, no event sources).
    #[arg(long)]
    pub provision_only: bool,
}

/// What the local cloud's first start wrote, next to the env file.
fn admin_file(env_file: &std::path::Path) -> PathBuf {
    env_file.with_file_name("aws-local-admin.env")
}

/// 32 random bytes, hex: env-file parsers take it unquoted (`=`, `+` and `/` they may not).
fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    skein_aws::config_loader()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(provision::REGION))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "skein-aws-local",
        ))
        .load()
        .await
}

pub async fn run(args: AwsLocalArgs) -> Result<(), AwsLocalError> {
    let started = std::time::Instant::now();
    let (endpoint, _moto) = match &args.endpoint {
        Some(endpoint) => (endpoint.clone(), None),
        None => {
            let moto = moto::start(args.moto_port).await?;
            (moto.endpoint.clone(), Some(moto))
        }
    };
    moto::execute_state_machines(&endpoint).await?;
    let sdk = sdk_config(&endpoint).await;
    let provisioned = provision::resources(&sdk, &args.prefix).await?;
    let secret = provision::earlier_value(&args.env_file, "SKEIN_JWT_SECRET")
        .filter(|s| s.len() >= 32)
        .unwrap_or_else(new_secret);
    let env = provision::environment(&provisioned, &endpoint, &secret);
    let (settings, auth) = provision::settings(&env)?;
    provision::write_file(&args.env_file, &provision::env_file_text(&env))?;
    let admin_path = admin_file(&args.env_file);
    match provision::first_admin(&settings, &auth, &sdk, &args.tenant).await? {
        Some(admin) => provision::write_file(
            &admin_path,
            &format!(
                "# The first admin of tenant {}, created by `skein aws local`.\nSKEIN_CLIENT_ID={}\nSKEIN_CLIENT_SECRET={}\n",
                args.tenant, admin.client_id, admin.client_secret
            ),
        )?,
        None if admin_path.exists() => {}
        None => eprintln!(
            "tenant {} existed already; its first admin's credentials were written when it was created",
            args.tenant
        ),
    }
    println!(
        "local cloud on {endpoint} (ready in {:.1} s): table {}, queues {}-steps and {}-messages",
        started.elapsed().as_secs_f64(),
        provisioned.table,
        provisioned.prefix,
        provisioned.prefix,
    );
    println!("  the functions' variables: {}", args.env_file.display());
    println!("  the first admin:          {}", admin_path.display());
    if args.provision_only {
        return Ok(());
    }
    let http = reqwest::Client::new();
    let routes = gateway::RouteTable::from_openapi();
    let listener = tokio::net::TcpListener::bind(args.gateway)
        .await
        .map_err(|source| AwsLocalError::Bind {
            addr: args.gateway,
            source,
        })?;
    let gateway = gateway::router(gateway::Gateway {
        routes,
        functions_url: args.functions.clone(),
        http: http.clone(),
    });
    let serving = tokio::spawn(async move { axum::serve(listener, gateway).await });
    let targets = events::Targets::from_deployment()?;
    println!(
        "\nnow start the functions, in another terminal:\n  cargo lambda watch --env-file {} -A 127.0.0.1 -P 9000\n\
         then use the API through http://{}:\n  set -a; . {}; set +a\n  export SKEIN_URL=http://{} SKEIN_TOKEN=$(skein token)\n  skein agents list\n",
        args.env_file.display(),
        args.gateway,
        admin_path.display(),
        args.gateway,
    );
    println!(
        "playing the event sources: step queue -> {}, messages queue -> {}, execution ends -> step queue, tick every {} s -> {} (Ctrl-C stops)",
        targets.steps, targets.messages, args.tick_seconds, targets.tick
    );
    let sources = events::EventSources {
        sdk,
        provisioned,
        functions_url: args.functions.clone(),
        targets,
        tick_every: Duration::from_secs(args.tick_seconds.max(1)),
        http,
    };
    tokio::select! {
        () = sources.play() => {}
        _ = serving => {}
        () = stopped() => {}
    }
    // Returning drops the moto server this started, which stops it.
    Ok(())
}

/// Ctrl-C, or a SIGTERM (a script or a test stopping us).
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
