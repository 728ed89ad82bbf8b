//! Group commit: groups, failures inside them, deferred and unhurried writes.

use super::*;

fn committer() -> (tempfile::TempDir, Arc<Mutex<Connection>>, GroupCommitter) {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("t.db")).unwrap();
    conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (k TEXT PRIMARY KEY);")
        .unwrap();
    let conn = Arc::new(Mutex::new(conn));
    let committer = GroupCommitter::new(conn.clone());
    (dir, conn, committer)
}

fn insert(conn: &Connection, k: &str) -> Result<usize, WriteFailed> {
    conn.execute("INSERT INTO t (k) VALUES (?1)", [k])
        .map_err(|e| WriteFailed(Arc::new(e)))
}

fn keys(conn: &Mutex<Connection>) -> Vec<String> {
    let conn = conn.lock().unwrap();
    let mut s = conn.prepare("SELECT k FROM t ORDER BY k").unwrap();
    s.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_write_undoes_only_itself_and_the_others_of_its_group_commit() {
    let (_dir, conn, committer) = committer();
    let committer = Arc::new(committer);
    let writes = (0..200).map(|i| {
        let committer = committer.clone();
        tokio::spawn(async move {
            committer
                .write(move |conn| {
                    let key = format!("k{i:03}");
                    insert(conn, &key)?;
                    // Every third write fails after its insert (it inserts its key
                    // twice): it must leave no row, and the rest of its group must.
                    if i % 3 == 0 {
                        insert(conn, &key)?;
                    }
                    Ok::<_, WriteFailed>(i)
                })
                .await
        })
    });
    let mut ok = Vec::new();
    for write in writes.collect::<Vec<_>>() {
        if let Ok(i) = write.await.unwrap() {
            ok.push(format!("k{i:03}"));
        }
    }
    let expected: Vec<String> = (0..200)
        .filter(|i| i % 3 != 0)
        .map(|i| format!("k{i:03}"))
        .collect();
    assert_eq!(ok, expected);
    assert_eq!(keys(&conn), expected);
}

#[tokio::test]
async fn a_write_that_fails_alone_leaves_nothing_and_the_next_write_commits() {
    let (_dir, conn, committer) = committer();
    let failed = committer
        .write(|conn| {
            insert(conn, "half")?;
            insert(conn, "half")
        })
        .await;
    assert!(failed.is_err(), "a second insert of one key fails");
    committer.write(|conn| insert(conn, "next")).await.unwrap();
    assert_eq!(keys(&conn), vec!["next".to_string()]);
}

#[tokio::test]
async fn a_deferred_write_commits_with_the_next_write_or_else_on_its_own() {
    let (_dir, conn, committer) = committer();
    committer.defer("a test note", |conn| insert(conn, "noted").map(drop));
    committer
        .write(|conn| insert(conn, "awaited"))
        .await
        .unwrap();
    assert_eq!(
        keys(&conn),
        vec!["awaited".to_string(), "noted".to_string()]
    );

    committer.defer("a test note", |conn| insert(conn, "alone").map(drop));
    // A failing note is logged and leaves the others alone.
    committer.defer("a test note", |conn| insert(conn, "noted").map(drop));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !keys(&conn).contains(&"alone".to_string()) {
        assert!(
            std::time::Instant::now() < deadline,
            "a deferred write with no write after it never committed"
        );
        tokio::time::sleep(DEFERRED_AT_MOST).await;
    }
    assert_eq!(keys(&conn).len(), 3);
}

#[tokio::test]
async fn a_write_soon_waits_for_the_next_write_or_else_commits_on_its_own() {
    let (_dir, conn, committer) = committer();
    let committer = Arc::new(committer);
    let soon = committer.clone();
    let parked = tokio::spawn(async move {
        soon.write_soon_then(|conn| insert(conn, "parked"), |_| {})
            .await
    });
    // The spawned write queues itself; on this one-thread runtime nothing else (its
    // flush included) runs until this test yields again.
    tokio::task::yield_now().await;
    assert!(
        keys(&conn).is_empty(),
        "it did not commit on its own at once"
    );
    committer.write(|conn| insert(conn, "next")).await.unwrap();
    assert_eq!(keys(&conn), vec!["next".to_string(), "parked".to_string()]);
    assert_eq!(parked.await.unwrap().unwrap(), 1, "answered once committed");

    let alone = committer.write_soon_then(|conn| insert(conn, "alone"), |_| {});
    let alone = tokio::time::timeout(Duration::from_secs(10), alone).await;
    assert_eq!(alone.expect("it commits without company").unwrap(), 1);
    assert_eq!(keys(&conn).len(), 3);
}

#[test]
fn a_deferred_write_outside_a_runtime_commits_at_once() {
    let (_dir, conn, committer) = committer();
    // No runtime here to commit it later.
    committer.defer("a test note", |conn| insert(conn, "now").map(drop));
    assert_eq!(keys(&conn), vec!["now".to_string()]);
}

#[tokio::test]
async fn an_answered_write_is_committed_and_seen_by_another_connection() {
    let (dir, _conn, committer) = committer();
    committer.write(|conn| insert(conn, "seen")).await.unwrap();
    let other = Connection::open(dir.path().join("t.db")).unwrap();
    let count: i64 = other
        .query_row("SELECT COUNT(*) FROM t WHERE k = 'seen'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 1);
}
