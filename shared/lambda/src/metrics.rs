//! The platform's metrics (`skein_core::metrics`) as CloudWatch Embedded Metric Format
//! lines: CloudWatch Logs turns each line into metric data points, with no API call and no
//! agent. A function installs the recorder once per sandbox and flushes after each
//! invocation; series with the same labels are aggregated into one line per flush.
//!
//! The namespace is `Skein/<name prefix>`, so that the alarms of one deployment see its
//! own functions only.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

use metrics_cloudwatch_embedded::{Builder, Collector};

/// Where flushed lines go: stdout on Lambda (its log stream), a buffer in tests.
type Sink = Box<dyn Write + Send>;

struct Emf {
    collector: &'static Collector,
    sink: Mutex<Sink>,
}

static EMF: OnceLock<Emf> = OnceLock::new();

/// The namespace a deployment's metrics are in.
pub fn namespace(name_prefix: &str) -> String {
    format!("Skein/{name_prefix}")
}

/// Installs the EMF recorder for this process, writing to stdout. A process has one
/// recorder: a second call (or one after another recorder) changes nothing.
pub fn install(name_prefix: &str) {
    install_with_sink(name_prefix, Box::new(std::io::stdout()));
}

/// [`install`], writing the lines to `sink` (tests read them back).
pub fn install_with_sink(name_prefix: &str, sink: Sink) {
    if EMF.get().is_some() {
        return;
    }
    match Builder::new()
        .cloudwatch_namespace(namespace(name_prefix))
        .init()
    {
        Ok(collector) => {
            skein_core::metrics::describe_all();
            let _ = EMF.set(Emf {
                collector,
                sink: Mutex::new(sink),
            });
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics are not recorded: the EMF recorder could not be installed")
        }
    }
}

/// Writes what was recorded since the last flush. Called after each invocation; a
/// failure to write costs the metrics, never the invocation.
pub fn flush() {
    let Some(emf) = EMF.get() else {
        return;
    };
    let mut sink = emf
        .sink
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Err(e) = emf.collector.flush(&mut *sink).and_then(|()| sink.flush()) {
        tracing::warn!(error = %e, "could not write the invocation's metrics");
    }
}

/// Runs one invocation's work, then flushes its metrics (and, when exported, its spans).
pub async fn flushed<F: std::future::Future>(work: F) -> F::Output {
    let output = work.await;
    flush();
    crate::traces::flush();
    output
}

/// Axum middleware for the API functions: flushes once the response is ready.
pub(crate) async fn flush_after(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    flushed(next.run(request)).await
}
