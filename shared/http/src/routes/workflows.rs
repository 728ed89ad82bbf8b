use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use skein_core::cursor::{ListPage, PageRequest};
use skein_core::workflows::{WORKFLOW_SCHEMA, WorkflowSummary, WorkflowVersion, graph};

use crate::extract::{Caller, QueryParams};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/workflows", post(register_workflow).get(list_workflows))
        .route("/v1/workflows/{id}", get(get_workflow))
        .route("/v1/workflows/{id}/versions", get(list_versions))
        .route("/v1/workflows/{id}/versions/{version}", get(get_version))
        .route("/v1/workflows/{id}/versions/{version}/asl", get(get_asl))
        .route("/v1/workflows/{id}/graph", get(get_graph))
        .route("/v1/schemas/workflow.json", get(workflow_schema))
}

/// Registers a workflow from YAML or JSON. A new definition of an existing name becomes
/// its next version (201); an unchanged one returns the latest version (200).
#[utoipa::path(post, path = "/v1/workflows", tag = "workflows",
    request_body(content = String, description = "the workflow definition, YAML or JSON", content_type = "application/yaml"),
    responses((status = 201, body = WorkflowVersion), (status = 200, description = "unchanged: the latest version", body = WorkflowVersion),
        (status = 422, description = "invalid definition; every error names its step and field", body = Problem)))]
async fn register_workflow(
    State(state): State<AppState>,
    Caller(caller): Caller,
    body: Bytes,
) -> ApiResult<Response> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("the definition must be UTF-8 text (YAML or JSON)"))?;
    let registered = state.platform.workflows.register(&caller, text).await?;
    let version = registered.version;
    let location = format!(
        "/v1/workflows/{}/versions/{}",
        version.workflow, version.version
    );
    let status = if registered.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, [(header::LOCATION, location)], Json(version)).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListParams {
    limit: Option<u32>,
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/workflows", tag = "workflows", params(ListParams), responses((status = 200, body = ListPage<WorkflowSummary>)))]
async fn list_workflows(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(params): QueryParams<ListParams>,
) -> ApiResult<Json<ListPage<WorkflowSummary>>> {
    let page = PageRequest {
        limit: params.limit,
        cursor: params.cursor,
    };
    Ok(Json(state.platform.workflows.list(&caller, &page).await?))
}

#[utoipa::path(get, path = "/v1/workflows/{id}", tag = "workflows", params(("id" = String, Path, description = "the workflow's name")),
    responses((status = 200, body = WorkflowSummary), (status = 404, body = Problem)))]
async fn get_workflow(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<WorkflowSummary>> {
    Ok(Json(state.platform.workflows.get(&caller, &id).await?))
}

/// Every version, oldest first (definitions and ASL left out; fetch one version for them).
#[utoipa::path(get, path = "/v1/workflows/{id}/versions", tag = "workflows", params(("id" = String, Path)),
    responses((status = 200, body = Vec<WorkflowVersion>), (status = 404, body = Problem)))]
async fn list_versions(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<WorkflowVersion>>> {
    Ok(Json(state.platform.workflows.versions(&caller, &id).await?))
}

fn version_number(raw: &str) -> Result<Option<u32>, ApiError> {
    if raw == "latest" {
        return Ok(None);
    }
    raw.parse::<u32>()
        .ok()
        .filter(|v| *v > 0)
        .map(Some)
        .ok_or_else(|| ApiError::bad_request("a version is a number from 1, or `latest`"))
}

#[utoipa::path(get, path = "/v1/workflows/{id}/versions/{version}", tag = "workflows",
    params(("id" = String, Path), ("version" = String, Path, description = "a number, or `latest`")),
    responses((status = 200, body = WorkflowVersion), (status = 404, body = Problem)))]
async fn get_version(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((id, version)): Path<(String, String)>,
) -> ApiResult<Json<WorkflowVersion>> {
    Ok(Json(
        state
            .platform
            .workflows
            .version(&caller, &id, version_number(&version)?)
            .await?,
    ))
}

/// The Amazon States Language this version runs as, on AWS Step Functions and locally.
#[utoipa::path(get, path = "/v1/workflows/{id}/versions/{version}/asl", tag = "workflows",
    params(("id" = String, Path), ("version" = String, Path, description = "a number, or `latest`")),
    responses((status = 200, description = "ASL JSON", body = Object), (status = 404, body = Problem)))]
async fn get_asl(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((id, version)): Path<(String, String)>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(
        state
            .platform
            .workflows
            .version(&caller, &id, version_number(&version)?)
            .await?
            .asl,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct GraphParams {
    version: Option<u32>,
    /// `mermaid` (default), `dot`, or `json` (steps and edges, to draw).
    format: Option<String>,
}

/// The workflow's DAG as a Mermaid flowchart (Graphviz DOT with `format=dot`, steps and
/// edges as JSON with `format=json`).
#[utoipa::path(get, path = "/v1/workflows/{id}/graph", tag = "workflows", params(("id" = String, Path), GraphParams),
    responses((status = 200, description = "the picture, in the format asked for", content(
            (String = "text/vnd.mermaid"), (String = "text/vnd.graphviz"),
            (skein_core::workflows::graph::Drawing = "application/json"))),
        (status = 404, body = Problem)))]
async fn get_graph(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<GraphParams>,
) -> ApiResult<Response> {
    let version = state
        .platform
        .workflows
        .version(&caller, &id, params.version)
        .await?;
    let workflow = state.platform.workflows.validated(&version)?;
    let (text, content_type) = match params.format.as_deref() {
        None | Some("mermaid") => (graph::mermaid(&workflow), "text/vnd.mermaid; charset=utf-8"),
        Some("dot") => (graph::dot(&workflow), "text/vnd.graphviz; charset=utf-8"),
        Some("json") => return Ok(axum::Json(graph::drawing(&workflow)).into_response()),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "format `{other}` is unknown: use mermaid, dot or json"
            )));
        }
    };
    Ok(([(header::CONTENT_TYPE, content_type)], text).into_response())
}

/// The JSON Schema of workflow definitions, for editors.
#[utoipa::path(get, path = "/v1/schemas/workflow.json", tag = "workflows", security(()), responses((status = 200, description = "JSON Schema", body = Object, content_type = "application/schema+json")))]
async fn workflow_schema() -> Response {
    (
        [(header::CONTENT_TYPE, "application/schema+json")],
        WORKFLOW_SCHEMA,
    )
        .into_response()
}
