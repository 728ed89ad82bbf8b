//! What every Skein Lambda shares: settings read once from the environment, the platform
//! wired on the AWS adapters, and one handler per kind of function. Each `functions/`
//! crate's main.rs picks its handler and calls its `run`.

pub mod api;
pub mod authorizer;
mod config;
pub mod deploy;
pub mod message_router;
pub mod metrics;
mod platform;
pub mod scheduler;
pub mod step_worker;
pub mod traces;

pub use config::{AuthSettings, ConfigError, PlatformSettings, SIGNING_KEY_VARIABLES};
pub use platform::{AwsPlatform, StartError, builtins, no_builtins, no_tokens, tokens};

/// JSON logs, one object per line, as CloudWatch Logs Insights queries them. The level
/// comes from `RUST_LOG` (default `info`). With the `otlp` feature, spans go where the
/// `OTEL_*` variables say ([`traces`]).
pub fn init_tracing() {
    #[cfg(feature = "otlp")]
    {
        let service = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "skein".into());
        match skein_telemetry::export::ExportSettings::from_env(&service) {
            Ok(settings) => init_tracing_with(Some(settings)),
            Err(error) => {
                init_tracing_with(None);
                tracing::warn!(%error, "spans are not exported");
            }
        }
    }
    #[cfg(not(feature = "otlp"))]
    traces::install(logs());
}

/// [`init_tracing`], with spans sent as `export` says (tests give a local receiver).
#[cfg(feature = "otlp")]
pub fn init_tracing_with(export: Option<traces::ExportSettings>) {
    traces::install(logs(), export);
}

fn logs<S>() -> impl tracing_subscriber::Layer<S> + Send + Sync + 'static
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    use tracing_subscriber::Layer;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .without_time()
        .with_target(false)
        .with_filter(filter)
}
