//! Agents over WebSocket: `GET /v1/agents/{id}/stream`. One Durable Object per agent
//! (named `tenant/agent`) holds the agent's socket and, while it is open, long-polls the
//! origin for the agent with the agent's own token: its inbox (`GET .../inbox?wait=`) and
//! task offers (`POST .../tasks/claim?wait=`). What arrives is pushed down the socket the
//! moment the origin answers; what the agent sends back (acknowledgements, results) is
//! relayed to the origin's own endpoints, whose answers come back on the socket. The
//! origin keeps every rule (leases, visibility, retries): the stream only saves the agent
//! from polling.
//!
//! Only the agent itself may open its stream (the front door checks the token's subject);
//! a newer stream of the same agent replaces the older one, so each offer has one taker.
//!
//! Down the socket, one JSON object per message:
//! `{"type": "message", "message": {...}}` (an inbox entry, leased for `VISIBILITY_SECONDS`),
//! `{"type": "task", "task": {...}}` (a task under a new lease),
//! `{"type": "result", "op": ..., "id": ..., "status": 200, "body": {...}}` (the origin's
//! answer to a command) and `{"type": "closing", "reason": ...}`.
//! Up the socket: `{"op": "ack", "id": "msg_..."}`, `{"op": "complete", "id": "tsk_...",
//! "body": <POST /v1/tasks/{id}/complete body>}`, `{"op": "fail", "id": "tsk_...", "body":
//! <POST /v1/tasks/{id}/fail body>}`, or `ping`.

use std::cell::RefCell;
use std::ops::Deref;
use std::rc::Rc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use skein_core::ids::{MessageId, TaskId};
use wasm_bindgen::{JsCast, JsValue};
use worker::worker_sys::DurableObjectState;
use worker::{
    Delay, DurableObject, Env, Fetch, Headers, Method, Request, RequestInit, Response, Result,
    State, Url, WebSocket, WebSocketIncomingMessage, WebSocketPair, durable_object,
};

use crate::settings::origin_url;

/// The Durable Object namespace binding (wrangler.toml).
pub const BINDING: &str = "AGENT_STREAMS";

/// How long one long poll waits at the origin.
const POLL_SECONDS: u32 = 20;
/// How long a message pushed down the socket stays leased before it comes back.
const VISIBILITY_SECONDS: u32 = 60;

/// Hands an agent's stream request to its object.
pub async fn open(env: &Env, tenant: &str, agent: &str, request: Request) -> Result<Response> {
    let stub = env
        .durable_object(BINDING)?
        .id_from_name(&format!("{tenant}/{agent}"))?
        .get_stub()?;
    stub.fetch_with_request(request).await
}

/// What a socket carries for its agent, kept with it through hibernation.
#[derive(Clone, Serialize, Deserialize)]
struct Attachment {
    agent: String,
    authorization: String,
}

/// A command from the agent.
#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum Command {
    Ack { id: String },
    Complete { id: String, body: Value },
    Fail { id: String, body: Value },
}

impl Command {
    /// The origin call it stands for: method, path and body. Ids are parsed first, so a
    /// command can only name a message or a task of this agent's, never another path.
    fn request(&self, agent: &str) -> std::result::Result<(&'static str, String, Value), String> {
        let bad = |e: skein_core::ids::IdError| e.0;
        Ok(match self {
            Command::Ack { id } => {
                let id = MessageId::parse(id).map_err(bad)?;
                (
                    "ack",
                    format!("/v1/agents/{agent}/inbox/{id}/ack"),
                    Value::Null,
                )
            }
            Command::Complete { id, body } => {
                let id = TaskId::parse(id).map_err(bad)?;
                ("complete", format!("/v1/tasks/{id}/complete"), body.clone())
            }
            Command::Fail { id, body } => {
                let id = TaskId::parse(id).map_err(bad)?;
                ("fail", format!("/v1/tasks/{id}/fail"), body.clone())
            }
        })
    }

    fn id(&self) -> &str {
        match self {
            Command::Ack { id } | Command::Complete { id, .. } | Command::Fail { id, .. } => id,
        }
    }
}

