//! OTLP export, configured as every OpenTelemetry SDK is: by `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), `OTEL_EXPORTER_OTLP_PROTOCOL`
//! (`http/protobuf`, the default, or `http/json`), `OTEL_EXPORTER_OTLP_HEADERS`,
//! `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER` and
//! `OTEL_BSP_*`. `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` turns it off.

use opentelemetry::trace::TracerProvider as _;
pub use opentelemetry_otlp::Protocol;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{variable}={value} is not supported: use http/protobuf or http/json")]
    Protocol {
        variable: &'static str,
        value: String,
    },
    #[error("the OTLP span exporter could not be built: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
}

/// Sends the spans it holds when dropped (at shutdown), so the last run's spans arrive.
pub struct Exporting {
    provider: SdkTracerProvider,
}

impl Exporting {
    /// Sends every finished span now: what a Lambda does before its sandbox is frozen.
    pub fn flush(&self) {
        if let Err(error) = self.provider.force_flush() {
            tracing::warn!(%error, "spans were not exported");
        }
    }
}

/// Where spans go and as what: read from the `OTEL_*` variables, or given.
#[derive(Debug, Clone)]
pub struct ExportSettings {
    /// The OTLP/HTTP traces URL (`.../v1/traces`); None exports nothing.
    pub traces_url: Option<String>,
    pub protocol: Protocol,
    pub service: String,
}

impl ExportSettings {
    /// The standard variables; `service` names the process unless `OTEL_SERVICE_NAME`
    /// does.
    pub fn from_env(service: &str) -> Result<Self, ExportError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let traces_url = if configured() {
            var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| {
                var("OTEL_EXPORTER_OTLP_ENDPOINT")
                    .map(|base| format!("{}/v1/traces", base.trim_end_matches('/')))
            })
        } else {
            None
        };
        Ok(Self {
            traces_url,
            protocol: protocol()?,
            service: var("OTEL_SERVICE_NAME").unwrap_or_else(|| service.to_string()),
        })
    }
}

impl Drop for Exporting {
    fn drop(&mut self) {
        if let Err(error) = self.provider.shutdown() {
            eprintln!("warning: the last spans were not exported: {error}");
        }
    }
}

/// Whether the environment asks for traces to be exported.
pub fn configured() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
        || std::env::var("OTEL_TRACES_EXPORTER").is_ok_and(|v| v.eq_ignore_ascii_case("none"));
    !disabled && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

/// The layer that turns tracing spans into exported OpenTelemetry spans, and the guard
/// that flushes them; None when no endpoint is configured. `service` names the process
/// unless `OTEL_SERVICE_NAME` does.
pub fn install<S>(service: &str) -> Result<Option<(impl Layer<S>, Exporting)>, ExportError>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    install_with(ExportSettings::from_env(service)?)
}

/// [`install`], as `settings` say.
pub fn install_with<S>(
    settings: ExportSettings,
) -> Result<Option<(impl Layer<S>, Exporting)>, ExportError>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    let Some(url) = settings.traces_url else {
        return Ok(None);
    };
    // Headers (OTEL_EXPORTER_OTLP_HEADERS) and timeouts still come from the variables.
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(url)
        .with_protocol(settings.protocol)
        .build()?;
    let service = settings.service;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service).build())
        .build();
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("skein"))
        .with_filter(tracing_subscriber::filter::LevelFilter::INFO);
    Ok(Some((layer, Exporting { provider })))
}

fn protocol() -> Result<Protocol, ExportError> {
    for variable in [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ] {
        if let Ok(value) = std::env::var(variable) {
            return match value.trim() {
                "http/protobuf" => Ok(Protocol::HttpBinary),
                "http/json" => Ok(Protocol::HttpJson),
                _ => Err(ExportError::Protocol { variable, value }),
            };
        }
    }
    Ok(Protocol::HttpBinary)
}
