use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use skein_core::access::ClientSecret;
use skein_core::agents::{Agent, AgentFilter, AgentPatch, AgentStatus, NewAgent};
use skein_core::cursor::{ListPage, PageRequest};
use skein_core::ids::{AgentId, Capability};

use crate::extract::{Caller, JsonBody, QueryParams};
use crate::problem::Problem;
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/agents", post(register_agent).get(list_agents))
        .route(
            "/v1/agents/{id}",
            get(get_agent).patch(update_agent).delete(delete_agent),
        )
        .route("/v1/agents/{id}/heartbeat", post(agent_heartbeat))
        .route("/v1/agents/{id}/secret", post(rotate_agent_secret))
}

/// An agent as the API shows it: the record plus whether it heartbeated recently.
#[derive(Serialize, utoipa::ToSchema)]
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

/// What registration returns.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct RegisteredAgentView {
    agent: AgentView,
    credentials: skein_core::access::ClientSecret,
}

pub fn agent_id(raw: &str) -> Result<AgentId, ApiError> {
    AgentId::parse(raw).map_err(|e| ApiError::bad_request(e.0))
}

/// Registers an agent; its client credentials are in the response, shown only this once.
#[utoipa::path(post, path = "/v1/agents", tag = "agents", request_body = NewAgent,
    responses((status = 201, description = "registered", body = RegisteredAgentView),
        (status = 409, description = "the name is taken", body = Problem), (status = 422, description = "invalid fields", body = Problem)))]
async fn register_agent(
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

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListParams {
    capability: Option<Capability>,
    status: Option<AgentStatus>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// Lists the tenant's agents, oldest first.
#[utoipa::path(get, path = "/v1/agents", tag = "agents", params(ListParams),
    responses((status = 200, body = ListPage<AgentView>), (status = 400, description = "bad parameter or cursor", body = Problem)))]
async fn list_agents(
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

/// One agent (an agent may read itself).
#[utoipa::path(get, path = "/v1/agents/{id}", tag = "agents", params(("id" = AgentId, Path)),
    responses((status = 200, body = AgentView), (status = 404, description = "no such agent", body = Problem)))]
async fn get_agent(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<AgentView>> {
    let agent = state.platform.agents.get(&caller, &agent_id(&id)?).await?;
    Ok(Json(agent.into()))
}

/// Renames, re-describes, pauses or resumes an agent (admin).
#[utoipa::path(patch, path = "/v1/agents/{id}", tag = "agents", params(("id" = AgentId, Path)), request_body = AgentPatch,
    responses((status = 200, body = AgentView), (status = 409, description = "name taken or concurrent change", body = Problem)))]
async fn update_agent(
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

/// Deletes an agent and its credentials (admin).
#[utoipa::path(delete, path = "/v1/agents/{id}", tag = "agents", params(("id" = AgentId, Path)), responses((status = 204, description = "deleted")))]
async fn delete_agent(
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

/// The agent reports that it is alive.
#[utoipa::path(post, path = "/v1/agents/{id}/heartbeat", tag = "agents", params(("id" = AgentId, Path)), responses((status = 200, body = AgentView)))]
async fn agent_heartbeat(
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

/// Replaces the agent's secret (admin): the old secret and the agent's tokens stop
/// working at once. The new secret is shown only in this answer.
#[utoipa::path(post, path = "/v1/agents/{id}/secret", tag = "agents", params(("id" = AgentId, Path)),
    responses((status = 200, body = ClientSecret), (status = 404, description = "no such agent", body = Problem)))]
async fn rotate_agent_secret(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let secret = state
        .platform
        .access
        .rotate_agent_secret(&caller, &agent_id(&id)?)
        .await?;
    Ok(super::no_store(secret))
}
