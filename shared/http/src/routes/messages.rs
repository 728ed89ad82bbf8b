//! Messages between agents: direct and broadcast sends, inboxes (long-poll reads that
//! lease, acknowledgements, replies), and the dead letters admins redrive.

use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use skein_core::cursor::{ListPage, PageRequest};
use skein_core::ids::{AgentId, MessageId};
use skein_core::messages::{DeadLetter, InboxPage, InboxRead, Message, NewBroadcast, NewMessage};

use super::MAX_WAIT;
use super::agents::agent_id;
use crate::extract::{Caller, JsonBody, QueryParams};
use crate::problem::Problem;
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/agents/{id}/messages", post(send_message))
        .route("/v1/messages/broadcast", post(broadcast_message))
        .route("/v1/agents/{id}/inbox", get(read_inbox))
        .route("/v1/agents/{id}/inbox/{message}/ack", post(ack_message))
        .route("/v1/agents/{id}/inbox/{message}/reply", post(reply_message))
        .route("/v1/dead-letters", get(list_dead_letters))
        .route(
            "/v1/dead-letters/{message}/redrive",
            post(redrive_dead_letter),
        )
}

fn message_id(raw: &str) -> Result<MessageId, ApiError> {
    MessageId::parse(raw).map_err(|e| ApiError::bad_request(e.0))
}

fn accepted(message: Message) -> Response {
    (StatusCode::ACCEPTED, Json(message)).into_response()
}

/// Queues a message for one agent; the router puts it in the agent's inbox.
#[utoipa::path(post, path = "/v1/agents/{id}/messages", tag = "messages", params(("id" = AgentId, Path)),
    request_body = NewMessage,
    responses((status = 202, description = "queued for delivery", body = Message),
        (status = 404, description = "no such agent", body = Problem),
        (status = 413, description = "payload over 64 KiB", body = Problem),
        (status = 422, description = "invalid fields", body = Problem)))]
async fn send_message(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(new): JsonBody<NewMessage>,
) -> ApiResult<Response> {
    let to = agent_id(&id)?;
    let message = state.platform.messages.send(&caller, &to, new).await?;
    Ok(accepted(message))
}

/// Queues one message for every active agent with the capability and all the tags.
#[utoipa::path(post, path = "/v1/messages/broadcast", tag = "messages", request_body = NewBroadcast,
    responses((status = 202, description = "queued for delivery", body = Message),
        (status = 413, description = "payload over 64 KiB", body = Problem)))]
async fn broadcast_message(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(new): JsonBody<NewBroadcast>,
) -> ApiResult<Response> {
    let message = state.platform.messages.broadcast(&caller, new).await?;
    Ok(accepted(message))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct InboxParams {
    /// Seconds to wait for a message when none is visible (0 to 20, default 0).
    #[param(minimum = 0, maximum = 20)]
    wait: Option<u64>,
    /// Seconds the returned messages stay hidden unless acknowledged (default 30).
    visibility: Option<u64>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// Visible messages, oldest first, each leased for `visibility` seconds: acknowledge
/// what you handled, the rest comes back. Long-polls up to `wait` seconds.
#[utoipa::path(get, path = "/v1/agents/{id}/inbox", tag = "messages", params(("id" = AgentId, Path), InboxParams),
    responses((status = 200, body = InboxPage), (status = 403, description = "another agent's inbox", body = Problem)))]
async fn read_inbox(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<InboxParams>,
) -> ApiResult<Json<InboxPage>> {
    let agent = agent_id(&id)?;
    let wait = Duration::from_secs(params.wait.unwrap_or(0));
    if wait > MAX_WAIT {
        return Err(ApiError::bad_request(format!(
            "query parameter `wait`: at most {} seconds",
            MAX_WAIT.as_secs()
        )));
    }
    let read = InboxRead {
        page: PageRequest {
            limit: params.limit,
            cursor: params.cursor,
        },
        visibility_seconds: params.visibility,
    };
    let deadline = Instant::now() + wait;
    loop {
        let room = state.bell.inbox_room(agent.as_str());
        let rang = room.notified();
        tokio::pin!(rang);
        rang.as_mut().enable();
        let page = state
            .platform
            .messages
            .read_inbox(&caller, &agent, &read)
            .await?;
        let left = deadline.saturating_duration_since(Instant::now());
        if !page.messages.is_empty() || left.is_zero() {
            return Ok(Json(page));
        }
        let _ = tokio::time::timeout(left.min(state.claim_recheck), rang).await;
    }
}

/// Removes a handled message from the inbox for good (acknowledging twice is fine).
#[utoipa::path(post, path = "/v1/agents/{id}/inbox/{message}/ack", tag = "messages",
    params(("id" = AgentId, Path), ("message" = MessageId, Path)),
    responses((status = 204, description = "acknowledged"), (status = 404, description = "not in this inbox", body = Problem)))]
async fn ack_message(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((id, message)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let agent = agent_id(&id)?;
    let message = message_id(&message)?;
    state
        .platform
        .messages
        .ack(&caller, &agent, &message)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replies to a message in the inbox: to its sender (an agent, or the workflow run that
/// waits for it), keeping its correlation id unless the body gives one.
#[utoipa::path(post, path = "/v1/agents/{id}/inbox/{message}/reply", tag = "messages",
    params(("id" = AgentId, Path), ("message" = MessageId, Path)), request_body = NewMessage,
    responses((status = 202, description = "queued for delivery", body = Message),
        (status = 404, description = "not in this inbox", body = Problem)))]
async fn reply_message(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((id, message)): Path<(String, String)>,
    JsonBody(new): JsonBody<NewMessage>,
) -> ApiResult<Response> {
    let agent = agent_id(&id)?;
    let original = message_id(&message)?;
    let reply = state
        .platform
        .messages
        .reply(&caller, &agent, &original, new)
        .await?;
    Ok(accepted(reply))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct PageParams {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// Messages the router gave up on (receiver gone, or delivery failed too often).
#[utoipa::path(get, path = "/v1/dead-letters", tag = "messages", params(PageParams),
    responses((status = 200, body = ListPage<DeadLetter>), (status = 403, description = "admins and operators only", body = Problem)))]
async fn list_dead_letters(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(params): QueryParams<PageParams>,
) -> ApiResult<Json<ListPage<DeadLetter>>> {
    let page = PageRequest {
        limit: params.limit,
        cursor: params.cursor,
    };
    Ok(Json(
        state.platform.messages.dead_letters(&caller, &page).await?,
    ))
}

/// Sends a dead letter again as its next attempt, and removes it from the list.
#[utoipa::path(post, path = "/v1/dead-letters/{message}/redrive", tag = "messages",
    params(("message" = MessageId, Path)),
    responses((status = 202, description = "queued again", body = Message), (status = 404, description = "no such dead letter", body = Problem)))]
async fn redrive_dead_letter(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(message): Path<String>,
) -> ApiResult<Response> {
    let id = message_id(&message)?;
    let message = state.platform.messages.redrive(&caller, &id).await?;
    Ok(accepted(message))
}
