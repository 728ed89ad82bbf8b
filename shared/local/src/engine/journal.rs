//! The engine's checkpoints in SQLite: machines, executions, and every task result
//! (queued before the interpreter sees it, see [`note_result`]). Replaying an execution
//! from its input with its recorded results brings it back to where it was (task tokens
//! are derived from the execution's secret and the task's position, so the replay asks
//! for the same tokens).

use rusqlite::{OptionalExtension, params};
use serde_json::Value;

use crate::SqliteDb;
use crate::group_commit::WriteFailed;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("engine checkpoint failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("engine checkpoint failed: {0}")]
    Write(#[from] WriteFailed),
}

pub struct ExecutionRow {
    pub name: String,
    pub machine: String,
    pub input: Value,
    pub secret: String,
}

/// A recorded task outcome.
pub enum Recorded {
    Success(Value),
    Failure { error: String, cause: String },
}

/// Runs one statement through the connection's statement cache: the engine repeats the
/// same few for every execution, and parsing them again cost more than running them.
fn execute(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// Saves a machine under a new name. False when the name is taken by another definition,
/// which is never replaced (a registration that names an existing machine is the same one).
pub async fn save_machine(db: &SqliteDb, name: &str, asl: &Value) -> Result<bool, JournalError> {
    let (name, text) = (name.to_string(), asl.to_string());
    let stored = db
        .writes()
        .write(move |conn| {
            let inserted = execute(
                conn,
                "INSERT INTO engine_machines (name, asl) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                params![name, text],
            )?;
            if inserted == 1 {
                return Ok::<_, JournalError>(None);
            }
            let stored: String = conn.query_row(
                "SELECT asl FROM engine_machines WHERE name = ?1",
                [name],
                |r| r.get(0),
            )?;
            Ok(Some(stored))
        })
        .await?;
    Ok(match stored {
        None => true,
        Some(stored) => serde_json::from_str::<Value>(&stored).ok().as_ref() == Some(asl),
    })
}

/// Reads the journal's machines table: the engine can checkpoint.
pub fn probe(db: &SqliteDb) -> Result<(), JournalError> {
    let conn = db.reader();
    conn.query_row("SELECT COUNT(*) FROM engine_machines", [], |r| {
        r.get::<_, i64>(0)
    })?;
    Ok(())
}

pub fn load_machine(db: &SqliteDb, name: &str) -> Result<Option<Value>, JournalError> {
    let conn = db.reader();
    let text: Option<String> = conn
        .query_row(
            "SELECT asl FROM engine_machines WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .optional()?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// True when this call created the execution (false: it already existed).
pub async fn insert_execution(
    db: &SqliteDb,
    row: &ExecutionRow,
    now_ms: i64,
) -> Result<bool, JournalError> {
    let (name, machine, input, secret) = (
        row.name.clone(),
        row.machine.clone(),
        row.input.to_string(),
        row.secret.clone(),
    );
    let changed = db
        .writes()
        .write(move |conn| {
            execute(
                conn,
                "INSERT OR IGNORE INTO engine_executions (name, machine, input, secret, status, started_at)
                 VALUES (?1, ?2, ?3, ?4, 'RUNNING', ?5)",
                params![name, machine, input, secret, now_ms],
            )
            .map_err(JournalError::from)
        })
        .await?;
    Ok(changed == 1)
}

pub fn load_execution(db: &SqliteDb, name: &str) -> Result<Option<ExecutionRow>, JournalError> {
    let conn = db.reader();
    conn.prepare_cached(
        "SELECT name, machine, input, secret FROM engine_executions WHERE name = ?1",
    )?
    .query_row([name], |r| {
        let input: String = r.get(2)?;
        Ok(ExecutionRow {
            name: r.get(0)?,
            machine: r.get(1)?,
            input: serde_json::from_str(&input).unwrap_or(Value::Null),
            secret: r.get(3)?,
        })
    })
    .optional()
    .map_err(JournalError::from)
}

pub fn running_executions(db: &SqliteDb) -> Result<Vec<String>, JournalError> {
    let conn = db.reader();
    let mut statement =
        conn.prepare("SELECT name FROM engine_executions WHERE status = 'RUNNING'")?;
    let names = statement
        .query_map([], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(names)
}

/// Marks the execution ended and its end unreported. Deferred (see
/// [`GroupCommitter::defer`](crate::group_commit::GroupCommitter::defer)): recording the
/// end on the run is queued after this note, so it commits with it or after it. If the
/// note is lost in a crash, so is everything that followed it, and the execution is
/// resumed on restart: it ends again, from the tasks' recorded outcomes.
pub fn finish_execution(
    db: &SqliteDb,
    name: &str,
    status: &str,
    error: Option<&str>,
    cause: Option<&str>,
    now_ms: i64,
) {
    let (name, status) = (name.to_string(), status.to_string());
    let (error, cause) = (error.map(str::to_string), cause.map(str::to_string));
    // One write: an execution marked ended without its unreported end would never be
    // reported after a crash, and its run would wait forever.
    db.writes().defer("the end of an execution in the engine journal", move |conn| {
        execute(
            conn,
            "UPDATE engine_executions SET status = ?2, error = ?3, cause = ?4, stopped_at = ?5 WHERE name = ?1",
            params![name, status, error, cause, now_ms],
        )?;
        execute(
            conn,
            "DELETE FROM engine_task_results WHERE execution = ?1",
            [&name],
        )?;
        execute(
            conn,
            "INSERT OR IGNORE INTO engine_unreported_ends (name) VALUES (?1)",
            [&name],
        )?;
        Ok::<_, JournalError>(())
    });
}

/// An ended execution, as the journal holds it.
pub struct EndedRow {
    pub row: ExecutionRow,
    pub status: String,
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// The ended executions whose end was never recorded on their run.
pub fn unreported_ends(db: &SqliteDb) -> Result<Vec<EndedRow>, JournalError> {
    let conn = db.reader();
    let mut statement = conn.prepare(
        "SELECT e.name, e.machine, e.input, e.secret, e.status, e.error, e.cause
         FROM engine_unreported_ends u JOIN engine_executions e ON e.name = u.name",
    )?;
    let rows = statement
        .query_map([], |r| {
            let input: String = r.get(2)?;
            Ok(EndedRow {
                row: ExecutionRow {
                    name: r.get(0)?,
                    machine: r.get(1)?,
                    input: serde_json::from_str(&input).unwrap_or(Value::Null),
                    secret: r.get(3)?,
                },
                status: r.get(4)?,
                error: r.get(5)?,
                cause: r.get(6)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Notes that the end of `name` was recorded on its run. Deferred (see
/// [`GroupCommitter::defer`](crate::group_commit::GroupCommitter::defer)): if the note is
/// lost in a crash, the end is sent again at the next start, and recording an end twice
/// changes nothing.
pub fn end_reported(db: &SqliteDb, name: &str) {
    let name = name.to_string();
    db.writes().defer(
        "the note that an execution's end was recorded",
        move |conn| {
            execute(
                conn,
                "DELETE FROM engine_unreported_ends WHERE name = ?1",
                [name],
            )?;
            Ok::<_, JournalError>(())
        },
    );
}

/// Notes a task's outcome, for an execution resumed after a restart to find instead of
/// sending the task again. Deferred (see
/// [`GroupCommitter::defer`](crate::group_commit::GroupCommitter::defer)): the step-worker
/// records a step's outcome before it answers, so an outcome whose note is lost in a
/// crash is answered again from the step's record when the resumed execution sends the
/// step again. Every write the outcome leads to (the next step's) is queued after this
/// note and commits with it or after it.
pub fn note_result(db: &SqliteDb, execution: &str, token: &str, outcome: &Recorded) {
    let (execution, token) = (execution.to_string(), token.to_string());
    let (output, error, cause) = match outcome {
        Recorded::Success(output) => (Some(output.to_string()), None, None),
        Recorded::Failure { error, cause } => (None, Some(error.clone()), Some(cause.clone())),
    };
    db.writes()
        .defer("a task's outcome in the engine journal", move |conn| {
            let noted = params![execution, token, output.is_some(), output, error, cause];
            execute(conn, NOTE_RESULT, noted)?;
            Ok::<_, JournalError>(())
        });
}

const NOTE_RESULT: &str = "INSERT OR IGNORE INTO engine_task_results
    (execution, token, ok, output, error, cause) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

pub fn recorded_result(
    db: &SqliteDb,
    execution: &str,
    token: &str,
) -> Result<Option<Recorded>, JournalError> {
    let conn = db.reader();
    conn.prepare_cached(
        "SELECT ok, output, error, cause FROM engine_task_results WHERE execution = ?1 AND token = ?2",
    )?
    .query_row(
        params![execution, token],
        |r| {
            let ok: bool = r.get(0)?;
            Ok(if ok {
                let output: Option<String> = r.get(1)?;
                Recorded::Success(output.and_then(|o| serde_json::from_str(&o).ok()).unwrap_or(Value::Null))
            } else {
                Recorded::Failure { error: r.get::<_, Option<String>>(2)?.unwrap_or_default(), cause: r.get::<_, Option<String>>(3)?.unwrap_or_default() }
            })
        },
    )
    .optional()
    .map_err(JournalError::from)
}