#[derive(Default)]
struct Polls {
    inbox: bool,
    tasks: bool,
}

#[durable_object]
pub struct AgentStream {
    state: State,
    origin: Option<Url>,
    polls: Rc<RefCell<Polls>>,
}

impl DurableObject for AgentStream {
    fn new(state: State, env: Env) -> Self {
        let origin = crate::durable::origin(&env);
        Self {
            state,
            origin,
            polls: Rc::default(),
        }
    }

    async fn fetch(&self, request: Request) -> Result<Response> {
        let Some(origin) = self.origin.clone() else {
            return crate::responses::misconfigured(
                "the agent stream has no valid SKEIN_ORIGIN_URL",
            );
        };
        let Some(agent) = agent_of(&request.path()) else {
            return Response::error("not an agent's stream", 404);
        };
        let authorization = request.headers().get("authorization")?.unwrap_or_default();
        // The origin admits the agent as it would any call: its token not revoked, the
        // agent not deleted.
        let admission = call_origin(
            &origin,
            Method::Get,
            &format!("/v1/agents/{agent}"),
            &authorization,
            None,
        )
        .await?;
        if admission.status_code() != 200 {
            return Ok(admission);
        }
        let pair = WebSocketPair::new()?;
        for older in self.state.get_websockets() {
            let _ = older.close(Some(4000), Some("replaced by a newer stream of this agent"));
        }
        self.state.accept_web_socket(&pair.server);
        pair.server.serialize_attachment(Attachment {
            agent: agent.clone(),
            authorization: authorization.clone(),
        })?;
        let poller = Poller {
            state: self.state.as_raw().deref().clone(),
            polls: self.polls.clone(),
            origin,
            agent,
            authorization,
        };
        poller.start();
        Response::from_websocket(pair.client)
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> Result<()> {
        let WebSocketIncomingMessage::String(text) = message else {
            return send(
                &ws,
                &json!({"type": "error", "detail": "send JSON text, not binary"}),
            );
        };
        if text == "ping" {
            return ws.send_with_str("pong");
        }
        let (Some(origin), Some(attachment)) =
            (&self.origin, ws.deserialize_attachment::<Attachment>()?)
        else {
            return Ok(());
        };
        let command: Command = match serde_json::from_str(&text) {
            Ok(command) => command,
            Err(e) => {
                return send(
                    &ws,
                    &json!({"type": "error", "detail": format!("not a command ({e}): send {{\"op\": \"ack\" | \"complete\" | \"fail\", \"id\": ..., \"body\": ...}}")}),
                );
            }
        };
        let (op, path, body) = match command.request(&attachment.agent) {
            Ok(request) => request,
            Err(detail) => return send(&ws, &json!({"type": "error", "detail": detail})),
        };
        let body = (!body.is_null()).then_some(body);
        let mut answer = call_origin(
            origin,
            Method::Post,
            &path,
            &attachment.authorization,
            body.as_ref(),
        )
        .await?;
        let status = answer.status_code();
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        send(
            &ws,
            &json!({"type": "result", "op": op, "id": command.id(), "status": status, "body": body}),
        )
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        code: usize,
        reason: String,
        _was_clean: bool,
    ) -> Result<()> {
        crate::durable::close_as_asked(&ws, code, reason);
        Ok(())
    }

    async fn websocket_error(&self, _ws: WebSocket, _error: worker::Error) -> Result<()> {
        Ok(())
    }
}

/// The two long polls of one agent, kept going while its socket is open.
#[derive(Clone)]
struct Poller {
    /// The object's state, to reach its socket from these tasks.
    state: worker::js_sys::Object,
    polls: Rc<RefCell<Polls>>,
    origin: Url,
    agent: String,
    authorization: String,
}

enum Feed {
    Inbox,
    Tasks,
}

impl Poller {
    fn start(&self) {
        let mut polls = self.polls.borrow_mut();
        if !polls.inbox {
            polls.inbox = true;
            worker::wasm_bindgen_futures::spawn_local(self.clone().run(Feed::Inbox));
        }
        if !polls.tasks {
            polls.tasks = true;
            worker::wasm_bindgen_futures::spawn_local(self.clone().run(Feed::Tasks));
        }
    }

