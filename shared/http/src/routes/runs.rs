use std::convert::Infallible;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use skein_core::Principal;
use skein_core::cursor::{ListPage, PageRequest};
use skein_core::ids::RunId;
use skein_core::runs::{Approval, Run, RunEvent, RunFilter, RunStatus, RunView, StartRun};
use skein_core::usage::RunUsage;

use crate::extract::{Caller, JsonBody, QueryParams, parse_json};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/workflows/{id}/runs", post(start_run))
        .route("/v1/runs", get(list_runs))
        .route("/v1/runs/{id}", get(get_run))
        .route("/v1/runs/{id}/events", get(run_events))
        .route("/v1/runs/{id}/graph", get(run_graph))
        .route("/v1/runs/{id}/usage", get(run_usage))
        .route("/v1/runs/{id}/cancel", post(cancel_run))
        .route("/v1/approvals", get(list_approvals))
        .route("/v1/runs/{id}/steps/{step}/approve", post(approve_step))
        .route("/v1/runs/{id}/steps/{step}/reject", post(reject_step))
}

/// Only a run's live events: what `api-run-events` streams from its function URL, since
/// API Gateway's HTTP API buffers responses and cuts them at 29 s.
pub fn event_routes() -> Router<AppState> {
    Router::new().route("/v1/runs/{id}/events", get(run_events))
}

fn run_id(raw: &str) -> Result<RunId, ApiError> {
    RunId::parse(raw).map_err(|e| ApiError::bad_request(e.0))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct StartParams {
    /// Seconds to wait for the run to end (0 to 20, default 0): a run that ends in time
    /// is answered finished, with its output; one still running is answered 202.
    #[param(minimum = 0, maximum = 20)]
    wait: Option<u64>,
}

/// Starts a run of the workflow's latest (or given) version. With an `Idempotency-Key`,
/// a repeat of the same request returns the first run (200, `Idempotent-Replayed: true`).
/// With `?wait=N` it answers when the run ends, like Step Functions' StartSyncExecution,
/// or after N seconds with 202 and the running run.
#[utoipa::path(post, path = "/v1/workflows/{id}/runs", tag = "runs", request_body = StartRun,
    params(("id" = String, Path, description = "the workflow's name"), ("Idempotency-Key" = Option<String>, Header), StartParams),
    responses((status = 201, body = Run), (status = 200, description = "replayed", body = Run),
        (status = 202, description = "still running after `wait` seconds", body = Run), (status = 404, body = Problem),
        (status = 422, description = "the input fails the workflow's input_schema", body = Problem)))]
async fn start_run(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<StartParams>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<StartRun>,
) -> ApiResult<Response> {
    let wait = Duration::from_secs(params.wait.unwrap_or(0));
    if wait > super::MAX_WAIT {
        return Err(ApiError::bad_request(format!(
            "query parameter `wait`: use 0 to {} seconds",
            super::MAX_WAIT.as_secs()
        )));
    }
    let started = state
        .platform
        .runs
        .start(&caller, &id, request, super::idempotency_key(&headers)?)
        .await?;
    let location = format!("/v1/runs/{}", started.run.id);
    let mut run = started.run;
    if !wait.is_zero() {
        run = wait_for_end(&state, &caller, run, wait).await?;
        if !run.status.is_terminal() {
            let headers = [(header::LOCATION, location)];
            return Ok((StatusCode::ACCEPTED, headers, Json(run)).into_response());
        }
    }
    Ok(super::created_or_replayed(started.replayed, location, run))
}

/// How often a waiting start re-reads its run when nothing rang: another process (an
/// API Lambda, the step-worker) changes runs without ringing this process's bell.
const WAIT_RECHECK: Duration = Duration::from_millis(250);

/// The run once it ended, or as it is when `wait` is over.
async fn wait_for_end(
    state: &AppState,
    caller: &Principal,
    mut run: Run,
    wait: Duration,
) -> ApiResult<Run> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if run.status.is_terminal() {
            return Ok(run);
        }
        // Listen before reading, so an end between the read and the wait is not missed.
        let room = state.bell.end_room(run.id.as_str());
        let ended = room.notified();
        tokio::pin!(ended);
        ended.as_mut().enable();
        run = state.platform.runs.get(caller, &run.id).await?;
        if run.status.is_terminal() {
            return Ok(run);
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok(run);
        }
        let _woken_or_due = tokio::time::timeout((deadline - now).min(WAIT_RECHECK), ended).await;
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListParams {
    workflow: Option<String>,
    status: Option<RunStatus>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// Runs, newest first.
#[utoipa::path(get, path = "/v1/runs", tag = "runs", params(ListParams), responses((status = 200, body = ListPage<Run>)))]
async fn list_runs(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(params): QueryParams<ListParams>,
) -> ApiResult<Json<ListPage<Run>>> {
    let filter = RunFilter {
        workflow: params.workflow,
        status: params.status,
    };
    let page = PageRequest {
        limit: params.limit,
        cursor: params.cursor,
    };
    Ok(Json(
        state.platform.runs.list(&caller, filter, &page).await?,
    ))
}

/// A run with each step's status, attempts, timings, input and output or error.
#[utoipa::path(get, path = "/v1/runs/{id}", tag = "runs", params(("id" = RunId, Path)), responses((status = 200, body = RunView), (status = 404, body = Problem)))]
async fn get_run(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<RunView>> {
    Ok(Json(
        state.platform.runs.view(&caller, &run_id(&id)?).await?,
    ))
}

/// Every LLM call the run made (the `llm` builtin) or its agents reported, with totals
/// and the run's budget.
#[utoipa::path(get, path = "/v1/runs/{id}/usage", tag = "runs", params(("id" = RunId, Path)), responses((status = 200, body = RunUsage), (status = 404, body = Problem)))]
async fn run_usage(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<RunUsage>> {
    Ok(Json(
        state.platform.runs.usage(&caller, &run_id(&id)?).await?,
    ))
}

/// The run's DAG as a Mermaid flowchart, each step coloured by its status.
#[utoipa::path(get, path = "/v1/runs/{id}/graph", tag = "runs", params(("id" = RunId, Path)),
    responses((status = 200, description = "text/vnd.mermaid", body = String), (status = 404, body = Problem)))]
async fn run_graph(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let picture = state.platform.runs.graph(&caller, &run_id(&id)?).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/vnd.mermaid; charset=utf-8")],
        picture,
    )
        .into_response())
}

