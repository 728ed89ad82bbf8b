//! Live run events at the edge: one Durable Object per run (named `tenant/run`) holds the
//! origin's event stream for that run and fans it out to every watcher, over Server-Sent
//! Events or a WebSocket (accepted with the hibernation API). However many watch, the
//! origin serves one event feed per run.
//!
//! **How events reach the object: it pulls.** While anyone watches a run that has not
//! ended, the object keeps one `GET /v1/runs/{id}/events` open to the origin, resuming
//! with `Last-Event-ID` after the last event it holds when that feed drops. The origin
//! stays the source of truth and needs no knowledge of the edge (a push would make every
//! event write on the origin call out to Cloudflare, and lose events the edge did not
//! acknowledge). Per event this costs the origin one SSE frame on one connection,
//! whatever the number of watchers, and the object one parse and one send per watcher;
//! the price is that the object stays awake (not hibernated) while a run it relays is
//! live, which is also what keeps its in-memory log.
//!
//! **Who may watch.** Each watcher is admitted by the origin itself: the object asks
//! `GET /v1/runs/{id}` with the watcher's own token and relays any refusal (401 for a
//! revoked token, 404 for another tenant's run) as the origin answered it. That is one
//! small read per watcher, not one feed per watcher.
//!
//! **No gap, no duplicate.** Events are kept in order ([`FeedLog`]); a watcher who comes
//! back with `Last-Event-ID` (SSE) or `?after=` (WebSocket) gets exactly the events after
//! that id, then the live ones. Replaying and joining the live fan-out happen with no
//! await between them, so no event can slip in between.

use std::cell::RefCell;
use std::ops::Deref;
use std::rc::Rc;
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_channel::mpsc::{UnboundedSender, unbounded};
use futures_util::StreamExt;
use futures_util::future::{Either, select};
use wasm_bindgen::JsCast;
use worker::worker_sys::DurableObjectState;
use worker::{
    Delay, DurableObject, Env, Fetch, Headers, Method, Request, RequestInit, Response, Result,
    State, Url, WebSocket, WebSocketIncomingMessage, WebSocketPair, durable_object,
};

use crate::feed_log::{FeedEvent, FeedLog};
use crate::responses::copy_headers;
use crate::settings::origin_url;

/// The Durable Object namespace binding (wrangler.toml).
pub const BINDING: &str = "RUN_FEEDS";

/// How long a feed may be silent before SSE watchers get a keep-alive comment (the
/// origin's own comments are not events, so they do not reach this relay).
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Consecutive failed attempts to (re)open the origin feed before watchers are let go.
const MAX_FEED_FAILURES: u32 = 5;

/// Hands a watcher's request to its run's object.
pub async fn watch(env: &Env, tenant: &str, run: &str, request: Request) -> Result<Response> {
    let stub = env
        .durable_object(BINDING)?
        .id_from_name(&format!("{tenant}/{run}"))?
        .get_stub()?;
    stub.fetch_with_request(request).await
}

#[derive(Default)]
struct Feed {
    log: FeedLog,
    /// Whether the origin feed is open (or being reopened).
    following: bool,
    /// The most recently admitted watcher's token: the feed is (re)opened with it.
    token: Option<String>,
    /// SSE watchers' streams; a closed one is dropped at the next send.
    sse: Vec<UnboundedSender<Vec<u8>>>,
}

#[durable_object]
pub struct RunFeed {
    state: State,
    origin: Option<Url>,
    feed: Rc<RefCell<Feed>>,
}

impl DurableObject for RunFeed {
    fn new(state: State, env: Env) -> Self {
        let origin = crate::durable::origin(&env);
        Self {
            state,
            origin,
            feed: Rc::default(),
        }
    }

