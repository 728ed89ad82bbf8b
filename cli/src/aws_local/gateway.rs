//! The HTTP API's part on the local cloud: one address that sends each route to the
//! function that serves it (through `cargo lambda watch`'s function URLs), as API
//! Gateway's routes do, so the `skein` CLI and any client work against the local cloud
//! with `SKEIN_URL` pointed here. Which function serves a route is read from the OpenAPI
//! document's tags (`tests/deploy_consistency.rs` checks it against the functions'
//! own routers).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use skein_http::ApiGroup;

/// The function of each API group, as the deployment names them.
pub fn function_of(group: ApiGroup) -> &'static str {
    match group {
        ApiGroup::Agents => "api-agents",
        ApiGroup::Tasks => "api-tasks",
        ApiGroup::Workflows => "api-workflows",
        ApiGroup::Runs => "api-runs",
        ApiGroup::Messages => "api-messages",
    }
}

/// The group an OpenAPI tag belongs to.
fn group_of_tag(tag: &str) -> Option<ApiGroup> {
    match tag {
        "agents" | "auth" | "system" => Some(ApiGroup::Agents),
        "tasks" => Some(ApiGroup::Tasks),
        "workflows" => Some(ApiGroup::Workflows),
        "runs" | "usage" => Some(ApiGroup::Runs),
        "messages" => Some(ApiGroup::Messages),
        _ => None,
    }
}

/// Method and path template of each operation, with the group serving it.
#[derive(Debug, Clone)]
pub struct RouteTable {
    routes: Vec<(Method, Vec<String>, ApiGroup)>,
}

impl RouteTable {
    pub fn from_openapi() -> Self {
        let document = serde_json::to_value(skein_http::openapi_document()).unwrap_or_default();
        let mut routes = vec![(Method::GET, segments("/v1/openapi.json"), ApiGroup::Agents)];
        for (path, item) in document["paths"].as_object().into_iter().flatten() {
            for (method, operation) in item.as_object().into_iter().flatten() {
                let (Ok(method), Some(group)) = (
                    method.to_uppercase().parse::<Method>(),
                    operation["tags"][0].as_str().and_then(group_of_tag),
                ) else {
                    continue;
                };
                routes.push((method, segments(path), group));
            }
        }
        Self { routes }
    }

    /// The group serving `method path`, if any route matches (`{x}` matches a segment).
    pub fn group(&self, method: &Method, path: &str) -> Option<ApiGroup> {
        let asked = segments(path);
        self.routes
            .iter()
            .find(|(m, template, _)| {
                m == method
                    && template.len() == asked.len()
                    && template
                        .iter()
                        .zip(&asked)
                        .all(|(t, a)| t.starts_with('{') || t == a)
            })
            .map(|(_, _, group)| *group)
    }
}

fn segments(path: &str) -> Vec<String> {
    path.trim_matches('/')
        .split('/')
        .map(str::to_string)
        .collect()
}

#[derive(Clone)]
pub struct Gateway {
    pub routes: RouteTable,
    pub functions_url: String,
    pub http: reqwest::Client,
}

pub fn router(gateway: Gateway) -> axum::Router {
    axum::Router::new().fallback(forward).with_state(gateway)
}

fn problem(status: StatusCode, detail: String) -> Response {
    let body = json!({ "type": "about:blank", "title": status.canonical_reason(), "status": status.as_u16(), "detail": detail });
    (
        status,
        [("content-type", "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

async fn forward(
    State(gateway): State<Gateway>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(group) = gateway.routes.group(&method, uri.path()) else {
        return problem(
            StatusCode::NOT_FOUND,
            format!("no route for {method} {}", uri.path()),
        );
    };
    let function = function_of(group);
    let target = format!(
        "{}/lambda-url/{function}{}",
        gateway.functions_url.trim_end_matches('/'),
        uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut request = gateway.http.request(method, &target).body(body);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    let answer = match request.send().await {
        Ok(answer) => answer,
        Err(e) => {
            return problem(
                StatusCode::BAD_GATEWAY,
                format!("{function} did not answer (is `cargo lambda watch` running?): {e}"),
            );
        }
    };
    let status = answer.status();
    let mut response = Response::builder().status(status);
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            response = response.header(name, value);
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    response
        .body(Body::from(bytes))
        .unwrap_or_else(|e| problem(StatusCode::BAD_GATEWAY, e.to_string()))
}

/// What the gateway says a route goes to, for `skein aws local`'s summary.
pub fn describe(routes: &RouteTable) -> Value {
    let mut by_function: std::collections::BTreeMap<&str, usize> = Default::default();
    for (_, _, group) in &routes.routes {
        *by_function.entry(function_of(*group)).or_default() += 1;
    }
    json!(by_function)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_go_to_the_function_of_their_group() {
        let routes = RouteTable::from_openapi();
        let cases = [
            (Method::GET, "/v1/health", ApiGroup::Agents),
            (Method::POST, "/v1/auth/token", ApiGroup::Agents),
            (Method::GET, "/v1/agents/agt_1/inbox", ApiGroup::Messages),
            (
                Method::POST,
                "/v1/agents/agt_1/tasks/claim",
                ApiGroup::Tasks,
            ),
            (Method::POST, "/v1/workflows/diamond/runs", ApiGroup::Runs),
            (Method::GET, "/v1/workflows/diamond", ApiGroup::Workflows),
            (Method::GET, "/v1/openapi.json", ApiGroup::Agents),
        ];
        for (method, path, group) in cases {
            assert_eq!(routes.group(&method, path), Some(group), "{method} {path}");
        }
        assert_eq!(routes.group(&Method::GET, "/v1/nothing"), None);
        assert_eq!(routes.group(&Method::PUT, "/v1/health"), None);
    }
}
