//! `skein dev`: the whole platform in one process on the embedded adapters, and the web
//! console at `/`.

pub mod metrics;
mod platform;
mod serving;
pub mod sign_in;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use skein_core::Platform;
use skein_core::access::ClientSecret;
use skein_core::ports::Queue;
use skein_local::{MESSAGES_DEAD_LETTER_QUEUE, QueueSettings, SqliteQueue, SqliteStore};
use tokio::task::JoinHandle;

use crate::config::{AddrOrOff, ConfigError, DevArgs, write_private};
use platform::admin_principal;
pub use platform::{
    ADMIN_CREDENTIALS_FILE, DATA_DIR_LOCK_FILE, LocalPlatform, MESSAGE_MAX_RECEIVES, Wiring,
    mint_admin_token,
};
use serving::{ServingThreads, StepWork};
use sign_in::ConsoleSignIn;

#[derive(Debug, thiserror::Error)]
pub enum DevError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Database(#[from] skein_local::DbError),
    #[error("the token signing key is unusable: {0}")]
    Key(#[from] skein_core::auth::AuthError),
    #[error(
        "cannot listen on {addr}: {source} (is another `skein dev` running? pass --addr or SKEIN_ADDR)"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Metrics(#[from] metrics::MetricsError),
    #[error("cannot seed the tenant: {0}")]
    Seed(skein_core::Error),
    #[error(
        "the data dir {} is in use by another `skein dev` (stop it, or pass --data-dir)",
        path.display()
    )]
    DataDirInUse { path: std::path::PathBuf },
    #[error("cannot lock the data dir with {}: {source}", path.display())]
    DataDirLock {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the threads that serve the API: {0}")]
    Serve(#[source] std::io::Error),
}

/// A running dev server.
pub struct DevServer {
    pub addr: SocketAddr,
    /// Where `GET /metrics` answers, unless metrics are off.
    pub metrics_addr: Option<SocketAddr>,
    pub data_dir: PathBuf,
    /// Present on the first start of a data dir: the seeded admin's credentials.
    pub seeded_admin: Option<ClientSecret>,
    /// The console's one-time sign-in links for the local admin.
    pub console: Arc<ConsoleSignIn>,
    pub local: LocalPlatform,
    serving: Option<ServingThreads>,
    sweeper: JoinHandle<()>,
    router: JoinHandle<()>,
    step_worker: JoinHandle<()>,
    metrics: Option<JoinHandle<std::io::Result<()>>>,
}

impl DevServer {
    pub async fn start(args: &DevArgs) -> Result<Self, DevError> {
        Self::start_with(args, Wiring::default()).await
    }

    /// A server whose platform is wired as `wiring` says.
    pub async fn start_with(args: &DevArgs, wiring: Wiring) -> Result<Self, DevError> {
        let mut local = LocalPlatform::open_with(&args.local, wiring)?;
        let seeded_admin = local
            .platform
            .access
            .bootstrap_tenant(&args.local.tenant)
            .await
            .map_err(DevError::Seed)?;
        if let Some(admin) = &seeded_admin {
            let path = args.local.data_dir.join(ADMIN_CREDENTIALS_FILE);
            let json = serde_json::to_vec_pretty(admin).unwrap_or_default();
            write_private(&args.local.data_dir, &path, &json)?;
        }
        let state = local.app_state(args);
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .map_err(|source| DevError::Bind {
                addr: args.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| DevError::Bind {
            addr: args.addr,
            source,
        })?;
        let metrics = match args.metrics_addr {
            Some(AddrOrOff(None)) => None,
            metrics_addr => {
                let queues = vec![
                    local.messages_queue.clone(),
                    Arc::new(SqliteQueue::new(
                        local.db.clone(),
                        MESSAGES_DEAD_LETTER_QUEUE,
                        QueueSettings::default(),
                    )),
                ];
                Some(metrics::MetricsEndpoint::bind_or_default(metrics_addr, queues).await?)
            }
        };
        let metrics_addr = metrics.as_ref().and_then(|m| m.addr());
        let metrics = metrics.map(|endpoint| tokio::spawn(endpoint.serve()));
        let console = Arc::new(ConsoleSignIn::new(
            format!("http://{addr}"),
            admin_principal(&args.local, &args.local.tenant),
            local.tokens.clone(),
        ));
        let app = skein_http::router(state.clone())
            .merge(console.clone().routes(state))
            .merge(skein_console::router())
            .layer(axum::middleware::from_fn(peer_address));
        let listener = listener.into_std().map_err(DevError::Serve)?;
        let serving = ServingThreads::start(
            listener,
            app,
            StepWork {
                platform: local.platform.clone(),
                engine: local.workflow_engine.clone(),
                outbox: local.step_outbox.clone(),
            },
        )?;
        // Work sent from elsewhere (the executions resumed below, schedules, the router)
        // has a step-worker here.
        let step_worker = tokio::spawn(skein_local::run_step_worker(
            local.platform.clone(),
            local.workflow_engine.clone(),
            local
                .step_inbox
                .take()
                .expect("a freshly opened platform has its step inbox"),
        ));
        match local.engine.resume_all() {
            Ok(0) => {}
            Ok(resumed) => tracing::info!(resumed, "resumed the runs that were in flight"),
            Err(e) => tracing::error!(error = %e, "could not resume runs"),
        }
        // What an earlier process was routing when it stopped comes back now, rather than
        // when its receive's visibility timeout runs out.
        match local.messages_queue.release_in_flight().await {
            Ok(0) => {}
            Ok(released) => {
                tracing::info!(released, "messages that were being routed are routed again")
            }
            Err(e) => tracing::error!(error = %e, "could not release the messages in flight"),
        }
        let sweeper = tokio::spawn(sweep_timers(
            local.platform.clone(),
            local.store.clone(),
            Duration::from_millis(args.sweep_interval_ms),
        ));
        let router = tokio::spawn(skein_local::route_messages(
            local.platform.message_router(),
            local.messages_queue.clone() as Arc<dyn Queue>,
            Duration::from_millis(200),
        ));
        Ok(Self {
            addr,
            metrics_addr,
            data_dir: args.local.data_dir.clone(),
            seeded_admin,
            console,
            local,
            serving: Some(serving),
            sweeper,
            router,
            step_worker,
            metrics,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting requests, lets in-flight ones finish, and stops the sweeper.
    pub async fn shutdown(mut self) {
        let serving = self.serving.take();
        if let Some(serving) = &serving {
            serving.begin_stop();
        }
        // Executions stop first: one that ran on would find no step-worker and fail its
        // step, where a stopped one resumes from its checkpoint at the next start.
        self.local.engine.halt();
        self.sweeper.abort();
        self.router.abort();
        self.step_worker.abort();
        if let Some(metrics) = &self.metrics {
            metrics.abort();
        }
        if let Some(serving) = serving {
            serving.stopped().await;
        }
    }

    /// Runs until the server stops on its own (an I/O error).
    pub async fn wait(&mut self) -> std::io::Result<()> {
        match &mut self.serving {
            Some(serving) => serving.wait().await,
            None => Ok(()),
        }
    }
}

/// Re-queues tasks whose lease expired, expires tasks past their deadline, times out
/// approvals and starts scheduled runs.
async fn sweep_timers(platform: Platform, store: Arc<SqliteStore>, every: Duration) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let report = platform.sweep().await;
        if report.did_anything() {
            tracing::debug!(?report, "timers swept");
        }
        // What DynamoDB's TTL does on AWS: expired idempotency records, failed-login
        // counters and rate buckets would otherwise stay on disk for good.
        match store.purge_expired(500).await {
            Ok(0) => {}
            Ok(purged) => tracing::debug!(purged, "expired items deleted"),
            Err(err) => tracing::warn!(error = %err, "expired-item sweep failed; retrying"),
        }
    }
}

/// Hands the peer's address to the routes (per-source limits key on it).
async fn peer_address(
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    request
        .extensions_mut()
        .insert(skein_http::ClientAddr(peer.ip()));
    next.run(request).await
}