    fn socket(&self) -> Option<WebSocket> {
        let state = State::from(self.state.clone().unchecked_into::<DurableObjectState>());
        state.get_websockets().into_iter().next()
    }

    async fn run(self, feed: Feed) {
        let mut failures: u32 = 0;
        while let Some(socket) = self.socket() {
            // The newest socket's token: a reconnect with a fresh token renews the polls.
            let authorization = socket
                .deserialize_attachment::<Attachment>()
                .ok()
                .flatten()
                .map_or_else(|| self.authorization.clone(), |a| a.authorization);
            let (method, path) = match feed {
                Feed::Inbox => (
                    Method::Get,
                    format!(
                        "/v1/agents/{}/inbox?wait={POLL_SECONDS}&visibility={VISIBILITY_SECONDS}",
                        self.agent
                    ),
                ),
                Feed::Tasks => (
                    Method::Post,
                    format!("/v1/agents/{}/tasks/claim?wait={POLL_SECONDS}", self.agent),
                ),
            };
            let answer = call_origin(&self.origin, method, &path, &authorization, None).await;
            match answer {
                Ok(mut answer) if answer.status_code() == 200 => {
                    failures = 0;
                    let body: Value = answer.json().await.unwrap_or(Value::Null);
                    let Some(socket) = self.socket() else { break };
                    match feed {
                        Feed::Inbox => {
                            for message in body["messages"].as_array().into_iter().flatten() {
                                let _ =
                                    send(&socket, &json!({"type": "message", "message": message}));
                            }
                        }
                        Feed::Tasks => {
                            let _ = send(&socket, &json!({"type": "task", "task": body}));
                        }
                    }
                }
                Ok(answer) if answer.status_code() == 204 => failures = 0,
                Ok(answer) if matches!(answer.status_code(), 401 | 403 | 404) => {
                    // The token expired or was revoked, or the agent is gone.
                    if let Some(socket) = self.socket() {
                        let _ = send(
                            &socket,
                            &json!({"type": "closing", "reason": "the origin refused this agent's token; reconnect with a new one"}),
                        );
                        let _ = socket.close(Some(4401), Some("token refused"));
                    }
                    break;
                }
                // Paused (409), throttled or down: back off and try again.
                Ok(_) | Err(_) => {
                    failures = failures.saturating_add(1);
                    let backoff = 250 * u64::from(failures.min(20));
                    Delay::from(Duration::from_millis(backoff)).await;
                }
            }
        }
        let mut polls = self.polls.borrow_mut();
        match feed {
            Feed::Inbox => polls.inbox = false,
            Feed::Tasks => polls.tasks = false,
        }
    }
}

fn send(ws: &WebSocket, value: &Value) -> Result<()> {
    ws.send_with_str(value.to_string())
}

async fn call_origin(
    origin: &Url,
    method: Method,
    path_and_query: &str,
    authorization: &str,
    body: Option<&Value>,
) -> Result<Response> {
    let (path, query) = match path_and_query.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path_and_query, None),
    };
    let url = origin_url(origin, path, query);
    let headers = Headers::new();
    headers.set("authorization", authorization)?;
    let mut init = RequestInit::new();
    if let Some(body) = body {
        headers.set("content-type", "application/json")?;
        init.with_body(Some(JsValue::from_str(&body.to_string())));
    }
    init.with_method(method).with_headers(headers);
    Fetch::Request(Request::new_with_init(url.as_str(), &init)?)
        .send()
        .await
}

/// The agent id in `/v1/agents/{id}/stream`.
pub fn agent_of(path: &str) -> Option<String> {
    let id = path.strip_prefix("/v1/agents/")?.strip_suffix("/stream")?;
    skein_core::ids::AgentId::parse(id)
        .ok()
        .map(|id| id.to_string())
}
