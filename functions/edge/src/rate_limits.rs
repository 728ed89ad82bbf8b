//! Rate limits at the edge: one Durable Object per tenant holds the tenant's bucket and
//! each of its principals' buckets, so a limit is one bucket across every isolate and
//! colo, as the origin's is one item in its store. The buckets are skein-core's
//! ([`Bucket::take`]): the same refill, the same refusals, the same headers.
//!
//! A request takes from the principal's bucket and then the tenant's; neither is written
//! unless both admit it. Storage operations hold the object's input gate, so the read and
//! the write of a bucket are never interleaved with another request's. An hourly alarm
//! deletes the buckets that have refilled.

use std::cell::Cell;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use skein_core::Error;
use skein_core::auth::Principal;
use skein_core::limits::{Allowance, Bucket, RateLimits};
use skein_core::settings;
use wasm_bindgen::JsValue;
use worker::{
    DurableObject, Env, Method, Request, RequestInit, Response, Result, State, durable_object,
};

use crate::clock;

/// The Durable Object namespace binding (wrangler.toml).
pub const BINDING: &str = "TENANT_LIMITS";

/// The tenant's own bucket's key; each principal's is `principal#{id}`.
const TENANT_BUCKET: &str = "tenant";

#[derive(Serialize, Deserialize)]
struct AdmitRequest {
    principal: String,
}

/// What the tenant's object answers.
#[derive(Debug, Serialize, Deserialize)]
pub enum Admission {
    /// Admitted; what the tightest bucket has left (None when no limit is configured).
    Admitted(Option<Allowance>),
    Refused {
        message: String,
        retry_after_seconds: u64,
    },
}

/// Takes one token for `caller` from its tenant's object.
pub async fn admit(env: &Env, caller: &Principal) -> Result<Admission> {
    let stub = env
        .durable_object(BINDING)?
        .id_from_name(caller.tenant.as_str())?
        .get_stub()?;
    let body = serde_json::to_string(&AdmitRequest {
        principal: caller.id.to_string(),
    })?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(JsValue::from_str(&body)));
    let request = Request::new_with_init("https://tenant-limits/admit", &init)?;
    stub.fetch_with_request(request).await?.json().await
}

/// How often a tenant's object deletes the buckets that have refilled (an idle
/// principal's bucket is full, which is what no bucket means), so its storage grows with
/// the principals active in the last sweep, not with every principal ever seen.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

#[durable_object]
pub struct TenantLimits {
    state: State,
    limits: RateLimits,
    /// Whether this instance has made sure a sweep is scheduled.
    sweep_scheduled: Cell<bool>,
}

impl DurableObject for TenantLimits {
    fn new(state: State, env: Env) -> Self {
        let lookup = |name: &str| env.var(name).ok().map(|var| var.to_string());
        let limits = settings::rate_limits(&lookup).unwrap_or_else(|e| {
            // The Worker read the same variables before it called us, and refuses to
            // serve when they are bad: this cannot be reached with a working deployment.
            worker::console_error!("rate limits misconfigured: {e}");
            RateLimits::default()
        });
        Self {
            state,
            limits,
            sweep_scheduled: Cell::new(false),
        }
    }

    async fn fetch(&self, mut request: Request) -> Result<Response> {
        let AdmitRequest { principal } = request.json().await?;
        let now = clock::now();
        let storage = self.state.storage();
        let buckets = [
            (
                self.limits.principal,
                format!("principal#{principal}"),
                "you",
            ),
            (self.limits.tenant, TENANT_BUCKET.to_string(), "your tenant"),
        ];
        let mut taken = Vec::new();
        let mut tightest: Option<Allowance> = None;
        for (rate, key, who) in buckets {
            let Some(rate) = rate else { continue };
            let stored: Option<Bucket> = storage.get(&key).await?;
            match Bucket::take(stored.as_ref(), rate, now, who) {
                Ok((bucket, allowance)) => {
                    if tightest.is_none_or(|t| allowance.remaining < t.remaining) {
                        tightest = Some(allowance);
                    }
                    taken.push((key, bucket));
                }
                Err(Error::RateLimited {
                    message,
                    retry_after_seconds,
                }) => {
                    return Response::from_json(&Admission::Refused {
                        message,
                        retry_after_seconds,
                    });
                }
                Err(other) => return Err(worker::Error::RustError(other.to_string())),
            }
        }
        for (key, bucket) in taken {
            storage.put(&key, bucket).await?;
        }
        if !self.sweep_scheduled.get() {
            if storage.get_alarm().await?.is_none() {
                storage.set_alarm(SWEEP_EVERY).await?;
            }
            self.sweep_scheduled.set(true);
        }
        Response::from_json(&Admission::Admitted(tightest))
    }

    /// The sweep: deletes every bucket that has refilled, and comes back while any is left.
    async fn alarm(&self) -> Result<Response> {
        let storage = self.state.storage();
        let now = clock::now();
        let keys: Vec<String> = storage
            .list()
            .await?
            .keys()
            .into_iter()
            .filter_map(|key| key.ok()?.as_string())
            .collect();
        let mut left = 0;
        for key in keys {
            let rate = if key == TENANT_BUCKET {
                self.limits.tenant
            } else {
                self.limits.principal
            };
            let bucket: Option<Bucket> = storage.get(&key).await?;
            match (rate, bucket) {
                (Some(rate), Some(bucket)) if !bucket.full_at(rate, now) => left += 1,
                _ => {
                    storage.delete(&key).await?;
                }
            }
        }
        self.sweep_scheduled.set(left > 0);
        if left > 0 {
            storage.set_alarm(SWEEP_EVERY).await?;
        }
        Response::empty()
    }
}
