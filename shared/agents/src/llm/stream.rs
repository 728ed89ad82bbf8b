//! `stream: true`: the provider's Server-Sent Events read as they come, the text handed
//! to the step's delta sink in coalesced pieces (a few per second, not one per token), and
//! the whole answer returned at the end as a non-streamed call would.

use std::time::{Duration, Instant};

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::Value;
use skein_core::metrics::TokenCounts;
use skein_core::ports::{AgentFailure, DeltaSink};
use skein_core::workflows::compile::StepErrorName;

use super::{Answer, Prompt, Protocol};
use crate::config::LlmSettings;
use crate::http::send_once;

/// A piece is handed on once it is this long...
const FLUSH_BYTES: usize = 400;
/// ...or this old.
const FLUSH_AFTER: Duration = Duration::from_millis(250);

/// What a stream has said so far.
#[derive(Debug, Default)]
pub(super) struct Streamed {
    pub text: String,
    pub model: Option<String>,
    pub usage: Option<Value>,
    pub tokens: TokenCounts,
    pub finish_reason: Option<String>,
}

impl From<Streamed> for Answer {
    fn from(s: Streamed) -> Answer {
        Answer {
            text: s.text,
            model: s.model,
            usage: s.usage,
            tokens: s.tokens,
            finish_reason: s.finish_reason,
        }
    }
}

/// Text waiting to be handed on.
struct Coalescer {
    pending: String,
    since: Instant,
}

impl Coalescer {
    fn new() -> Self {
        Self {
            pending: String::new(),
            since: Instant::now(),
        }
    }

    /// The piece to hand on now, if it is due.
    fn push(&mut self, text: &str) -> Option<String> {
        if self.pending.is_empty() {
            self.since = Instant::now();
        }
        self.pending.push_str(text);
        let due = self.pending.len() >= FLUSH_BYTES || self.since.elapsed() >= FLUSH_AFTER;
        due.then(|| std::mem::take(&mut self.pending))
    }

    fn rest(self) -> Option<String> {
        (!self.pending.is_empty()).then_some(self.pending)
    }
}

/// Sends the streaming request once and reads its events to the end.
pub(super) async fn complete<P: Protocol>(
    client: &reqwest::Client,
    api: &LlmSettings,
    prompt: &Prompt,
    sink: &dyn DeltaSink,
    what: &str,
) -> Result<Answer, AgentFailure> {
    let response = send_once(P::request(client, api, prompt), what).await?;
    let mut events = response.bytes_stream().eventsource();
    let mut said = Streamed::default();
    let mut pieces = Coalescer::new();
    while let Some(event) = events.next().await {
        let event = event.map_err(|e| {
            AgentFailure::new(
                StepErrorName::AgentFailed,
                format!("{what}'s stream broke: {e}"),
            )
        })?;
        if event.data == "[DONE]" {
            break;
        }
        let data: Value = serde_json::from_str(&event.data).map_err(|e| {
            AgentFailure::new(
                StepErrorName::AgentFailed,
                format!("{what} streamed something unreadable: {e}"),
            )
        })?;
        let text = P::stream_event(&mut said, &event.event, &data)
            .map_err(|e| AgentFailure::new(StepErrorName::AgentFailed, format!("{what}: {e}")))?;
        if let Some(text) = text {
            said.text.push_str(&text);
            if let Some(piece) = pieces.push(&text) {
                sink.delta(&piece).await;
            }
        }
    }
    if let Some(piece) = pieces.rest() {
        sink.delta(&piece).await;
    }
    Ok(said.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_are_handed_on_when_long_enough_and_the_rest_at_the_end() {
        let mut pieces = Coalescer::new();
        assert_eq!(pieces.push("Hello"), None);
        let long = "x".repeat(FLUSH_BYTES);
        assert_eq!(pieces.push(&long), Some(format!("Hello{long}")));
        assert_eq!(pieces.push(" world"), None);
        assert_eq!(pieces.rest().as_deref(), Some(" world"));
    }
}
