//! The front door: every request passes here. A bearer token is verified with skein-core's
//! own verifier (same algorithm, issuer, audience and claims as the origin) and a bad one
//! is refused with the origin's 401, so the origin never sees it; a good one takes from
//! its principal's and tenant's buckets; then the request goes on: to its run's feed, to
//! its agent's stream, or unchanged to the origin.
//!
//! Revocation (a deleted agent's or rotated client's tokens) needs the store, so the
//! origin still checks it on every request it serves, and the run feeds ask the origin
//! to admit each watcher.

use skein_core::Error;
use skein_core::auth::{Principal, bearer_token};
use skein_core::ids::{AgentId, RunId};
use skein_core::limits::Allowance;
use wasm_bindgen::JsValue;
use worker::{Env, Fetch, Method, Request, RequestInit, RequestRedirect, Response, Result};

use crate::agent_stream;
use crate::rate_limits::{self, Admission};
use crate::responses::{self, copy_headers, with_allowance};
use crate::run_feed;
use crate::settings::EdgeSettings;

/// Where a request goes once it is through the door.
enum Route {
    /// `GET /v1/runs/{id}/events`: its run's feed (SSE or WebSocket).
    RunEvents(RunId),
    /// `GET /v1/agents/{id}/stream`: the agent's WebSocket.
    AgentStream(AgentId),
    /// Everything else: the origin, unchanged.
    Origin,
}

impl Route {
    fn of(method: &Method, path: &str) -> Self {
        let run = path
            .strip_prefix("/v1/runs/")
            .and_then(|rest| rest.strip_suffix("/events"))
            .and_then(|id| RunId::parse(id).ok());
        let agent = path
            .strip_prefix("/v1/agents/")
            .and_then(|rest| rest.strip_suffix("/stream"))
            .and_then(|id| AgentId::parse(id).ok());
        match (run, agent) {
            (Some(run), _) if *method == Method::Get => Route::RunEvents(run),
            (_, Some(agent)) if *method == Method::Get => Route::AgentStream(agent),
            _ => Route::Origin,
        }
    }
}

pub async fn serve(request: Request, env: &Env, settings: &EdgeSettings) -> Result<Response> {
    let route = Route::of(&request.method(), &request.path());
    let authorization = request.headers().get("authorization")?;
    // A request to the origin without a bearer token goes on as it is: the token and
    // health routes are public (the token route takes HTTP Basic credentials too), and
    // the origin answers the rest with its own 401. A run's feed and an agent's stream
    // are served here, so they need a good token here.
    let has_bearer = authorization
        .as_deref()
        .is_some_and(|value| bearer_token(Some(value)).is_ok());
    let caller = match (&route, has_bearer) {
        (Route::Origin, false) => None,
        _ => match authenticate(settings, authorization.as_deref()) {
            Ok(principal) => Some(principal),
            Err(refusal) => return responses::problem(refusal),
        },
    };
    let allowance = match &caller {
        Some(caller) if settings.limits.principal.is_some() || settings.limits.tenant.is_some() => {
            match rate_limits::admit(env, caller).await {
                Ok(Admission::Admitted(allowance)) => allowance,
                Ok(Admission::Refused {
                    message,
                    retry_after_seconds,
                }) => {
                    let refused = Allowance::refused(&settings.limits, retry_after_seconds);
                    let response = responses::problem(Error::RateLimited {
                        message,
                        retry_after_seconds,
                    })?;
                    return with_allowance(response, &refused, &settings.limits);
                }
                // Fail closed, as the origin's limiter does.
                Err(e) => {
                    worker::console_error!("rate limiter unavailable: {e}");
                    return responses::problem(Error::Unavailable(e.to_string()));
                }
            }
        }
        _ => None,
    };
    let response = match (route, &caller) {
        (Route::RunEvents(run), Some(caller)) => {
            run_feed::watch(env, caller.tenant.as_str(), run.as_str(), request).await?
        }
        (Route::AgentStream(agent), Some(caller)) => {
            if let Err(refusal) = caller.require_agent(&agent, "open its stream") {
                return responses::problem(refusal);
            }
            if !wants_websocket(&request)? {
                return responses::problem(Error::invalid(
                    "Upgrade",
                    "an agent's stream is a WebSocket: send `Upgrade: websocket`",
                ));
            }
            agent_stream::open(env, caller.tenant.as_str(), agent.as_str(), request).await?
        }
        _ => to_origin(settings, request).await?,
    };
    match allowance {
        Some(allowance) if response.status_code() != 101 => {
            with_allowance(response, &allowance, &settings.limits)
        }
        _ => Ok(response),
    }
}

/// Whether the request asks to become a WebSocket.
pub fn wants_websocket(request: &Request) -> Result<bool> {
    Ok(request
        .headers()
        .get("upgrade")?
        .is_some_and(|upgrade| upgrade.eq_ignore_ascii_case("websocket")))
}

fn authenticate(settings: &EdgeSettings, authorization: Option<&str>) -> Result<Principal, Error> {
    let token = bearer_token(authorization)?;
    settings
        .tokens
        .verify(token)
        .map_err(|e| Error::Unauthenticated(e.to_string()))
}

/// The request, unchanged but for its host, to the origin; the answer as it comes
/// (status, headers, a streaming body, the origin's request id).
async fn to_origin(settings: &EdgeSettings, request: Request) -> Result<Response> {
    let url = request.url()?;
    let target = settings.origin_url(url.path(), url.query());
    let headers = copy_headers(request.headers())?;
    headers.delete("host")?;
    let method = request.method();
    let mut init = RequestInit::new();
    init.with_method(method.clone())
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual);
    if !matches!(method, Method::Get | Method::Head) {
        init.with_body(request.inner().body().map(JsValue::from));
    }
    match Fetch::Request(Request::new_with_init(target.as_str(), &init)?)
        .send()
        .await
    {
        Ok(response) => Ok(response),
        Err(e) => {
            worker::console_error!("origin unreachable: {e}");
            responses::problem(Error::Unavailable(e.to_string()))
        }
    }
}
