//! Rate limits: a token bucket per principal and one per tenant, kept in the store and
//! taken from with a conditional write (DynamoDB's conditional update, a SQLite
//! transaction), so every API process shares them.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::ports::{Condition, Item, StoreError};
use crate::records::{from_item, rate_key, to_body};

/// `count` requests per `window_seconds`, refilled continuously; a full bucket allows a
/// burst of `count`. Written `100/s`, `600/m` or `10000/h`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub count: u32,
    pub window_seconds: u32,
}

impl Rate {
    fn per_second(&self) -> f64 {
        f64::from(self.count) / f64::from(self.window_seconds)
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let bad = || {
            format!(
                "`{text}` is not a rate: write requests per window, e.g. `100/s`, `600/m` or `10000/h`"
            )
        };
        let (count, window) = text.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let window_seconds = match window.trim() {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            _ => return Err(bad()),
        };
        if count == 0 {
            return Err(format!(
                "`{text}`: a rate allows at least 1 request per window"
            ));
        }
        Ok(Rate {
            count,
            window_seconds,
        })
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = match self.window_seconds {
            1 => "s",
            60 => "m",
            _ => "h",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

/// The configured limits; None is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RateLimits {
    pub principal: Option<Rate>,
    pub tenant: Option<Rate>,
    /// Requests without a token (and token requests) per source address, counted in
    /// each process rather than in the store: these are the routes anyone can call.
    pub source: Option<Rate>,
}

/// What the caller has left in its tightest bucket, for the RateLimit headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allowance {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the bucket is full again.
    pub reset_seconds: u64,
}

const MAX_TRIES: usize = 16;

#[derive(Clone)]
pub struct RateLimiter {
    ctx: Context,
    limits: RateLimits,
}

impl RateLimiter {
    pub fn new(ctx: Context, limits: RateLimits) -> Self {
        Self { ctx, limits }
    }

    pub fn limits(&self) -> RateLimits {
        self.limits
    }

    /// Takes one token from the caller's bucket and its tenant's. `RateLimited` (429)
    /// when either is empty; None when no limit is configured.
    pub async fn admit(&self, caller: &Principal) -> Result<Option<Allowance>> {
        let mut tightest: Option<Allowance> = None;
        let buckets = [
            (
                self.limits.principal,
                format!("principal#{}", caller.id),
                "you",
            ),
            (self.limits.tenant, "tenant".to_string(), "your tenant"),
        ];
        for (rate, bucket, who) in buckets {
            let Some(rate) = rate else { continue };
            let allowance = self.take(caller, &bucket, rate, who).await?;
            if tightest.is_none_or(|t| allowance.remaining < t.remaining) {
                tightest = Some(allowance);
            }
        }
        Ok(tightest)
    }

    async fn take(
        &self,
        caller: &Principal,
        bucket: &str,
        rate: Rate,
        who: &str,
    ) -> Result<Allowance> {
        let key = rate_key(&caller.tenant, bucket);
        for _ in 0..MAX_TRIES {
            let now = self.ctx.now();
            let (stored, version) = match self.ctx.store.get(&key).await? {
                Some(item) => {
                    let (stored, version) = from_item::<Bucket>(item)?;
                    (Some(stored), version)
                }
                None => (None, 0),
            };
            let (left, allowance) = Bucket::take(stored.as_ref(), rate, now, who)?;
            let mut item = Item::new(key.clone(), to_body(&left)?);
            // An idle bucket is full: let it expire rather than keep it.
            item.expires_at = Some(now.timestamp() + i64::from(rate.window_seconds) * 2 + 60);
            let condition = if version == 0 {
                Condition::NotExists
            } else {
                Condition::VersionIs(version)
            };
            match self.ctx.store.put(item, condition).await {
                Ok(_) => return Ok(allowance),
                Err(StoreError::ConditionFailed) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::RateLimited {
            message: format!("{who} sent too many requests at once; retry after 1 s"),
            retry_after_seconds: 1,
        })
    }
}

/// A token bucket as stored: the tokens left when it was last taken from, and when. The
/// store-backed [`RateLimiter`] and the edge Worker's Durable Object keep the same one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bucket {
    tokens: f64,
    at: DateTime<Utc>,
}

impl Bucket {
    /// Whether the bucket has refilled by `now`: a full bucket is what a missing one
    /// means, so it can be deleted.
    pub fn full_at(&self, rate: Rate, now: DateTime<Utc>) -> bool {
        let elapsed = (now - self.at).num_milliseconds().max(0) as f64 / 1000.0;
        self.tokens + elapsed * rate.per_second() >= f64::from(rate.count)
    }

