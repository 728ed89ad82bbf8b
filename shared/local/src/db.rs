//! The database file: one writer connection, on which the writes queued at the same
//! time are committed together (SQLite admits one writer at a time; see
//! [`group_commit`](crate::group_commit)), and a few readers that WAL lets run alongside
//! it. Statements are short, so they run on the calling thread. A thread of its own
//! checkpoints the write-ahead log, so no request waits for a checkpoint's copying and
//! fsync (with `synchronous = NORMAL`, the only fsync there is).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::checkpoint::{Checkpointer, CheckpointerError};
use crate::group_commit::GroupCommitter;
use crate::store::cache::ItemCache;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::Notify;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot create the data directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "the database {path} is in use by another process (another `skein dev` on the same data directory?): stop it, or give this one another SKEIN_DATA_DIR"
    )]
    InUse { path: PathBuf },
    #[error("cannot start the thread that checkpoints the database: {0}")]
    Checkpointer(#[source] std::io::Error),
    #[error(
        "the database {path} was written by a newer Skein (schema {found}, this build knows {known}); upgrade skein"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
}

pub struct SqliteDb {
    path: PathBuf,
    /// Runs every write, grouping those that queue up.
    committer: GroupCommitter,
    /// The writer connection: the leading write holds it while its group runs, and
    /// reads borrow it when it is free.
    writer: Arc<Mutex<Connection>>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// Per queue: wakes long-polling receivers when a message arrives.
    queue_bells: Mutex<HashMap<String, Arc<Notify>>>,
    /// The items written last, as committed (see [`ItemCache`]).
    item_cache: ItemCache,
    /// Dropped with the database, which stops the checkpointer.
    _checkpointer: Checkpointer,
}

const SCHEMA_VERSION: i64 = 4;
const READERS: usize = 4;

/// SQLite's `unix-excl` VFS: the first connection takes an exclusive lock on the file for
/// the process, and the WAL index lives in this process's memory instead of a mapped
/// `-shm` file. Every connection of the process still shares the database as usual; no
/// other process can open it while this one has it.
///
/// With the default `unix` VFS every transaction took and dropped POSIX locks on the
/// `-shm` file (152 `fcntl` calls per 3-step run, and the kernel's lock spinlocks on
/// both cores). Measured on the 2-core build machine (2026-12-03, sequential 3-step runs,
/// `workflow3.py skein-sync`, one tokio worker): server CPU per run 1.31-1.35 ms before,
/// 0.86 ms after. Only one process serves a data directory (`skein dev` locks it before
/// it opens the database); any other process that opens the file meanwhile is refused
/// with [`DbError::InUse`].
pub const VFS: &std::ffi::CStr = c"unix-excl";

