//! Durable queues on SQLite with SQS semantics. A message row carries its visibility
//! time and receive count; receiving hides it under a fresh receipt, and a message
//! received more than `max_receives` times moves to the dead-letter queue instead.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rusqlite::params;
use skein_core::ports::{
    MAX_BATCH, MAX_BODY_BYTES, OutgoingMessage, Queue, QueueDepth, QueueError, ReceivedMessage,
};
use tokio::sync::Notify;

use crate::db::SqliteDb;
use crate::group_commit::WriteFailed;

#[derive(Debug, Clone, Default)]
pub struct QueueSettings {
    /// Receives after which a message goes to `dead_letter_queue` (SQS maxReceiveCount).
    pub max_receives: Option<u32>,
    pub dead_letter_queue: Option<String>,
}

#[derive(Clone)]
pub struct SqliteQueue {
    db: Arc<SqliteDb>,
    name: String,
    settings: QueueSettings,
}

/// How often a waiting receive re-checks for messages whose delay or visibility ended
/// (sends wake it at once).
const RECHECK: Duration = Duration::from_millis(100);

fn bell(db: &SqliteDb, queue: &str) -> Arc<Notify> {
    db.queue_bell(queue)
}

fn unavailable(err: rusqlite::Error) -> QueueError {
    QueueError::Unavailable(err.to_string())
}

impl From<WriteFailed> for QueueError {
    fn from(failed: WriteFailed) -> Self {
        QueueError::Unavailable(failed.to_string())
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn new_id() -> String {
    ulid::Ulid::new().to_string()
}

impl SqliteQueue {
    pub fn new(db: Arc<SqliteDb>, name: impl Into<String>, settings: QueueSettings) -> Self {
        Self {
            db,
            name: name.into(),
            settings,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many messages the queue holds (visible, delayed or in flight), and how long
    /// the oldest has waited since it was sent: what SQS reports as its approximate number
    /// of messages and age of oldest message.
    fn stats(&self) -> Result<QueueDepth, QueueError> {
        let conn = self.db.reader();
        let (messages, oldest_sent_ms) = conn
            .prepare_cached("SELECT COUNT(*), MIN(sent_at) FROM queue_messages WHERE queue = ?1")
            .and_then(|mut s| {
                s.query_row(params![self.name], |row| {
                    Ok((row.get::<_, u64>(0)?, row.get::<_, Option<i64>>(1)?))
                })
            })
            .map_err(unavailable)?;
        let oldest = oldest_sent_ms
            .map(|sent| Duration::from_millis(now_ms().saturating_sub(sent).max(0) as u64));
        Ok(QueueDepth { messages, oldest })
    }

    /// Makes visible now the messages that an earlier process received and never
    /// finished: it stopped (a crash, `kill -9`, a restart) between receiving and
    /// deleting, and its receipts died with it. Call it when the process that owns the
    /// data dir starts, before anything receives: otherwise each such message stays
    /// hidden for the rest of its visibility timeout, and a reply, or a question a run
    /// waits on, arrives that much later. Their receive counts are kept.
    pub async fn release_in_flight(&self) -> Result<usize, QueueError> {
        let name = self.name.clone();
        let released = self
            .db
            .writes()
            .write(move |conn| {
                conn.prepare_cached(
                    "UPDATE queue_messages SET visible_at = ?1, receipt = NULL
                     WHERE queue = ?2 AND receipt IS NOT NULL AND visible_at > ?1",
                )
                .and_then(|mut s| s.execute(params![now_ms(), name]))
                .map_err(unavailable)
            })
            .await?;
        if released > 0 {
            bell(&self.db, &self.name).notify_waiters();
        }
        Ok(released)
    }

    async fn take_visible(
        &self,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let (name, settings) = (self.name.clone(), self.settings.clone());
        let (received, dead) = self
            .db
            .writes()
            .write(move |conn| take_visible_in(conn, &name, &settings, max, visibility))
            .await?;
        if let Some(dlq) = self
            .settings
            .dead_letter_queue
            .as_ref()
            .filter(|_| dead > 0)
        {
            bell(&self.db, dlq).notify_waiters();
        }
        Ok(received)
    }
}

/// Takes up to `max` visible messages of queue `name`, hiding each for `visibility`;
/// those received too often move to the dead-letter queue instead. Returns the taken
/// messages and how many moved.
fn take_visible_in(
    conn: &rusqlite::Connection,
    name: &str,
    settings: &QueueSettings,
    max: usize,
    visibility: Duration,
) -> Result<(Vec<ReceivedMessage>, usize), QueueError> {
    let now = now_ms();
    let mut received = Vec::new();
    let mut dead = 0;
    {
        let mut select = conn
            .prepare_cached(
                "SELECT id, body, receive_count FROM queue_messages
                     WHERE queue = ?1 AND visible_at <= ?2 ORDER BY visible_at, id LIMIT ?3",
            )
            .map_err(unavailable)?;
        let rows = select
            .query_map(params![name, now, (max * 2) as i64], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, u32>(2)?,
                ))
            })
            .map_err(unavailable)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(unavailable)?;
        for (id, body, count) in rows {
            if received.len() == max {
                break;
            }
            match (&settings.max_receives, &settings.dead_letter_queue) {
                (Some(limit), Some(dlq)) if count >= *limit => {
                    conn.prepare_cached(
                            "UPDATE queue_messages SET queue = ?1, receive_count = 0, receipt = NULL, visible_at = ?2
                             WHERE queue = ?3 AND id = ?4",
                        )
                        .and_then(|mut s| s.execute(params![dlq, now, name, id]))
                        .map_err(unavailable)?;
                    dead += 1;
                }
                _ => {
                    let receipt = format!("{}.{}", id, new_id());
                    let hidden_until = now + visibility.as_millis() as i64;
                    conn.prepare_cached(
                            "UPDATE queue_messages SET receive_count = receive_count + 1, receipt = ?1, visible_at = ?2
                             WHERE queue = ?3 AND id = ?4",
                        )
                        .and_then(|mut s| s.execute(params![receipt, hidden_until, name, id]))
                        .map_err(unavailable)?;
                    received.push(ReceivedMessage {
                        id,
                        body,
                        receipt,
                        receive_count: count + 1,
                    });
                }
            }
        }
    }
    Ok((received, dead))
}

#[async_trait]
impl Queue for SqliteQueue {
    async fn send_batch(&self, messages: Vec<OutgoingMessage>) -> Result<Vec<String>, QueueError> {
        if messages.is_empty() || messages.len() > MAX_BATCH {
            return Err(QueueError::BadBatch {
                got: messages.len(),
                max: MAX_BATCH,
            });
        }
        if let Some(big) = messages.iter().find(|m| m.body.len() > MAX_BODY_BYTES) {
            return Err(QueueError::TooLarge {
                size: big.body.len(),
                limit: MAX_BODY_BYTES,
            });
        }
        let name = self.name.clone();
        let ids = self
            .db
            .writes()
            .write(move |conn| {
                let now = now_ms();
                let mut ids = Vec::with_capacity(messages.len());
                for message in &messages {
                    let id = new_id();
                    conn.prepare_cached(
                        "INSERT INTO queue_messages (queue, id, body, visible_at, sent_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    )
                    .and_then(|mut s| s.execute(params![name, id, message.body, now + message.delay.as_millis() as i64, now]))
                    .map_err(unavailable)?;
                    ids.push(id);
                }
                Ok::<_, QueueError>(ids)
            })
            .await?;
        bell(&self.db, &self.name).notify_waiters();
        Ok(ids)
    }

    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let max = max.clamp(1, MAX_BATCH);
        let deadline = Instant::now() + wait;
        let bell = bell(&self.db, &self.name);
        loop {
            // Listen before looking, so a send between the look and the wait still wakes us.
            let notified = bell.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let received = self.take_visible(max, visibility).await?;
            let left = deadline.saturating_duration_since(Instant::now());
            if !received.is_empty() || left.is_zero() {
                return Ok(received);
            }
            let _ = tokio::time::timeout(left.min(RECHECK), notified).await;
        }
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        let receipt = receipt.to_string();
        let deleted = self
            .db
            .writes()
            .write(move |conn| {
                conn.prepare_cached("DELETE FROM queue_messages WHERE receipt = ?1")
                    .and_then(|mut s| s.execute(params![receipt]))
                    .map_err(unavailable)
            })
            .await?;
        if deleted == 0 {
            Err(QueueError::StaleReceipt)
        } else {
            Ok(())
        }
    }

