//! `skein dev`: the whole platform in one process on the embedded adapters, and the web
//! console at `/`.

pub mod metrics;
pub mod sign_in;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use skein_agents::Builtins;
use skein_core::access::ClientSecret;
use skein_core::auth::{Principal, Role, TokenService};
use skein_core::ids::{ClientId, PrincipalId, TenantId};
use skein_core::messages::MessagingPorts;
use skein_core::ports::{Clock, ItemStore, Layer, Queue, WorkflowEngine};
use skein_core::runs::WorkflowPorts;
use skein_core::workflows::compile::{LOCAL_STEP_QUEUE, LOCAL_WORKER_FUNCTION};
use skein_core::{Context, Platform};
use skein_http::{AppState, ServiceInfo, Shared, TaskBell};
use skein_local::{
    LocalEngine, MESSAGES_DEAD_LETTER_QUEUE, MESSAGES_QUEUE, OsEntropy, QueueSettings, SqliteDb,
    SqliteQueue, SqliteStore, StepInbox, SystemClock,
};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{AddrOrOff, ConfigError, DevArgs, LocalArgs, write_private};
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
}

/// What a test may change in how the platform is put together: the clock it reads, and
/// a layer around the store and the engine ports (fault injection). `Default` is what
/// `skein dev` runs.
pub struct Wiring {
    pub clock: Arc<dyn Clock>,
    pub store: Layer<dyn ItemStore>,
    pub engine: Layer<dyn WorkflowEngine>,
}

impl Default for Wiring {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            store: Box::new(|store| store),
            engine: Box::new(|engine| engine),
        }
    }
}

/// The first admin's credentials, kept in the data dir so `skein token --admin` can name it.
pub const ADMIN_CREDENTIALS_FILE: &str = "admin-credentials.json";

/// The platform wired on embedded adapters, without a listener.
pub struct LocalPlatform {
    pub platform: Platform,
    pub bell: Arc<TaskBell>,
    pub tokens: Arc<TokenService>,
    pub db: Arc<SqliteDb>,
    /// The store, as the adapter it is (the sweep purges expired items through it).
    pub store: Arc<SqliteStore>,
    pub engine: Arc<LocalEngine>,
    /// The engine as the platform's port sees it (with the wiring's layer around it).
    pub workflow_engine: Arc<dyn WorkflowEngine>,
    /// The messages queue the router consumes.
    pub messages_queue: Arc<SqliteQueue>,
    /// The engine's step messages, invokes and execution ends, until a step-worker
    /// takes them ([`DevServer::start`] does).
    pub step_inbox: Option<StepInbox>,
    /// Held while the platform is open: one process owns a data dir (its engine resumes
    /// the executions in it, and its router takes back the messages left in flight).
    _owner: DataDirOwner,
}