/// A connection to `path` through [`VFS`].
pub(crate) fn connect(path: &Path, flags: OpenFlags) -> rusqlite::Result<Connection> {
    Connection::open_with_flags_and_vfs(path, flags, VFS)
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    gsi1pk TEXT, gsi1sk TEXT,
    gsi2pk TEXT, gsi2sk TEXT,
    gsi3pk TEXT, gsi3sk TEXT,
    expires_at INTEGER,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_gsi2 ON items (gsi2pk, gsi2sk, pk, sk) WHERE gsi2pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_gsi3 ON items (gsi3pk, gsi3sk, pk, sk) WHERE gsi3pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_expiry ON items (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS queue_messages (
    queue TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT,
    sent_at INTEGER NOT NULL,
    PRIMARY KEY (queue, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS queue_messages_visible ON queue_messages (queue, visible_at, id);
CREATE UNIQUE INDEX IF NOT EXISTS queue_messages_receipt ON queue_messages (receipt) WHERE receipt IS NOT NULL;
CREATE TABLE IF NOT EXISTS engine_machines (
    name TEXT PRIMARY KEY,
    asl TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS engine_executions (
    name TEXT PRIMARY KEY,
    machine TEXT NOT NULL,
    input TEXT NOT NULL,
    secret TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    cause TEXT,
    started_at INTEGER NOT NULL,
    stopped_at INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS engine_executions_running ON engine_executions (status) WHERE status = 'RUNNING';
-- Ended executions whose end the step-worker has not yet recorded on the run: sent
-- again when the engine starts, deleted once recorded (SQS's delete-after-processing).
CREATE TABLE IF NOT EXISTS engine_unreported_ends (
    name TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS engine_task_results (
    execution TEXT NOT NULL,
    token TEXT NOT NULL,
    ok INTEGER NOT NULL,
    output TEXT,
    error TEXT,
    cause TEXT,
    PRIMARY KEY (execution, token)
) WITHOUT ROWID;
";

impl SqliteDb {
    /// Opens (creating if needed) `skein.db` in `data_dir`.
    /// Opens `skein.db` in `data_dir`, creating the directory readable only by this user
    /// (0700): it holds the signing key and the first admin's secret besides the data.
    pub fn open_dir(data_dir: &Path) -> Result<Self, DbError> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(data_dir)
            .map_err(|source| DbError::CreateDir {
                path: data_dir.to_path_buf(),
                source,
            })?;
        Self::open(&data_dir.join("skein.db"))
    }

    pub fn open(path: &Path) -> Result<Self, DbError> {
        let open_err = |source| DbError::Open {
            path: path.to_path_buf(),
            source,
        };
        private_file(path).map_err(|source| DbError::CreateDir {
            path: path.to_path_buf(),
            source,
        })?;
        let writer = connect(path, OpenFlags::default()).map_err(open_err)?;
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = NORMAL;
                 PRAGMA busy_timeout = 5000;
                 PRAGMA temp_store = MEMORY;
                 PRAGMA cache_size = -16384;
                 PRAGMA wal_autocheckpoint = 0;
                 PRAGMA journal_size_limit = 67108864;",
            )
            .map_err(|source| match source.sqlite_error_code() {
                // The first read takes the process's lock (`VFS`); another holds it.
                Some(rusqlite::ErrorCode::DatabaseBusy) => DbError::InUse {
                    path: path.to_path_buf(),
                },
                _ => open_err(source),
            })?;
        migrate(&writer, path)?;
        let readers = (0..READERS)
            .map(|_| {
                let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let conn = connect(path, flags).map_err(open_err)?;
                conn.execute_batch("PRAGMA busy_timeout = 5000;")
                    .map_err(open_err)?;
                Ok(Mutex::new(conn))
            })
            .collect::<Result<Vec<_>, DbError>>()?;
        let writer = Arc::new(Mutex::new(writer));
        let checkpointer = Checkpointer::start(path, writer.clone()).map_err(|e| match e {
            CheckpointerError::Open(source) => open_err(source),
            CheckpointerError::Thread(e) => DbError::Checkpointer(e),
        })?;
        let committer = GroupCommitter::new(writer.clone());
        Ok(Self {
            path: path.to_path_buf(),
            committer,
            writer,
            readers,
            next_reader: AtomicUsize::new(0),
            queue_bells: Mutex::default(),
            item_cache: ItemCache::new(),
            _checkpointer: checkpointer,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where every write goes: it runs on the writer connection, in a transaction it may
    /// share with other writes queued at the same time, and is answered once committed.
    pub(crate) fn writes(&self) -> &GroupCommitter {
        &self.committer
    }

    pub(crate) fn item_cache(&self) -> &ItemCache {
        &self.item_cache
    }

    pub(crate) fn queue_bell(&self, queue: &str) -> Arc<Notify> {
        let mut bells = self
            .queue_bells
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        bells.entry(queue.to_string()).or_default().clone()
    }

    /// A connection to read with: the writer when it is free, else one of the readers.
    /// The writer's page cache stays warm across its own commits, while a reader's is
    /// dropped whenever anything was written since its last read, which under load is
    /// every time: reading through a reader cost three times as much.
    pub(crate) fn reader(&self) -> MutexGuard<'_, Connection> {
        if let Ok(writer) = self.writer.try_lock() {
            return writer;
        }
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..self.readers.len() {
            if let Ok(conn) = self.readers[(start + i) % self.readers.len()].try_lock() {
                return conn;
            }
        }
        let slot = &self.readers[start % self.readers.len()];
        slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for SqliteDb {
    /// Deferred writes still queued commit before the connections close.
    fn drop(&mut self) {
        self.committer.flush();
    }
}

fn migrate(conn: &Connection, path: &Path) -> Result<(), DbError> {
    let open_err = |source| DbError::Open {
        path: path.to_path_buf(),
        source,
    };
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(open_err)?;
    if found > SCHEMA_VERSION {
        return Err(DbError::TooNew {
            path: path.to_path_buf(),
            found,
            known: SCHEMA_VERSION,
        });
    }
    if found < SCHEMA_VERSION {
        conn.execute_batch(&format!(
            "BEGIN; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
        ))
        .map_err(open_err)?;
    }
    Ok(())
}

/// Creates the database file readable only by this user (0600), or makes it so. SQLite
/// gives its -wal and -shm files the database file's permissions.
fn private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(())
}
