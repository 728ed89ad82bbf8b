//! The usage ledger and budgets: a tenant's LLM usage over days, grouped by workflow,
//! agent or model, and its monthly budget. A run's own calls are at
//! `GET /v1/runs/{id}/usage` (`runs`).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Deserialize;
use skein_core::usage::{BudgetStatus, GroupBy, TenantBudget, UsageReport};

use crate::extract::{Caller, JsonBody, QueryParams};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/usage", get(usage_report))
        .route("/v1/usage/budget", get(get_budget).put(set_budget))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ReportParams {
    /// The first UTC day, `YYYY-MM-DD`; the first of `to`'s month when absent.
    from: Option<NaiveDate>,
    /// The last UTC day, inclusive; today when absent. At most 366 days after `from`.
    to: Option<NaiveDate>,
    #[serde(default)]
    group_by: GroupBy,
}

/// The tenant's LLM calls, tokens and cost over whole UTC days, grouped by workflow,
/// agent or model, most expensive first.
#[utoipa::path(get, path = "/v1/usage", tag = "usage", params(ReportParams),
    responses((status = 200, body = UsageReport), (status = 403, body = Problem)))]
async fn usage_report(
    State(state): State<AppState>,
    Caller(caller): Caller,
    QueryParams(params): QueryParams<ReportParams>,
) -> ApiResult<Json<UsageReport>> {
    Ok(Json(
        state
            .platform
            .usage
            .report(&caller, params.from, params.to, params.group_by)
            .await?,
    ))
}

/// The tenant's monthly budget, and what this month has committed against it.
#[utoipa::path(get, path = "/v1/usage/budget", tag = "usage",
    responses((status = 200, body = BudgetStatus), (status = 403, body = Problem)))]
async fn get_budget(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<BudgetStatus>> {
    Ok(Json(state.platform.usage.budget_status(&caller).await?))
}

/// Sets the tenant's monthly budget (admins); `{"monthly": null}` removes it. LLM calls
/// that would pass it fail their steps with `Skein.BudgetExceeded`.
#[utoipa::path(put, path = "/v1/usage/budget", tag = "usage", request_body = TenantBudget,
    responses((status = 200, body = BudgetStatus), (status = 403, body = Problem)))]
async fn set_budget(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(budget): JsonBody<TenantBudget>,
) -> ApiResult<Json<BudgetStatus>> {
    Ok(Json(
        state.platform.usage.set_budget(&caller, budget).await?,
    ))
}
