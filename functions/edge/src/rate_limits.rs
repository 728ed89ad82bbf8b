//! Rate limits at the edge: one Durable Object per tenant holds the tenant's bucket and
//! each of its principals' buckets, so a limit is one bucket across every isolate and
//! colo, as the origin's is one item in its store. The buckets are skein-core's
//! ([`Bucket::take`]): the same refill, the same refusals, the same headers.
//!
//! A request takes from the principal's bucket and then the tenant's; neither is written
//! unless both admit it. Storage operations hold the object's input gate, so the read and
//! the write of a bucket are never interleaved with another request's.

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

#[durable_object]
pub struct TenantLimits {
    state: State,
    limits: RateLimits,
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
        Self { state, limits }
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
            (self.limits.tenant, "tenant".to_string(), "your tenant"),
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
        Response::from_json(&Admission::Admitted(tightest))
    }
}
