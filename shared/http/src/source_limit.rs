//! Per-source limits on the routes anyone can call: requests without a bearer token, and
//! the token endpoint (each of its answers costs an argon2 hash). Keyed by the source
//! address the host put in the request (`ClientAddr`); kept in each process, since these
//! requests have no principal or tenant to share a store bucket with. `/v1/health` is
//! exempt: load balancers probe it, and it costs less than the limiter.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use skein_core::Error;
use skein_core::limits::Rate;

use crate::extract::ClientAddr;
use crate::problem::ApiError;

/// How often (in checks) buckets of sources that went quiet are dropped.
const PRUNE_EVERY: u64 = 4096;

pub struct SourceLimiter {
    buckets: DefaultKeyedRateLimiter<IpAddr>,
    checks: AtomicU64,
}

impl SourceLimiter {
    /// A limiter for `rate` (a full bucket allows a burst of `rate.count`), or None.
    pub fn new(rate: Option<Rate>) -> Option<Arc<SourceLimiter>> {
        let rate = rate?;
        let burst = NonZeroU32::new(rate.count)?;
        let period = std::time::Duration::from_secs(u64::from(rate.window_seconds)) / rate.count;
        let quota = Quota::with_period(period)?.allow_burst(burst);
        Some(Arc::new(SourceLimiter {
            buckets: DefaultKeyedRateLimiter::keyed(quota),
            checks: AtomicU64::new(0),
        }))
    }

    /// Ok, or the seconds until `source` may try again.
    fn check(&self, source: IpAddr) -> Result<(), u64> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.buckets.retain_recent();
        }
        self.buckets.check_key(&source).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

fn limited(request: &Request) -> bool {
    let path = request.uri().path();
    if path == "/v1/health" {
        return false;
    }
    path == "/v1/auth/token" || !request.headers().contains_key(header::AUTHORIZATION)
}

pub(crate) async fn limit_sources(
    State(limiter): State<Arc<SourceLimiter>>,
    request: Request,
    next: Next,
) -> Response {
    let source = request.extensions().get::<ClientAddr>().map(|c| c.0);
    if let Some(source) = source.filter(|_| limited(&request))
        && let Err(retry_after_seconds) = limiter.check(source)
    {
        skein_core::metrics::rate_limit_refused(skein_core::metrics::LimitScope::Source);
        let mut response = ApiError::Domain(Error::RateLimited {
            message: format!(
                "too many requests without a token from this address; retry in {retry_after_seconds} s"
            ),
            retry_after_seconds,
        })
        .into_response();
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(retry_after_seconds.max(1)),
        );
        return response;
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_gets_its_burst_then_waits_and_others_are_unaffected() {
        let limiter = SourceLimiter::new(Some(Rate {
            count: 3,
            window_seconds: 60,
        }))
        .unwrap();
        let (one, two): (IpAddr, IpAddr) = ("127.0.0.2".parse().unwrap(), "::1".parse().unwrap());
        for _ in 0..3 {
            assert!(limiter.check(one).is_ok());
        }
        let wait = limiter.check(one).unwrap_err();
        assert!((1..=20).contains(&wait), "{wait}");
        assert!(limiter.check(two).is_ok());
    }

    #[test]
    fn off_is_no_limiter() {
        assert!(SourceLimiter::new(None).is_none());
    }
}