/// The lock file that says a process owns the data dir; the OS lets go when it exits.
struct DataDirOwner(#[allow(dead_code)] std::fs::File);

/// The data dir's lock file.
pub const DATA_DIR_LOCK_FILE: &str = "skein.lock";

impl DataDirOwner {
    fn take(data_dir: &std::path::Path) -> Result<Self, DevError> {
        let path = data_dir.join(DATA_DIR_LOCK_FILE);
        let locking = |source| DevError::DataDirLock {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(data_dir).map_err(locking)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(locking)?;
        match file.try_lock() {
            Ok(()) => Ok(Self(file)),
            Err(std::fs::TryLockError::WouldBlock) => Err(DevError::DataDirInUse {
                path: data_dir.to_path_buf(),
            }),
            Err(std::fs::TryLockError::Error(source)) => Err(locking(source)),
        }
    }
}

/// Deliveries of one message that may fail before it becomes a dead letter.
pub const MESSAGE_MAX_RECEIVES: u32 = 5;

/// Receives after which the messages queue itself sets a message aside (a body that is
/// not a message). High, because a message the router could not deliver while the store
/// was unavailable comes back too: at the router's growing delay, this waits out about
/// 17 minutes of outage, as the AWS queue's visibility timeouts do.
const MESSAGES_QUEUE_MAX_RECEIVES: u32 = 100;

impl LocalPlatform {
    pub fn open(local: &LocalArgs) -> Result<Self, DevError> {
        Self::open_with(local, Wiring::default())
    }

    /// The platform wired as `wiring` says (tests move its clock, or inject faults).
    pub fn open_with(local: &LocalArgs, wiring: Wiring) -> Result<Self, DevError> {
        let tokens = Arc::new(TokenService::new(
            local.key_config()?,
            local.token_settings(),
        )?);
        let db = Arc::new(SqliteDb::open_dir(&local.data_dir)?);
        let owner = DataDirOwner::take(&local.data_dir)?;
        let bell = Arc::new(TaskBell::default());
        let store = Arc::new(SqliteStore::new(db.clone()));
        let ctx = Context::new(
            (wiring.store)(store.clone()),
            wiring.clock,
            Arc::new(OsEntropy),
            bell.clone(),
        );
        let (step_outbox, step_inbox) = skein_local::step_channel();
        let engine = LocalEngine::new(db.clone(), step_outbox.clone());
        let workflow_engine = (wiring.engine)(engine.clone());
        let ports = WorkflowPorts {
            engine: workflow_engine.clone(),
            dispatch: Arc::new(step_outbox),
            builtins: Some(Arc::new(Builtins::new(local.builtin_settings()))),
            step_queue_url: LOCAL_STEP_QUEUE.to_string(),
            worker_function: LOCAL_WORKER_FUNCTION.to_string(),
            worker_instance: ulid::Ulid::new().to_string(),
            step_lease: chrono::Duration::zero(),
            inline_for: chrono::Duration::seconds(60),
            quotas: local.quotas(),
            machine_prefix: skein_core::workflows::machine_name::MACHINE_PREFIX.to_string(),
        };
        let messages_queue = Arc::new(SqliteQueue::new(
            db.clone(),
            MESSAGES_QUEUE,
            QueueSettings {
                max_receives: Some(MESSAGES_QUEUE_MAX_RECEIVES),
                dead_letter_queue: Some(MESSAGES_DEAD_LETTER_QUEUE.into()),
            },
        ));
        let messaging = MessagingPorts {
            queue: messages_queue.clone(),
            max_receives: MESSAGE_MAX_RECEIVES,
        };
        let platform = Platform::new(ctx, tokens.clone(), ports, messaging);
        Ok(Self {
            platform,
            bell,
            tokens,
            db,
            store,
            engine,
            workflow_engine,
            messages_queue,
            step_inbox: Some(step_inbox),
            _owner: owner,
        })
    }

    /// What the HTTP routes share, for `args`' limits.
    pub fn app_state(&self, args: &DevArgs) -> AppState {
        AppState::new(Shared {
            platform: self.platform.clone(),
            bell: self.bell.clone(),
            info: Arc::new(ServiceInfo {
                version: env!("CARGO_PKG_VERSION"),
                build: build_id(),
                // Served without a token: names the adapters, never a path on this machine.
                adapters: serde_json::json!({
                    "store": "sqlite", "queue": "sqlite", "engine": "local",
                }),
                jwt_algorithm: self.tokens.algorithm_name(),
            }),
            claim_recheck: Duration::from_secs(1),
            limiter: self.platform.access.rate_limiter(args.rate_limits()),
            sources: skein_http::SourceLimiter::new(args.rate_limits().source),
        })
    }

    /// A token for an admin of `tenant`, minted with this platform's signing key.
    pub fn admin_token(
        &self,
        local: &LocalArgs,
        tenant: &TenantId,
        ttl: Duration,
    ) -> Result<String, DevError> {
        mint_admin_token(&self.tokens, local, tenant, ttl)
    }
}

/// Mints an admin token with the local signing key; no server or database needed.
pub fn mint_admin_token(
    tokens: &TokenService,
    local: &LocalArgs,
    tenant: &TenantId,
    ttl: Duration,
) -> Result<String, DevError> {
    let issued = tokens.issue_for(
        &admin_principal(local, tenant),
        chrono::Utc::now(),
        ulid::Ulid::new().to_string(),
        ttl,
    )?;
    Ok(issued.access_token)
}

/// The seeded admin of `tenant`, as its tokens name it.
fn admin_principal(local: &LocalArgs, tenant: &TenantId) -> Principal {
    let client = read_admin_client(&local.data_dir)
        .unwrap_or_else(|| ClientId::from_ulid(ulid::Ulid::new()));
    Principal {
        tenant: tenant.clone(),
        id: PrincipalId::client(&client),
        roles: vec![Role::Admin],
    }
}

fn read_admin_client(data_dir: &std::path::Path) -> Option<ClientId> {
    let text = std::fs::read_to_string(data_dir.join(ADMIN_CREDENTIALS_FILE)).ok()?;
    let secret: ClientSecret = serde_json::from_str(&text).ok()?;
    ClientId::parse(&secret.client_id).ok()
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
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
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
        let (shutdown, stopped) = oneshot::channel::<()>();
        let console = Arc::new(ConsoleSignIn::new(
            format!("http://{addr}"),
            admin_principal(&args.local, &args.local.tenant),
            local.tokens.clone(),
        ));
        let app = skein_http::router(state.clone())
            .merge(console.clone().routes(state))
            .merge(skein_console::router())
            .layer(axum::middleware::from_fn(peer_address));
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
        });
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
            shutdown: Some(shutdown),
            server,
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
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
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
        let _ = (&mut self.server).await;
    }

    /// Runs until the server stops on its own (an I/O error).
    pub async fn wait(&mut self) -> std::io::Result<()> {
        match (&mut self.server).await {
            Ok(result) => result,
            Err(join) => Err(std::io::Error::other(join)),
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

fn build_id() -> String {
    format!(
        "{} {}",
        env!("CARGO_PKG_NAME"),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    )
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
