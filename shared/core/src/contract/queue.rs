//! The queue contract: SQS's delivery semantics, as Skein relies on them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::ports::{MAX_BATCH, MAX_BODY_BYTES, OutgoingMessage, Queue, QueueError};

/// A fresh queue with a dead-letter queue behind it.
pub struct QueueFixture {
    pub queue: Arc<dyn Queue>,
    pub dead_letters: Arc<dyn Queue>,
    /// Receives after which a message moves to `dead_letters`.
    pub max_receives: u32,
}

const NO_WAIT: Duration = Duration::ZERO;
const SHORT: Duration = Duration::from_secs(1);

fn messages(bodies: &[&str]) -> Vec<OutgoingMessage> {
    bodies.iter().map(|b| OutgoingMessage::new(*b)).collect()
}

/// Receives until a message arrives or `within` passes (visibility ends in whole seconds).
async fn receive_within(
    queue: &dyn Queue,
    visibility: Duration,
    within: Duration,
) -> Vec<crate::ports::ReceivedMessage> {
    let deadline = Instant::now() + within;
    loop {
        let got = queue.receive(10, visibility, SHORT).await.unwrap();
        if !got.is_empty() || Instant::now() >= deadline {
            return got;
        }
    }
}

pub async fn a_sent_message_is_received_once_and_deleted(f: &QueueFixture) {
    let ids = f.queue.send_batch(messages(&["hello"])).await.unwrap();
    assert_eq!(ids.len(), 1);
    let got = f
        .queue
        .receive(10, Duration::from_secs(30), SHORT)
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].body.as_str(), got[0].receive_count, &got[0].id),
        ("hello", 1, &ids[0])
    );
    f.queue.delete(&got[0].receipt).await.unwrap();
    assert!(
        f.queue
            .receive(10, Duration::from_secs(30), NO_WAIT)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn a_received_message_is_hidden_until_its_visibility_ends(f: &QueueFixture) {
    f.queue.send_batch(messages(&["work"])).await.unwrap();
    let first = f
        .queue
        .receive(1, Duration::from_secs(2), SHORT)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        f.queue
            .receive(1, Duration::from_secs(2), NO_WAIT)
            .await
            .unwrap()
            .is_empty(),
        "hidden while in flight"
    );
    let again = receive_within(
        f.queue.as_ref(),
        Duration::from_secs(30),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(again.len(), 1, "redelivered after the visibility timeout");
    assert_eq!(
        (again[0].id.as_str(), again[0].receive_count),
        (first[0].id.as_str(), 2)
    );
    f.queue.delete(&again[0].receipt).await.unwrap();
}

pub async fn changing_visibility_to_zero_releases_a_message_at_once(f: &QueueFixture) {
    f.queue.send_batch(messages(&["retry-me"])).await.unwrap();
    let got = f
        .queue
        .receive(1, Duration::from_secs(60), SHORT)
        .await
        .unwrap();
    f.queue
        .change_visibility(&got[0].receipt, Duration::ZERO)
        .await
        .unwrap();
    let again = f
        .queue
        .receive(1, Duration::from_secs(60), SHORT)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].body, "retry-me");
    f.queue.delete(&again[0].receipt).await.unwrap();
}

pub async fn batches_and_bodies_respect_the_sqs_limits(f: &QueueFixture) {
    assert_eq!(
        f.queue.send_batch(vec![]).await,
        Err(QueueError::BadBatch {
            got: 0,
            max: MAX_BATCH
        })
    );
    let eleven = vec![OutgoingMessage::new("x"); MAX_BATCH + 1];
    assert_eq!(
        f.queue.send_batch(eleven).await,
        Err(QueueError::BadBatch {
            got: MAX_BATCH + 1,
            max: MAX_BATCH
        })
    );
    let huge = OutgoingMessage::new("y".repeat(MAX_BODY_BYTES + 1));
    assert!(matches!(
        f.queue.send_batch(vec![huge]).await,
        Err(QueueError::TooLarge { .. })
    ));
    assert!(
        f.queue
            .receive(10, SHORT, NO_WAIT)
            .await
            .unwrap()
            .is_empty(),
        "a refused batch sends nothing"
    );
    let ten = f
        .queue
        .send_batch(vec![OutgoingMessage::new("z"); MAX_BATCH])
        .await
        .unwrap();
    assert_eq!(ten.len(), MAX_BATCH);
}

pub async fn a_delayed_message_waits_for_its_delay(f: &QueueFixture) {
    f.queue
        .send_batch(vec![
            OutgoingMessage::new("later").delayed(Duration::from_secs(1)),
        ])
        .await
        .unwrap();
    assert!(
        f.queue.receive(1, SHORT, NO_WAIT).await.unwrap().is_empty(),
        "not visible before its delay"
    );
    let got = receive_within(
        f.queue.as_ref(),
        Duration::from_secs(30),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, "later");
}

pub async fn a_long_poll_returns_as_soon_as_a_message_arrives(f: &QueueFixture) {
    let queue = f.queue.clone();
    let poll = async move {
        queue
            .receive(1, Duration::from_secs(30), Duration::from_secs(10))
            .await
            .unwrap()
    };
    let send = async {
        // Give the poll a moment to start waiting on an empty queue.
        tokio::time::sleep(Duration::from_millis(50)).await;
        f.queue.send_batch(messages(&["wake"])).await.unwrap();
    };
    let started = Instant::now();
    let (got, ()) = tokio::join!(poll, send);
    assert_eq!(got.len(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "the poll returned on arrival, not at its wait limit"
    );
}

pub async fn a_message_received_too_often_moves_to_the_dead_letter_queue(f: &QueueFixture) {
    f.queue.send_batch(messages(&["poison"])).await.unwrap();
    for attempt in 1..=f.max_receives {
        let got = f
            .queue
            .receive(1, Duration::from_secs(60), SHORT)
            .await
            .unwrap();
        assert_eq!(got.len(), 1, "receive {attempt} of {}", f.max_receives);
        assert_eq!(got[0].receive_count, attempt);
        f.queue
            .change_visibility(&got[0].receipt, Duration::ZERO)
            .await
            .unwrap();
    }
    assert!(
        f.queue
            .receive(1, Duration::from_secs(60), SHORT)
            .await
            .unwrap()
            .is_empty(),
        "gone from the source queue"
    );
    let dead = f
        .dead_letters
        .receive(1, Duration::from_secs(60), SHORT)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "poison");
}

pub async fn receive_never_returns_more_than_asked(f: &QueueFixture) {
    f.queue
        .send_batch(messages(&["1", "2", "3", "4"]))
        .await
        .unwrap();
    let got = f
        .queue
        .receive(3, Duration::from_secs(60), SHORT)
        .await
        .unwrap();
    assert!(!got.is_empty() && got.len() <= 3);
}
