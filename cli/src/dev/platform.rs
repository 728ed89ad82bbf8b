//! The platform wired on the embedded adapters (SQLite store and queues, the local
//! engine), without a listener, as `skein dev` and the tests open it; and the local
//! admin's credentials and tokens.

use std::sync::Arc;
use std::time::Duration;

use skein_agents::Builtins;
use skein_core::access::ClientSecret;
use skein_core::auth::{Principal, Role, TokenService};
use skein_core::ids::{ClientId, PrincipalId, TenantId};
use skein_core::messages::MessagingPorts;
use skein_core::ports::{Clock, ItemStore, Layer, WorkflowEngine};
use skein_core::runs::WorkflowPorts;
use skein_core::workflows::compile::{LOCAL_STEP_QUEUE, LOCAL_WORKER_FUNCTION};
use skein_core::{Context, Platform};
use skein_http::{AppState, ServiceInfo, Shared, TaskBell};
use skein_local::{
    LocalEngine, MESSAGES_DEAD_LETTER_QUEUE, MESSAGES_QUEUE, OsEntropy, QueueSettings, SqliteDb,
    SqliteQueue, SqliteStore, StepInbox, StepOutbox, SystemClock,
};

use crate::config::{DevArgs, LocalArgs};

use super::DevError;

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
    /// Where the engine and the platform send that work (a serving thread takes what is
    /// sent from it itself: see `StepOutbox::inbox_for_this_thread`).
    pub step_outbox: StepOutbox,
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
        // Readable only by this user, as `SqliteDb::open_dir` makes it.
        let mut dir = std::fs::DirBuilder::new();
        dir.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut dir, 0o700);
        dir.create(data_dir).map_err(locking)?;
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
        // Owned first: a second `skein dev` is told the data dir is taken, before its
        // database refuses it less precisely (`DbError::InUse`).
        let owner = DataDirOwner::take(&local.data_dir)?;
        let db = Arc::new(SqliteDb::open_dir(&local.data_dir)?);
        let bell = Arc::new(TaskBell::default());
        let store = Arc::new(SqliteStore::new(db.clone()));
        let ctx = Context::new(
            (wiring.store)(store.clone()),
            wiring.clock,
            Arc::new(OsEntropy),
            bell.clone(),
        )
        .with_traces(Arc::new(skein_telemetry::W3cTraces));
        let (step_outbox, step_inbox) = skein_local::step_channel();
        let engine = LocalEngine::new(db.clone(), step_outbox.clone());
        let workflow_engine = (wiring.engine)(engine.clone());
        let ports = WorkflowPorts {
            engine: workflow_engine.clone(),
            dispatch: Arc::new(step_outbox.clone()),
            builtins: Some(Arc::new(Builtins::new(local.builtin_settings()))),
            step_queue_url: LOCAL_STEP_QUEUE.to_string(),
            worker_function: LOCAL_WORKER_FUNCTION.to_string(),
            worker_instance: ulid::Ulid::new().to_string(),
            step_lease: chrono::Duration::zero(),
            inline_for: chrono::Duration::seconds(60),
            quotas: local.quotas(),
            prices: Arc::new(local.llm_prices.clone()),
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
        let platform = Platform::new(ctx, Some(tokens.clone()), ports, messaging);
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
            step_outbox,
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
pub(super) fn admin_principal(local: &LocalArgs, tenant: &TenantId) -> Principal {
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
