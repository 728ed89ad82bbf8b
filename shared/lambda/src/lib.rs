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

pub use config::{AuthSettings, ConfigError, PlatformSettings, SIGNING_KEY_VARIABLES};
pub use platform::{AwsPlatform, StartError, builtins, no_builtins};

/// JSON logs, one object per line, as CloudWatch Logs Insights queries them. The level
/// comes from `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .without_time()
        .with_target(false)
        .try_init();
}
