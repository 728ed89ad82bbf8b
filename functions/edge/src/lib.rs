//! The Cloudflare Worker in front of the platform (workers-rs). It verifies tokens and
//! enforces rate limits at the edge with skein-core's own code, serves live run events
//! from one Durable Object per run, holds each agent's WebSocket in one per agent, and
//! forwards everything else to the origin (the API
//! Gateway URL, or `skein dev`), which stays the source of truth.
//!
//! `make edge` builds it with worker-build; `functions/edge/wrangler.toml` deploys it.

mod agent_stream;
mod clock;
mod durable;
mod feed_log;
mod front_door;
mod rate_limits;
mod responses;
mod run_feed;
mod settings;

use std::cell::OnceCell;
use std::rc::Rc;

use worker::{Context, Env, Request, Response, Result, event};

pub use agent_stream::AgentStream;
pub use rate_limits::TenantLimits;
pub use run_feed::RunFeed;
use settings::EdgeSettings;

thread_local! {
    /// Read from the bindings on the isolate's first request, then kept: an isolate's
    /// bindings do not change while it lives.
    static SETTINGS: OnceCell<Rc<EdgeSettings>> = const { OnceCell::new() };
}

#[event(fetch)]
async fn fetch(request: Request, env: Env, _ctx: Context) -> Result<Response> {
    let settings = match settings_of(&env) {
        Ok(settings) => settings,
        Err(problem) => return responses::misconfigured(&problem),
    };
    front_door::serve(request, &env, &settings).await
}

fn settings_of(env: &Env) -> std::result::Result<Rc<EdgeSettings>, String> {
    SETTINGS.with(|cell| {
        if let Some(settings) = cell.get() {
            return Ok(settings.clone());
        }
        let settings = Rc::new(EdgeSettings::from_env(env).map_err(|e| e.to_string())?);
        Ok(cell.get_or_init(|| settings).clone())
    })
}

#[cfg(test)]
mod tests {
    /// wrangler.toml binds each Durable Object under the name the code looks it up by,
    /// to the class this crate exports, and migrates that class.
    #[test]
    fn wrangler_toml_binds_and_migrates_every_durable_object() {
        let config = include_str!("../wrangler.toml");
        for (binding, class) in [
            (crate::rate_limits::BINDING, "TenantLimits"),
            (crate::run_feed::BINDING, "RunFeed"),
            (crate::agent_stream::BINDING, "AgentStream"),
        ] {
            let bound = format!("name = \"{binding}\"\nclass_name = \"{class}\"");
            assert!(config.contains(&bound), "wrangler.toml lacks {bound}");
            let migrations = config.split("[[migrations]]").nth(1).unwrap_or_default();
            assert!(
                migrations.contains(&format!("\"{class}\"")),
                "no migration creates {class}"
            );
        }
        assert!(config.contains("main = \"build/index.js\""));
        assert!(config.contains(crate::settings::ORIGIN_VARIABLE));
    }
}
