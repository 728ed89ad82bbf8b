use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use skein_core::agents::{Agent, AgentFilter, AgentPatch, AgentStatus, NewAgent};
use skein_core::cursor::{ListPage, PageRequest};
use skein_core::ids::{AgentId, Capability};

use crate::extract::{Caller, JsonBody, QueryParams};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/agents", post(register).get(list))
        .route("/v1/agents/{id}", get(fetch).patch(update).delete(remove))
        .route("/v1/agents/{id}/heartbeat", post(heartbeat))
}

/// An agent as the API shows it: the record plus whether it heartbeated recently.
#[derive(Serialize)]
pub struct AgentView {
    #[serde(flatten)]
    agent: Agent,
    online: bool,
}

impl From<Agent> for AgentView {
    fn from(agent: Agent) -> Self {
        let online = agent.is_online(Utc::now());
        Self { agent, online }
    }
}

pub fn agent_id(raw: &str) -> Result<AgentId, ApiError> {
    AgentId::parse(raw).map_err(|e| ApiError::bad_request(e.0))
}

async fn register(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(new): JsonBody<NewAgent>,
) -> ApiResult<impl IntoResponse> {
    let registered = state.platform.agents.register(&caller, new).await?;
    let location = format!("/v1/agents/{}", registered.agent.id);
    let body = serde_json::json!({
        "agent": AgentView::from(registered.agent),
        "credentials": registered.credentials,
    });
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    capability: Option<Capability>,
    status: Option<AgentStatus>,
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(params): QueryParams<ListParams>,
) -> ApiResult<Json<ListPage<AgentView>>> {
    let filter = AgentFilter {
        capability: params.capability,
        status: params.status,
    };
    let page = PageRequest {
        limit: params.limit,
        cursor: params.cursor,
    };
    let agents = state.platform.agents.list(&caller, &filter, &page).await?;
    Ok(Json(ListPage {
        items: agents.items.into_iter().map(AgentView::from).collect(),
        next_cursor: agents.next_cursor,
    }))
}

async fn fetch(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<AgentView>> {
    let agent = state.platform.agents.get(&caller, &agent_id(&id)?).await?;
    Ok(Json(agent.into()))
}

async fn update(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    JsonBody(patch): JsonBody<AgentPatch>,
) -> ApiResult<Json<AgentView>> {
    let agent = state
        .platform
        .agents
        .update(&caller, &agent_id(&id)?, patch)
        .await?;
    Ok(Json(agent.into()))
}

async fn remove(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .platform
        .agents
        .delete(&caller, &agent_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn heartbeat(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<AgentView>> {
    let agent = state
        .platform
        .agents
        .heartbeat(&caller, &agent_id(&id)?)
        .await?;
    Ok(Json(agent.into()))
}
