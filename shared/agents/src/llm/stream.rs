//! `stream: true`: the provider's events (Server-Sent Events, or AWS's event stream for
//! Bedrock) read as they come, the text handed
//! to the step's delta sink in coalesced pieces (a few per second, not one per token), and
//! the whole answer returned at the end as a non-streamed call would.

use std::time::{Duration, Instant};

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::Value;
use skein_core::metrics::TokenCounts;
use skein_core::ports::{AgentFailure, DeltaSink};
use skein_core::workflows::compile::StepErrorName;

use super::{Answer, Protocol};
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

/// How a provider frames its streamed events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// `text/event-stream`: OpenAI's and Anthropic's.
    ServerSentEvents,
    /// `application/vnd.amazon.eventstream`: binary frames, each with an `:event-type`
    /// header and a JSON payload (Bedrock's ConverseStream).
    AwsEventStream,
}

/// What a stream has said, and the pieces of text still to hand on.
struct Reader<'a, P> {
    said: Streamed,
    pieces: Coalescer,
    sink: &'a dyn DeltaSink,
    what: &'a str,
    protocol: std::marker::PhantomData<P>,
}

impl<P: Protocol> Reader<'_, P> {
    async fn event(&mut self, name: &str, data: &Value) -> Result<(), AgentFailure> {
        let text = P::stream_event(&mut self.said, name, data).map_err(|e| {
            AgentFailure::new(StepErrorName::AgentFailed, format!("{}: {e}", self.what))
        })?;
        if let Some(text) = text {
            self.said.text.push_str(&text);
            if let Some(piece) = self.pieces.push(&text) {
                self.sink.delta(&piece).await;
            }
        }
        Ok(())
    }

    fn broke(&self, why: impl std::fmt::Display) -> AgentFailure {
        AgentFailure::new(
            StepErrorName::AgentFailed,
            format!("{}'s stream broke: {why}", self.what),
        )
    }

    fn unreadable(&self, why: impl std::fmt::Display) -> AgentFailure {
        AgentFailure::new(
            StepErrorName::AgentFailed,
            format!("{} streamed something unreadable: {why}", self.what),
        )
    }

    async fn finish(self) -> Answer {
        if let Some(piece) = self.pieces.rest() {
            self.sink.delta(&piece).await;
        }
        self.said.into()
    }
}

/// Sends the streaming request once and reads its events to the end.
pub(super) async fn complete<P: Protocol>(
    request: reqwest::RequestBuilder,
    framing: Framing,
    sink: &dyn DeltaSink,
    what: &str,
) -> Result<Answer, AgentFailure> {
    let response = send_once(request, what).await?;
    let mut reader = Reader::<P> {
        said: Streamed::default(),
        pieces: Coalescer::new(),
        sink,
        what,
        protocol: std::marker::PhantomData,
    };
    match framing {
        Framing::ServerSentEvents => server_sent_events(response, &mut reader).await?,
        Framing::AwsEventStream => aws_event_stream(response, &mut reader).await?,
    }
    Ok(reader.finish().await)
}

async fn server_sent_events<P: Protocol>(
    response: reqwest::Response,
    reader: &mut Reader<'_, P>,
) -> Result<(), AgentFailure> {
    let mut events = response.bytes_stream().eventsource();
    while let Some(event) = events.next().await {
        let event = event.map_err(|e| reader.broke(e))?;
        if event.data == "[DONE]" {
            break;
        }
        let data: Value = serde_json::from_str(&event.data).map_err(|e| reader.unreadable(e))?;
        reader.event(&event.event, &data).await?;
    }
    Ok(())
}

/// AWS's event stream: length-prefixed, CRC-checked frames, decoded as they arrive by the
/// SDK's own decoder. An `exception` frame ends the call with the error it names.
async fn aws_event_stream<P: Protocol>(
    response: reqwest::Response,
    reader: &mut Reader<'_, P>,
) -> Result<(), AgentFailure> {
    use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
    let mut chunks = response.bytes_stream();
    let mut buffer = bytes::BytesMut::new();
    let mut decoder = MessageFrameDecoder::new();
    loop {
        let message = match decoder
            .decode_frame(&mut buffer)
            .map_err(|e| reader.unreadable(e))?
        {
            DecodedFrame::Complete(message) => message,
            DecodedFrame::Incomplete => match chunks.next().await {
                Some(chunk) => {
                    buffer.extend_from_slice(&chunk.map_err(|e| reader.broke(e))?);
                    continue;
                }
                None if buffer.is_empty() => return Ok(()),
                None => return Err(reader.broke("it ended within a frame")),
            },
        };
        let header = |name: &str| {
            message
                .headers()
                .iter()
                .find(|h| h.name().as_str() == name)
                .and_then(|h| h.value().as_string().ok())
                .map(|v| v.as_str().to_string())
        };
        let data: Value = if message.payload().is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(message.payload()).map_err(|e| reader.unreadable(e))?
        };
        match header(":message-type").as_deref() {
            Some("event") => {
                let name = header(":event-type").unwrap_or_default();
                reader.event(&name, &data).await?;
            }
            Some("exception") => {
                let kind = header(":exception-type").unwrap_or_default();
                return Err(stream_exception(&kind, &data, reader.what));
            }
            _ => {
                let kind = header(":error-code").unwrap_or_default();
                return Err(stream_exception(&kind, &data, reader.what));
            }
        }
    }
}

/// An error the provider sent in its stream: a request it will never accept fails for
/// good; throttling and its own faults are worth another try.
fn stream_exception(kind: &str, data: &Value, what: &str) -> AgentFailure {
    let message = data["message"].as_str().unwrap_or_default();
    let name = if kind == "validationException" {
        StepErrorName::NonRetryable
    } else {
        StepErrorName::AgentFailed
    };
    AgentFailure::new(
        name,
        format!("{what} stopped its stream: {kind}: {message}"),
    )
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
