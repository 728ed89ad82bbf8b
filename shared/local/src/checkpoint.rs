//! The thread that copies the write-ahead log into the database and keeps the log from
//! growing without end.
//!
//! Every [`CHECKPOINT_EVERY`] it checkpoints passively: it never blocks a reader or the
//! writer, so no request waits for the copying and the fsyncs (with `synchronous =
//! NORMAL`, the only fsyncs there are). But SQLite starts the log over only once a
//! checkpoint has copied all of it, and under sustained writes a passive checkpoint
//! never does: frames arrive while it copies. The log then grew by about 140 MB a
//! second at 1,000 runs/s (1.1 GB after an 8-second benchmark), and appending to new
//! file blocks was 14% of the server's CPU. So once the log passes [`RESTART_AFTER`],
//! the thread checkpoints again while holding the writer connection: what is left to
//! copy is what arrived during the passive pass, and once all of it is copied the next
//! write starts the log over, into the blocks it already has.

use std::path::Path;
use std::sync::mpsc::{RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

/// How often the checkpointer copies the log into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// The log's length (in frames of one 4 KiB page) past which a checkpoint holds the
/// writer to finish the copy: 64 MiB.
const RESTART_AFTER_FRAMES: i64 = 16 * 1024;

#[derive(Debug)]
pub(crate) enum CheckpointerError {
    Open(rusqlite::Error),
    Thread(std::io::Error),
}

/// Dropping it stops the thread, which truncates the log first.
pub(crate) struct Checkpointer {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    pub(crate) fn start(
        path: &Path,
        writer: Arc<Mutex<Connection>>,
    ) -> Result<Checkpointer, CheckpointerError> {
        let conn = crate::db::connect(path, rusqlite::OpenFlags::default())
            .map_err(CheckpointerError::Open)?;
        conn.execute_batch("PRAGMA busy_timeout = 5000;")
            .map_err(CheckpointerError::Open)?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let file = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY) {
                    // Its directory removed under it (a test's, say): nothing to keep.
                    if !file.exists() {
                        return;
                    }
                    let frames = checkpoint(&conn, Mode::Passive);
                    if frames.is_some_and(|frames| frames > RESTART_AFTER_FRAMES) {
                        let _no_writes = writer.lock().unwrap_or_else(|p| p.into_inner());
                        checkpoint(&conn, Mode::Passive);
                    }
                }
                if file.exists() {
                    checkpoint(&conn, Mode::Truncate);
                }
            })
            .map_err(CheckpointerError::Thread)?;
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[derive(Clone, Copy)]
enum Mode {
    /// Copies what it can without waiting for anyone.
    Passive,
    /// Copies everything, then empties the log file (at close).
    Truncate,
}

/// Checkpoints; returns how many frames the log holds.
fn checkpoint(conn: &Connection, mode: Mode) -> Option<i64> {
    let sql = match mode {
        Mode::Passive => "PRAGMA wal_checkpoint(PASSIVE)",
        Mode::Truncate => "PRAGMA wal_checkpoint(TRUNCATE)",
    };
    match conn.query_row(sql, [], |row| row.get::<_, i64>(1)) {
        Ok(frames) => Some(frames),
        Err(e) => {
            tracing::warn!(error = %e, "checkpointing the SQLite log failed; it will be tried again");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::SqliteDb;
    use crate::group_commit::WriteFailed;

    async fn put(db: &SqliteDb, n: usize, body: &str) {
        let body = body.to_string();
        db.writes()
            .write(move |conn| {
                conn.execute(
                    "INSERT OR REPLACE INTO engine_machines (name, asl) VALUES (?1, ?2)",
                    rusqlite::params![format!("m{n}"), body],
                )
                .map_err(|e| WriteFailed(std::sync::Arc::new(e)))
            })
            .await
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_is_given_back_down_to_its_limit_once_it_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open_dir(dir.path()).unwrap();
        let log = dir.path().join("skein.db-wal");
        let body = "x".repeat(256 * 1024);
        // 128 MiB of rows, written without a pause.
        for n in 0..512 {
            put(&db, n, &body).await;
        }
        // A checkpoint copies all of it while nothing is written; the next write starts
        // the log over and trims the file.
        tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
        put(&db, 0, "small").await;
        let size = std::fs::metadata(&log).unwrap().len();
        assert!(size <= 64 * 1024 * 1024, "the log holds {size} bytes");
    }
}