    async fn change_visibility(
        &self,
        receipt: &str,
        visibility: Duration,
    ) -> Result<(), QueueError> {
        let receipt = receipt.to_string();
        let changed = self
            .db
            .writes()
            .write(move |conn| {
                conn.prepare_cached("UPDATE queue_messages SET visible_at = ?1 WHERE receipt = ?2")
                    .and_then(|mut s| {
                        s.execute(params![now_ms() + visibility.as_millis() as i64, receipt])
                    })
                    .map_err(unavailable)
            })
            .await?;
        if changed == 0 {
            return Err(QueueError::StaleReceipt);
        }
        if visibility.is_zero() {
            bell(&self.db, &self.name).notify_waiters();
        }
        Ok(())
    }

    async fn depth(&self) -> Result<QueueDepth, QueueError> {
        self.stats()
    }
}

#[cfg(test)]
mod contract {
    use std::sync::Arc;

    use skein_core::contract::queue::QueueFixture;

    use super::*;

    fn fresh() -> (tempfile::TempDir, QueueFixture) {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(SqliteDb::open_dir(dir.path()).unwrap());
        let settings = QueueSettings {
            max_receives: Some(3),
            dead_letter_queue: Some("work-dlq".into()),
        };
        let fixture = QueueFixture {
            queue: Arc::new(SqliteQueue::new(db.clone(), "work", settings)),
            dead_letters: Arc::new(SqliteQueue::new(db, "work-dlq", QueueSettings::default())),
            max_receives: 3,
        };
        (dir, fixture)
    }

    skein_core::queue_contract!(fresh());
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use skein_core::ports::{OutgoingMessage, Queue};

    use super::*;

    #[tokio::test]
    async fn a_new_process_takes_back_what_a_stopped_one_was_handling() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(SqliteDb::open_dir(dir.path()).unwrap());
        let queue = SqliteQueue::new(db, "work", QueueSettings::default());
        queue
            .send_batch(vec![
                OutgoingMessage::new("in flight".to_string()),
                OutgoingMessage {
                    delay: Duration::from_secs(60),
                    ..OutgoingMessage::new("delayed".to_string())
                },
            ])
            .await
            .unwrap();
        let taken = queue
            .receive(10, Duration::from_secs(30), Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(taken.len(), 1, "the delayed message is not visible yet");

        // The process that received it stops without deleting it; the next one starts.
        assert_eq!(queue.release_in_flight().await.unwrap(), 1);
        let again = queue
            .receive(10, Duration::from_secs(30), Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(again.len(), 1, "a sent message's own delay is kept");
        assert_eq!(again[0].body, "in flight");
        assert_eq!(again[0].receive_count, 2, "its receives still count");
        assert!(matches!(
            queue.delete(&taken[0].receipt).await,
            Err(QueueError::StaleReceipt)
        ));
    }
}
