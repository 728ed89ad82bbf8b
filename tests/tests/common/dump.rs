//! What the dev server's database holds about a run, for a test that saw it never end:
//! its items (run, steps, reply meetings), the queued messages that name it, and the
//! engine's journal of its execution.
#![allow(dead_code)]

use std::fmt::Write;
use std::path::Path;

/// A readable listing of everything `skein.db` in `data_dir` holds about `run`.
pub fn run_state(data_dir: &Path, run: &str) -> String {
    let path = data_dir.join("skein.db");
    // Through the server's own VFS: the server is in this process and holds the file.
    let db = match rusqlite::Connection::open_with_flags_and_vfs(
        &path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        skein_local::VFS,
    ) {
        Ok(db) => db,
        Err(e) => return format!("cannot open {}: {e}", path.display()),
    };
    let like = format!("%{run}%");
    let mut out = String::new();
    let sections: [(&str, &str); 4] = [
        (
            "items",
            "SELECT pk || ' ' || sk || ' v' || version || ' ' || body FROM items \
             WHERE pk LIKE ?1 OR sk LIKE ?1 OR body LIKE ?1",
        ),
        (
            "queued",
            "SELECT queue || ' ' || id || ' receives=' || receive_count || ' visible_at=' || \
             visible_at || ' ' || body FROM queue_messages WHERE body LIKE ?1",
        ),
        (
            "execution",
            "SELECT status || ' ' || coalesce(error, '') || ' ' || coalesce(cause, '') \
             FROM engine_executions WHERE name LIKE ?1",
        ),
        (
            "task results",
            "SELECT token || ' ok=' || ok || ' ' || coalesce(output, '') || coalesce(error, '') \
             FROM engine_task_results WHERE execution LIKE ?1",
        ),
    ];
    for (title, sql) in sections {
        let _ = writeln!(out, "    -- {title}");
        let rows = db.prepare(sql).and_then(|mut statement| {
            statement
                .query_map([&like], |row| row.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        });
        match rows {
            Ok(rows) => rows.iter().for_each(|row| {
                let _ = writeln!(out, "    {row}");
            }),
            Err(e) => {
                let _ = writeln!(out, "    (cannot read: {e})");
            }
        }
    }
    out
}
