//! The one bound on trying again. Every loop that retries a conflicting write or a
//! dependency that was briefly unavailable goes through here, so none can spin forever.
//!
//! The domain has no async runtime (it also builds for wasm32), so the helpers do not
//! sleep: a write race is retried at once (the next read sees the winner's write), and
//! an unavailable dependency is retried a few times in a row before the error goes up
//! to the host, which redelivers later (SQS, or `skein dev`'s step-worker).

use crate::error::{Error, Result};
use crate::ports::StoreError;

/// Tries of a read-modify-write that lost a race to another writer.
pub const MAX_RACES: u32 = 16;
/// Tries of a call whose dependency answered unavailable.
pub const MAX_UNAVAILABLE: u32 = 3;

/// What one try of a read-modify-write came to.
pub enum Try<T> {
    Done(T),
    /// Another writer changed the item first: read again and retry.
    Raced,
}

/// The tries a read-modify-write loop gets: `for _ in retry::races() { ... continue ... }`,
/// then [`lost_every_race`] once they are spent.
pub fn races() -> std::ops::Range<u32> {
    0..MAX_RACES
}

/// What a read-modify-write that lost every race answers: unavailable, so that the
/// caller (or the queue, redelivering) tries again a little later.
pub fn lost_every_race(what: &str) -> Error {
    Error::Unavailable(format!(
        "{what} kept changing under {MAX_RACES} tries; try again"
    ))
}

/// Runs `attempt` until it is done, at most [`MAX_RACES`] times; `what` names the item for
/// the error when every try lost its race.
pub async fn until_written<T, F, Fut>(what: &str, mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Try<T>>>,
{
    for _ in races() {
        if let Try::Done(value) = attempt().await? {
            return Ok(value);
        }
    }
    Err(lost_every_race(what))
}

/// A store write's outcome as a [`Try`]: a failed condition is a lost race.
pub fn raced<T>(outcome: std::result::Result<T, StoreError>) -> Result<Try<T>> {
    match outcome {
        Ok(value) => Ok(Try::Done(value)),
        Err(StoreError::ConditionFailed) => Ok(Try::Raced),
        Err(e) => Err(e.into()),
    }
}

/// Runs `call` again while it fails transiently, at most [`MAX_UNAVAILABLE`] times.
pub async fn while_unavailable<T, E, F, Fut>(mut call: F) -> std::result::Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, E>>,
    E: Transient,
{
    let mut tries = 1;
    loop {
        match call().await {
            Err(e) if e.is_transient() && tries < MAX_UNAVAILABLE => tries += 1,
            outcome => return outcome,
        }
    }
}

/// An error that may pass if the call is made again.
pub trait Transient {
    fn is_transient(&self) -> bool;
}

impl Transient for Error {
    fn is_transient(&self) -> bool {
        Error::is_transient(self)
    }
}

impl Transient for StoreError {
    fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl Transient for crate::ports::EngineError {
    fn is_transient(&self) -> bool {
        matches!(self, crate::ports::EngineError::Unavailable(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_race_that_never_ends_is_an_error_not_a_spin() {
        let mut tries = 0;
        let outcome: Result<()> = until_written("the item", || {
            tries += 1;
            async { Ok(Try::Raced) }
        })
        .await;
        assert!(matches!(outcome, Err(Error::Unavailable(_))));
        assert_eq!(tries, MAX_RACES);
    }

    #[tokio::test]
    async fn an_unavailable_dependency_is_tried_a_bounded_number_of_times() {
        let mut tries = 0;
        let outcome: std::result::Result<(), StoreError> = while_unavailable(|| {
            tries += 1;
            async { Err(StoreError::Unavailable("down".into())) }
        })
        .await;
        assert!(outcome.is_err());
        assert_eq!(tries, MAX_UNAVAILABLE);
        let mut tries = 0;
        let outcome: std::result::Result<(), StoreError> = while_unavailable(|| {
            tries += 1;
            async { Err(StoreError::Invalid("bad".into())) }
        })
        .await;
        assert!(outcome.is_err());
        assert_eq!(tries, 1, "a deterministic failure is not retried");
    }
}