    /// Takes one token at `now` from `stored` (a full bucket when None), refilled at
    /// `rate` since it was last taken from: the bucket to store and what is left, or
    /// `RateLimited` naming `who` and when to retry.
    pub fn take(
        stored: Option<&Bucket>,
        rate: Rate,
        now: DateTime<Utc>,
        who: &str,
    ) -> Result<(Bucket, Allowance)> {
        let capacity = f64::from(rate.count);
        let tokens = match stored {
            Some(stored) => {
                let elapsed = (now - stored.at).num_milliseconds().max(0) as f64 / 1000.0;
                (stored.tokens + elapsed * rate.per_second()).min(capacity)
            }
            None => capacity,
        };
        if tokens < 1.0 {
            let wait = ((1.0 - tokens) / rate.per_second()).ceil().max(1.0) as u64;
            return Err(Error::RateLimited {
                message: format!("{who} sent more than {rate} requests; retry after {wait} s"),
                retry_after_seconds: wait,
            });
        }
        let left = tokens - 1.0;
        let allowance = Allowance {
            limit: rate.count,
            remaining: left.floor() as u32,
            reset_seconds: ((capacity - left) / rate.per_second()).ceil() as u64,
        };
        Ok((
            Bucket {
                tokens: left,
                at: now,
            },
            allowance,
        ))
    }
}

impl Allowance {
    /// The `RateLimit-Limit`, `-Remaining`, `-Reset` and `-Policy` headers (draft IETF
    /// RateLimit header fields) for this allowance under `limits`.
    pub fn headers(&self, limits: &RateLimits) -> [(&'static str, String); 4] {
        let policies: Vec<String> = [("principal", limits.principal), ("tenant", limits.tenant)]
            .into_iter()
            .filter_map(|(name, rate)| {
                rate.map(|r| format!("{};w={};name=\"{name}\"", r.count, r.window_seconds))
            })
            .collect();
        [
            ("ratelimit-limit", self.limit.to_string()),
            ("ratelimit-remaining", self.remaining.to_string()),
            ("ratelimit-reset", self.reset_seconds.to_string()),
            ("ratelimit-policy", policies.join(", ")),
        ]
    }

    /// What a refused caller is told: nothing left until `retry_after_seconds`.
    pub fn refused(limits: &RateLimits, retry_after_seconds: u64) -> Self {
        Self {
            limit: limits.principal.or(limits.tenant).map_or(0, |r| r.count),
            remaining: 0,
            reset_seconds: retry_after_seconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_refills_to_full_and_is_then_as_good_as_none() {
        let rate: Rate = "2/s".parse().unwrap();
        let start = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let (once, _) = Bucket::take(None, rate, start, "you").unwrap();
        let (twice, _) = Bucket::take(Some(&once), rate, start, "you").unwrap();
        assert!(Bucket::take(Some(&twice), rate, start, "you").is_err());
        assert!(!twice.full_at(rate, start + chrono::Duration::milliseconds(999)));
        assert!(twice.full_at(rate, start + chrono::Duration::seconds(1)));
    }

    #[test]
    fn rates_parse_from_count_per_window_and_say_what_to_write_when_wrong() {
        assert_eq!(
            "100/s".parse::<Rate>(),
            Ok(Rate {
                count: 100,
                window_seconds: 1
            })
        );
        assert_eq!("600/m".parse::<Rate>().unwrap().to_string(), "600/m");
        assert!("100".parse::<Rate>().unwrap_err().contains("e.g. `100/s`"));
        assert!("0/s".parse::<Rate>().unwrap_err().contains("at least 1"));
        assert!("5/d".parse::<Rate>().is_err());
    }
}
