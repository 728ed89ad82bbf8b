use std::time::Duration;

use skein_cli::client::CliError;
use skein_cli::config::DevArgs;
use skein_cli::dev::{ADMIN_CREDENTIALS_FILE, DevError, DevServer};

pub async fn run(args: DevArgs) -> Result<(), CliError> {
    // Held to the end: dropping it sends the spans not yet exported.
    let _exporting = init_logging()?;
    let mut server = DevServer::start(&args).await.map_err(|e| match e {
        // Settings the user gave are wrong: bad usage, like a bad flag.
        DevError::Config(_) | DevError::Key(_) => CliError::Usage(e.to_string()),
        other => CliError::Other(other.to_string()),
    })?;
    let url = server.url();
    let token = server
        .local
        .admin_token(
            &args.local,
            &args.local.tenant,
            Duration::from_secs(12 * 3600),
        )
        .map_err(|e| CliError::Other(e.to_string()))?;
    println!(
        "Skein is running at {url}  (data: {})",
        server.data_dir.display()
    );
    println!(
        "\nConsole: {}\n  (the link signs you in once, within {} minutes; `skein console` prints a fresh one)",
        server.console.link().url,
        skein_cli::dev::sign_in::CODE_LIFETIME.as_secs() / 60,
    );
    if let Some(metrics) = server.metrics_addr {
        println!("\nMetrics (Prometheus): http://{metrics}/metrics");
    }
    if let Some(admin) = &server.seeded_admin {
        println!(
            "\nFirst start: seeded tenant `{}` with an admin credential (shown once, also saved to {}):",
            args.local.tenant,
            server.data_dir.join(ADMIN_CREDENTIALS_FILE).display()
        );
        println!(
            "  client_id:     {}\n  client_secret: {}",
            admin.client_id, admin.client_secret
        );
    }
    println!(
        "\nAdmin token (12 h; a fresh one any time with `skein token --admin`):\n  export SKEIN_URL={url}\n  export SKEIN_TOKEN={token}\n"
    );
    println!(
        "Try:\n  skein workflows apply examples/*.yaml\n  skein run research-report --input @examples/research-input.json --watch\nStop with Ctrl-C (runs in flight resume at the next start)."
    );
    tokio::select! {
        result = server.wait() => result.map_err(|e| CliError::Other(format!("the server stopped: {e}"))),
        _ = tokio::signal::ctrl_c() => {
            eprintln!("stopping...");
            server.shutdown().await;
            Ok(())
        }
    }
}

/// Logs to stderr as `SKEIN_LOG` filters them (else `RUST_LOG`, which the Lambdas read,
/// else `info`) and, when the `OTEL_*` variables name an endpoint, spans over OTLP (filtered
/// apart: quiet logs do not mean missing traces).
fn init_logging() -> Result<Option<skein_telemetry::export::Exporting>, CliError> {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let filter = tracing_subscriber::EnvFilter::try_from_env("SKEIN_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| "info".into());
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .compact()
        .with_filter(filter);
    let registry = tracing_subscriber::registry().with(logs);
    match skein_telemetry::export::install("skein-dev") {
        Ok(Some((spans, exporting))) => {
            registry.with(spans).init();
            Ok(Some(exporting))
        }
        Ok(None) => {
            registry.init();
            Ok(None)
        }
        Err(e) => Err(CliError::Usage(format!("traces: {e}"))),
    }
}