/// Asks the engine to stop the run; it ends as `cancelled`.
#[utoipa::path(post, path = "/v1/runs/{id}/cancel", tag = "runs", params(("id" = RunId, Path)),
    responses((status = 202, body = Run), (status = 409, description = "the run already ended", body = Problem)))]
async fn cancel_run(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Run>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(state.platform.runs.cancel(&caller, &run_id(&id)?).await?),
    ))
}

/// The run's events as Server-Sent Events: all so far, then live until the run ends.
/// Reconnect with `Last-Event-ID` to resume after the last event received.
#[utoipa::path(get, path = "/v1/runs/{id}/events", tag = "runs", params(("id" = RunId, Path), ("Last-Event-ID" = Option<String>, Header)),
    responses((status = 200, description = "text/event-stream of RunEvent", body = RunEvent), (status = 404, body = Problem)))]
async fn run_events(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = run_id(&id)?;
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // Fail before the stream starts if the run is unknown or not the caller's to see.
    state
        .platform
        .runs
        .events(&caller, &id, after.as_deref())
        .await?;
    let stream = event_stream(state, caller, id, after);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

fn event_stream(
    state: AppState,
    caller: Principal,
    id: RunId,
    mut after: Option<String>,
) -> impl futures_util::Stream<Item = Result<Event, Infallible>> {
    async_stream(move |emit| async move {
        loop {
            let room = state.bell.run_room(id.as_str());
            let changed = room.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let events = match state
                .platform
                .runs
                .events(&caller, &id, after.as_deref())
                .await
            {
                Ok(events) => events,
                Err(e) => {
                    tracing::warn!(error = %e, "event stream read failed");
                    return;
                }
            };
            let mut ended = false;
            for event in events {
                ended |= event.ends_run();
                after = Some(event.id.clone());
                let data = serde_json::to_string(&event).unwrap_or_default();
                if !emit(Event::default().id(event.id).event(event.kind).data(data)).await {
                    return;
                }
            }
            if ended {
                return;
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), changed).await;
        }
    })
}

/// A small stream built from an async producer, so the loop above reads top to bottom.
fn async_stream<F, Fut>(producer: F) -> impl futures_util::Stream<Item = Result<Event, Infallible>>
where
    F: FnOnce(
        Box<dyn Fn(Event) -> futures_util::future::BoxFuture<'static, bool> + Send + Sync>,
    ) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (sender, receiver) = tokio::sync::mpsc::channel::<Event>(64);
    let emit = Box::new(move |event: Event| {
        let sender = sender.clone();
        Box::pin(async move { sender.send(event).await.is_ok() })
            as futures_util::future::BoxFuture<'static, bool>
    });
    tokio::spawn(producer(emit));
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|event| (Ok(event), receiver))
    })
}

/// Approvals waiting for a decision that the caller may make.
#[utoipa::path(get, path = "/v1/approvals", tag = "runs", responses((status = 200, body = Vec<Approval>)))]
async fn list_approvals(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<Approval>>> {
    Ok(Json(state.platform.runs.pending_approvals(&caller).await?))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Decision {
    #[serde(default)]
    comment: Option<String>,
}

async fn decide(
    state: &AppState,
    caller: &Principal,
    id: &str,
    step: &str,
    body: &[u8],
    approve: bool,
) -> ApiResult<Json<Run>> {
    let comment = decision(body)?.comment;
    let run = state
        .platform
        .runs
        .decide(caller, &run_id(id)?, step, approve, comment)
        .await?;
    Ok(Json(run))
}

/// The body is optional: `{"comment": "..."}`.
fn decision(body: &[u8]) -> Result<Decision, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(Decision::default())
    } else {
        parse_json(body)
    }
}

#[utoipa::path(post, path = "/v1/runs/{id}/steps/{step}/approve", tag = "runs", request_body = Decision,
    params(("id" = RunId, Path), ("step" = String, Path)),
    responses((status = 200, body = Run), (status = 404, description = "no pending approval", body = Problem), (status = 409, body = Problem)))]
async fn approve_step(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((id, step)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Run>> {
    decide(&state, &caller, &id, &step, &body, true).await
}

#[utoipa::path(post, path = "/v1/runs/{id}/steps/{step}/reject", tag = "runs", request_body = Decision,
    params(("id" = RunId, Path), ("step" = String, Path)),
    responses((status = 200, body = Run), (status = 404, description = "no pending approval", body = Problem), (status = 409, body = Problem)))]
async fn reject_step(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((id, step)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Run>> {
    decide(&state, &caller, &id, &step, &body, false).await
}
