//! What the edge's Durable Objects share: the origin they call, and how a hibernatable
//! WebSocket is closed when its client closes it.

use worker::{Env, Url, WebSocket};

use crate::settings::ORIGIN_VARIABLE;

/// The origin's URL from the object's bindings; None when it is missing or not a URL
/// (the object then answers that the edge is misconfigured).
pub fn origin(env: &Env) -> Option<Url> {
    env.var(ORIGIN_VARIABLE)
        .ok()
        .and_then(|origin| Url::parse(&origin.to_string()).ok())
}

/// Completes the closing handshake the client began (the socket then leaves the
/// object's `get_websockets` by itself). 1005 and 1006 are not codes one may send.
pub fn close_as_asked(ws: &WebSocket, code: usize, reason: String) {
    let code = u16::try_from(code)
        .ok()
        .filter(|code| *code != 1005 && *code != 1006);
    let _ = ws.close(code.or(Some(1000)), Some(reason));
}