    async fn fetch(&self, request: Request) -> Result<Response> {
        let Some(origin) = self.origin.clone() else {
            return crate::responses::misconfigured("the run feed has no valid SKEIN_ORIGIN_URL");
        };
        let url = request.url()?;
        let Some(run) = run_of(url.path()) else {
            return Response::error("not a run's events", 404);
        };
        let authorization = request.headers().get("authorization")?;
        let admission = origin_get(
            &origin,
            &format!("/v1/runs/{run}"),
            authorization.as_deref(),
            None,
        )
        .await?;
        if admission.status_code() != 200 {
            return Ok(admission);
        }
        let after = request.headers().get("last-event-id")?.or_else(|| {
            url.query_pairs()
                .find(|(name, _)| name == "after")
                .map(|(_, value)| value.into_owned())
        });
        self.feed.borrow_mut().token = authorization;
        let response = if crate::front_door::wants_websocket(&request)? {
            self.join_websocket(after.as_deref())?
        } else {
            self.join_sse(after.as_deref())?
        };
        self.follow(origin, run);
        Ok(response)
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> Result<()> {
        // Watchers only listen; a `ping` gets a `pong` so clients can check the line.
        if matches!(message, WebSocketIncomingMessage::String(ref text) if text == "ping") {
            ws.send_with_str("pong")?;
        }
        Ok(())
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

impl RunFeed {
    fn join_websocket(&self, after: Option<&str>) -> Result<Response> {
        let pair = WebSocketPair::new()?;
        self.state.accept_web_socket(&pair.server);
        let feed = self.feed.borrow();
        for event in feed.log.after(after) {
            pair.server.send_with_str(&event.data)?;
        }
        if feed.log.ended() {
            pair.server.close(Some(1000), Some("run ended"))?;
        }
        Response::from_websocket(pair.client)
    }

    fn join_sse(&self, after: Option<&str>) -> Result<Response> {
        let (sender, receiver) = unbounded::<Vec<u8>>();
        let mut feed = self.feed.borrow_mut();
        for event in feed.log.after(after) {
            let _ = sender.unbounded_send(event.sse_frame().into_bytes());
        }
        if !feed.log.ended() {
            feed.sse.push(sender);
        }
        let headers = Headers::new();
        headers.set("content-type", "text/event-stream")?;
        headers.set("cache-control", "no-cache")?;
        Ok(
            Response::from_stream(receiver.map(Ok::<Vec<u8>, worker::Error>))?
                .with_headers(headers),
        )
    }

    /// Opens the origin feed unless it is open or the run has ended.
    fn follow(&self, origin: Url, run: String) {
        {
            let mut feed = self.feed.borrow_mut();
            if feed.following || feed.log.ended() {
                return;
            }
            feed.following = true;
        }
        let relay = Relay {
            state: self.state.as_raw().deref().clone(),
            feed: self.feed.clone(),
            origin,
            run,
        };
        worker::wasm_bindgen_futures::spawn_local(relay.run());
    }
}

/// The origin feed of one run and the watchers it feeds.
struct Relay {
    /// The object's state, to reach its WebSockets from this task.
    state: worker::js_sys::Object,
    feed: Rc<RefCell<Feed>>,
    origin: Url,
    run: String,
}

impl Relay {
    async fn run(self) {
        let mut failures = 0;
        let outcome = loop {
            let (token, after) = {
                let feed = self.feed.borrow();
                (feed.token.clone(), feed.log.last_id().map(str::to_string))
            };
            let path = format!("/v1/runs/{}/events", self.run);
            match origin_get(&self.origin, &path, token.as_deref(), after.as_deref()).await {
                Ok(mut response) if response.status_code() == 200 => {
                    if let Ok(stream) = response.stream() {
                        let mut events = stream.eventsource();
                        loop {
                            // A quiet run (one waiting on a person) still sends a comment
                            // now and then, so no proxy on the way takes it for dead.
                            let quiet = Delay::from(KEEP_ALIVE);
                            let next = match select(events.next(), quiet).await {
                                Either::Left((next, _)) => next,
                                Either::Right(_) => {
                                    self.keep_alive();
                                    continue;
                                }
                            };
                            let Some(Ok(event)) = next else { break };
                            if event.id.is_empty() {
                                continue;
                            }
                            self.deliver(FeedEvent {
                                id: event.id,
                                kind: event.event,
                                data: event.data,
                            });
                            failures = 0;
                        }
                    }
                    if self.feed.borrow().log.ended() {
                        break "run ended";
                    }
                }
                // The origin refused the feed (the tokens expired or were revoked, the
                // run is gone): watchers reconnect, and are admitted afresh.
                Ok(_) => break "the origin refused the feed; reconnect",
                Err(e) => worker::console_warn!("run {} feed failed: {e}", self.run),
            }
            failures += 1;
            if failures >= MAX_FEED_FAILURES {
                break "the origin feed failed; reconnect";
            }
            Delay::from(Duration::from_millis(200 * u64::from(failures))).await;
        };
        self.release(outcome);
    }

    fn deliver(&self, event: FeedEvent) {
        let mut feed = self.feed.borrow_mut();
        let Some(event) = feed.log.push(event).cloned() else {
            return;
        };
        let frame = event.sse_frame().into_bytes();
        feed.sse
            .retain(|watcher| watcher.unbounded_send(frame.clone()).is_ok());
        for ws in
            State::from(self.state.clone().unchecked_into::<DurableObjectState>()).get_websockets()
        {
            let _ = ws.send_with_str(&event.data);
        }
    }

    /// An SSE comment to every SSE watcher; WebSockets have their own pings.
    fn keep_alive(&self) {
        self.feed
            .borrow_mut()
            .sse
            .retain(|watcher| watcher.unbounded_send(b": keep-alive\n\n".to_vec()).is_ok());
    }

    /// Lets every watcher go: the run ended, or the feed cannot go on.
    fn release(&self, reason: &str) {
        let mut feed = self.feed.borrow_mut();
        feed.following = false;
        feed.sse.clear();
        let code = if feed.log.ended() { 1000 } else { 1011 };
        for ws in
            State::from(self.state.clone().unchecked_into::<DurableObjectState>()).get_websockets()
        {
            let _ = ws.close(Some(code), Some(reason));
        }
    }
}

/// `GET` on the origin with the watcher's token, as the watcher would send it.
async fn origin_get(
    origin: &Url,
    path: &str,
    authorization: Option<&str>,
    last_event_id: Option<&str>,
) -> Result<Response> {
    let url = origin_url(origin, path, None);
    let headers = Headers::new();
    if let Some(authorization) = authorization {
        headers.set("authorization", authorization)?;
    }
    if let Some(id) = last_event_id {
        headers.set("last-event-id", id)?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Get).with_headers(headers);
    let response = Fetch::Request(Request::new_with_init(url.as_str(), &init)?)
        .send()
        .await?;
    // Relayed as the origin sent it, with headers a response made here may change.
    let headers = copy_headers(response.headers())?;
    Ok(response.with_headers(headers))
}

/// The run id in `/v1/runs/{id}/events`.
fn run_of(path: &str) -> Option<String> {
    let id = path.strip_prefix("/v1/runs/")?.strip_suffix("/events")?;
    (!id.is_empty() && !id.contains('/')).then(|| id.to_string())
}
