use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use skein_core::Principal;
use skein_core::cursor::{ListPage, PageRequest};
use skein_core::ids::{AgentId, LeaseId, TaskId};
use skein_core::tasks::{NewTask, Task, TaskCompletion, TaskFailure, TaskFilter, TaskStatus};
use tokio::time::Instant;

use super::MAX_WAIT;
use super::agents::agent_id;
use crate::extract::{Caller, JsonBody, QueryParams, parse_json};
use crate::problem::Problem;
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/tasks", post(create_task).get(list_tasks))
        .route("/v1/tasks/{id}", get(get_task))
        .route("/v1/tasks/{id}/heartbeat", post(task_heartbeat))
        .route("/v1/tasks/{id}/complete", post(complete_task))
        .route("/v1/tasks/{id}/fail", post(fail_task))
        .route("/v1/agents/{id}/tasks/claim", post(claim_task))
}

fn task_id(raw: &str) -> Result<TaskId, ApiError> {
    TaskId::parse(raw).map_err(|e| ApiError::bad_request(e.0))
}

/// Creates a task for an agent or a capability. With an `Idempotency-Key`, a repeat of the
/// same request returns the first task (200, `Idempotent-Replayed: true`).
#[utoipa::path(post, path = "/v1/tasks", tag = "tasks", request_body = NewTask,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries create the task once")),
    responses((status = 201, body = Task), (status = 200, description = "replayed", body = Task),
        (status = 413, description = "input over 256 KiB", body = Problem), (status = 422, description = "invalid fields", body = Problem)))]
async fn create_task(
    State(state): State<AppState>,
    Caller(caller): Caller,
    headers: HeaderMap,
    JsonBody(new): JsonBody<NewTask>,
) -> ApiResult<Response> {
    let created = state
        .platform
        .tasks
        .create(&caller, new, super::idempotency_key(&headers)?)
        .await?;
    let location = format!("/v1/tasks/{}", created.task.id);
    Ok(super::created_or_replayed(
        created.replayed,
        location,
        created.task,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListParams {
    status: Option<TaskStatus>,
    agent: Option<AgentId>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// Lists tasks, newest first; an agent sees only its own.
#[utoipa::path(get, path = "/v1/tasks", tag = "tasks", params(ListParams), responses((status = 200, body = ListPage<Task>)))]
async fn list_tasks(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(params): QueryParams<ListParams>,
) -> ApiResult<Json<ListPage<Task>>> {
    let filter = TaskFilter {
        status: params.status,
        agent: params.agent,
    };
    let page = PageRequest {
        limit: params.limit,
        cursor: params.cursor,
    };
    Ok(Json(
        state.platform.tasks.list(&caller, filter, &page).await?,
    ))
}

/// One task with its result or error.
#[utoipa::path(get, path = "/v1/tasks/{id}", tag = "tasks", params(("id" = TaskId, Path)),
    responses((status = 200, body = Task), (status = 404, description = "no such task", body = Problem)))]
async fn get_task(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Task>> {
    Ok(Json(
        state.platform.tasks.get(&caller, &task_id(&id)?).await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ClaimParams {
    /// Seconds to wait for a task when none is ready (0 to 20, default 20).
    #[param(minimum = 0, maximum = 20)]
    wait: Option<u64>,
}

/// Long poll: answers as soon as a task is claimable, or 204 after `wait` seconds.
#[utoipa::path(post, path = "/v1/agents/{id}/tasks/claim", tag = "tasks", params(("id" = AgentId, Path), ClaimParams),
    responses((status = 200, description = "a task under a new lease", body = Task), (status = 204, description = "nothing to do"),
        (status = 409, description = "the agent is paused", body = Problem)))]
async fn claim_task(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<ClaimParams>,
) -> ApiResult<Response> {
    let agent = agent_id(&id)?;
    let wait = Duration::from_secs(params.wait.unwrap_or(MAX_WAIT.as_secs()));
    if wait > MAX_WAIT {
        return Err(ApiError::bad_request(format!(
            "query parameter `wait`: at most {} seconds",
            MAX_WAIT.as_secs()
        )));
    }
    match claim_within(&state, &caller, &agent, wait).await? {
        Some(task) => Ok(Json(task).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

async fn claim_within(
    state: &AppState,
    caller: &Principal,
    agent: &AgentId,
    wait: Duration,
) -> ApiResult<Option<Task>> {
    let deadline = Instant::now() + wait;
    loop {
        let rang = state.bell.notified();
        tokio::pin!(rang);
        rang.as_mut().enable();
        if let Some(task) = state.platform.tasks.claim(caller, agent).await? {
            return Ok(Some(task));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        let _ = tokio::time::timeout(left.min(state.claim_recheck), rang).await;
    }
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct HeartbeatBody {
    lease_id: Option<LeaseId>,
}

/// Extends the caller's lease by the task's timeout (the body is optional).
#[utoipa::path(post, path = "/v1/tasks/{id}/heartbeat", tag = "tasks", params(("id" = TaskId, Path)), request_body(content = Option<HeartbeatBody>),
    responses((status = 200, body = Task), (status = 409, description = "not claimed, or a stale lease", body = Problem)))]
async fn task_heartbeat(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Task>> {
    // No body, `null` and `{}` all mean "whatever lease the caller holds".
    let body: HeartbeatBody = if body.is_empty() {
        HeartbeatBody::default()
    } else {
        parse_json::<Option<HeartbeatBody>>(&body)?.unwrap_or_default()
    };
    Ok(Json(
        state
            .platform
            .tasks
            .heartbeat(&caller, &task_id(&id)?, body.lease_id.as_ref())
            .await?,
    ))
}

/// Completes the caller's task with a result; repeating it answers the same.
#[utoipa::path(post, path = "/v1/tasks/{id}/complete", tag = "tasks", params(("id" = TaskId, Path)), request_body = TaskCompletion,
    responses((status = 200, body = Task), (status = 409, description = "not claimed, finished, or a stale lease", body = Problem)))]
async fn complete_task(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(completion): JsonBody<TaskCompletion>,
) -> ApiResult<Json<Task>> {
    let task = state
        .platform
        .tasks
        .complete(&caller, &task_id(&id)?, completion)
        .await?;
    Ok(Json(pass_on(&state, task).await))
}

/// Tells the run step a finished task belongs to. The task's write already stands, so a
/// failure here is not the caller's: the sweep tells the run once the report's grace
/// period passes.
async fn pass_on(state: &AppState, task: Task) -> Task {
    if let Err(error) = state.platform.runs.task_finished(&task).await {
        tracing::warn!(task = %task.id, %error, "the run was not told its task ended; the sweep will tell it");
    }
    task
}

/// Reports a failure; the task is retried while attempts remain unless `retryable` is false.
#[utoipa::path(post, path = "/v1/tasks/{id}/fail", tag = "tasks", params(("id" = TaskId, Path)), request_body = TaskFailure,
    responses((status = 200, body = Task), (status = 409, description = "not claimed or finished", body = Problem)))]
async fn fail_task(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(failure): JsonBody<TaskFailure>,
) -> ApiResult<Json<Task>> {
    let task = state
        .platform
        .tasks
        .fail(&caller, &task_id(&id)?, failure)
        .await?;
    Ok(Json(pass_on(&state, task).await))
}
