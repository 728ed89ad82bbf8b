//! `skein bench events`: how long a run's event takes from being written (its `at`) to
//! reaching a watcher of `GET /v1/runs/{id}/events`, against any URL that serves the API:
//! `skein dev` directly, the edge Worker in front of it, a function URL.
//!
//! Each run waits on an approval first, so the watcher is connected and live before the
//! measured steps happen; then three echo steps and the run's end are timed as they
//! arrive. The server and the watcher share this machine's clock.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::{Value, json};

use crate::sse::FrameReader;

const WORKFLOW: &str = "name: bench-events
steps:
  - { id: gate, type: approval }
  - { id: a, builtin: echo, input: { n: 1 }, depends_on: [gate] }
  - { id: b, builtin: echo, input: { n: 2 }, depends_on: [a] }
  - { id: c, builtin: echo, input: { n: 3 }, depends_on: [b] }
";

pub struct EventsBenchPlan {
    /// The API's base URL (the edge's, or the origin's).
    pub url: String,
    pub token: String,
    pub runs: usize,
}

#[derive(Debug, Serialize)]
pub struct EventsReport {
    pub url: String,
    pub runs: usize,
    /// Events timed (step ends and run ends, received live).
    pub events: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum EventsBenchError {
    #[error("{what}: {source}")]
    Http {
        what: &'static str,
        source: reqwest::Error,
    },
    #[error("{what} answered {status}: {body}")]
    Refused {
        what: &'static str,
        status: u16,
        body: String,
    },
    #[error("the event stream of run {run} ended before {waiting_for}")]
    StreamEnded { run: String, waiting_for: String },
}

struct Api {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Api {
    async fn send(
        &self,
        what: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, EventsBenchError> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|source| EventsBenchError::Http { what, source })?;
        if !response.status().is_success() {
            return Err(EventsBenchError::Refused {
                what,
                status: response.status().as_u16(),
                body: response.text().await.unwrap_or_default(),
            });
        }
        Ok(response)
    }

    fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url.trim_end_matches('/'))
    }
}

pub async fn run_events(
    plan: &EventsBenchPlan,
    progress: &dyn Fn(usize),
) -> Result<EventsReport, EventsBenchError> {
    let api = Api {
        http: reqwest::Client::new(),
        url: plan.url.clone(),
        token: plan.token.clone(),
    };
    api.send(
        "registering the workflow",
        api.http.post(api.at("/v1/workflows")).body(WORKFLOW),
    )
    .await?;
    let mut latencies = Histogram::<u64>::new(3).expect("3 significant figures is valid");
    for n in 0..plan.runs {
        progress(n);
        let started: Value = api
            .send(
                "starting a run",
                api.http
                    .post(api.at("/v1/workflows/bench-events/runs"))
                    .json(&json!({"input": {}})),
            )
            .await?
            .json()
            .await
            .map_err(|source| EventsBenchError::Http {
                what: "reading the started run",
                source,
            })?;
        let run = started["id"].as_str().unwrap_or_default().to_string();
        let mut stream = Frames {
            response: api
                .send(
                    "watching the run",
                    api.http.get(api.at(&format!("/v1/runs/{run}/events"))),
                )
                .await?,
            frames: FrameReader::default(),
            run: run.clone(),
        };
        stream.until("approval.requested").await?;
        api.send(
            "approving",
            api.http
                .post(api.at(&format!("/v1/runs/{run}/steps/gate/approve")))
                .json(&json!({})),
        )
        .await?;
        loop {
            let (kind, data) = stream.next().await?;
            let received = Utc::now();
            if kind == "step.succeeded" || kind == "run.succeeded" {
                let at: Option<DateTime<Utc>> = data["at"].as_str().and_then(|at| at.parse().ok());
                if let Some(at) = at {
                    let micros = (received - at).num_microseconds().unwrap_or(0).max(0);
                    let _ = latencies.record(micros as u64);
                }
            }
            if kind == "run.succeeded" {
                break;
            }
        }
    }
    let ms = |micros: u64| micros as f64 / 1000.0;
    Ok(EventsReport {
        url: plan.url.clone(),
        runs: plan.runs,
        events: latencies.len(),
        p50_ms: ms(latencies.value_at_quantile(0.5)),
        p99_ms: ms(latencies.value_at_quantile(0.99)),
        max_ms: ms(latencies.max()),
    })
}

/// Server-Sent Events frames from one response.
struct Frames {
    response: reqwest::Response,
    frames: FrameReader,
    run: String,
}

impl Frames {
    /// The next event's type and data.
    async fn next(&mut self) -> Result<(String, Value), EventsBenchError> {
        loop {
            if let Some(frame) = self.frames.next_frame() {
                if let Some(kind) = frame.event {
                    return Ok((
                        kind,
                        serde_json::from_str(&frame.data).unwrap_or(Value::Null),
                    ));
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(60), self.response.chunk()).await;
            match chunk {
                Ok(Ok(Some(bytes))) => self.frames.push(&bytes),
                _ => {
                    return Err(EventsBenchError::StreamEnded {
                        run: self.run.clone(),
                        waiting_for: "the run's end".into(),
                    });
                }
            }
        }
    }

    async fn until(&mut self, kind: &str) -> Result<(), EventsBenchError> {
        loop {
            match self.next().await {
                Ok((seen, _)) if seen == kind => return Ok(()),
                Ok(_) => continue,
                Err(EventsBenchError::StreamEnded { run, .. }) => {
                    return Err(EventsBenchError::StreamEnded {
                        run,
                        waiting_for: kind.to_string(),
                    });
                }
                Err(other) => return Err(other),
            }
        }
    }
}
