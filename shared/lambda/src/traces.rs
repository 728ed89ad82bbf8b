//! Spans from Lambda, with the `otlp` feature: sent over OTLP/HTTP as the `OTEL_*`
//! variables say (an ADOT collector layer listens on localhost:4318) and flushed at the
//! end of every invocation, before Lambda freezes the sandbox. Without the feature (the
//! default build, which keeps the zips small) or without an endpoint, nothing is sent;
//! runs and tasks still carry the trace context either way.

#[cfg(feature = "otlp")]
static EXPORTING: std::sync::OnceLock<skein_telemetry::export::Exporting> =
    std::sync::OnceLock::new();

/// Where spans go and as what (`ExportSettings::from_env` reads the `OTEL_*` variables).
#[cfg(feature = "otlp")]
pub use skein_telemetry::export::{ExportSettings, Protocol};

/// Installs JSON logs and, with `export`, the span exporter, as the process's subscriber.
#[cfg(feature = "otlp")]
pub(crate) fn install(
    logs: impl tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync + 'static,
    export: Option<ExportSettings>,
) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let registry = tracing_subscriber::registry().with(logs);
    let spans = export.map(skein_telemetry::export::install_with);
    match spans {
        Some(Ok(Some((layer, exporting)))) => {
            if registry.with(layer).try_init().is_ok() {
                let _ = EXPORTING.set(exporting);
            }
        }
        Some(Err(error)) => {
            let _ = registry.try_init();
            tracing::warn!(%error, "spans are not exported");
        }
        _ => {
            let _ = registry.try_init();
        }
    }
}

#[cfg(not(feature = "otlp"))]
pub(crate) fn install(
    logs: impl tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync + 'static,
) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = tracing_subscriber::registry().with(logs).try_init();
}

/// Sends the invocation's spans (nothing without the feature or an endpoint).
pub(crate) fn flush() {
    #[cfg(feature = "otlp")]
    if let Some(exporting) = EXPORTING.get() {
        exporting.flush();
    }
}
