//! Budgets on a real store: holds taken at once by many calls never pass the budget.
//! Run by every item-store adapter (`item_store_contract!`), since the guarantee rests
//! on the store's conditional transactions.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};

use super::store::unique;
use crate::context::{Context, NoTaskEvents};
use crate::ids::{RunId, TenantId};
use crate::metrics::TokenCounts;
use crate::ports::{Clock, Entropy, ItemStore, UsageEstimate};
use crate::usage::{Budget, Prices, Purpose, Reserved, Usage};

struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("a valid instant")
    }
}

struct CountingEntropy(AtomicU64);

impl Entropy for CountingEntropy {
    fn fill(&self, buf: &mut [u8]) {
        let n = self.0.fetch_add(1, Ordering::SeqCst).to_le_bytes();
        for (i, byte) in buf.iter_mut().enumerate() {
            *byte = n[i % n.len()];
        }
    }
}

/// 25 calls of 100 tokens each hold against a 1,000-token run budget at once: exactly
/// ten are let through, and the counter shows exactly the budget.
pub async fn concurrent_budget_holds_never_pass_the_budget(store: Arc<dyn ItemStore>) {
    let ctx = Context::new(
        store,
        Arc::new(FixedClock),
        Arc::new(CountingEntropy(AtomicU64::new(1))),
        Arc::new(NoTaskEvents),
    );
    let usage = Usage::new(ctx, Arc::new(Prices::default()));
    let tenant = TenantId::parse(&unique("budget").to_lowercase().replace('_', "-"))
        .expect("a valid tenant id");
    let run = RunId::from_ulid(ulid::Ulid::from_parts(1_800_000_000_000, 42));
    let estimate = UsageEstimate {
        provider: "openai".into(),
        model: "gpt-4o-mini".into(),
        tokens: TokenCounts {
            input: 60,
            output: 40,
            cached: 0,
        },
    };
    let mut calls = Vec::new();
    for _ in 0..25 {
        let (usage, tenant, run, estimate) =
            (usage.clone(), tenant.clone(), run.clone(), estimate.clone());
        calls.push(tokio::spawn(async move {
            let purpose = Purpose {
                tenant: &tenant,
                workflow: Some("w"),
                run: Some(&run),
                run_budget: Some(Budget {
                    usd: None,
                    tokens: Some(1000),
                }),
                step: Some("s"),
                item: None,
                agent: "llm",
                task: None,
            };
            usage.reserve(&purpose, &estimate).await
        }));
    }
    let mut held = 0;
    let mut refused = 0;
    for call in calls {
        match call.await.expect("the call ran") {
            Ok(Reserved::Held(_)) => held += 1,
            Ok(Reserved::Refused { .. }) => refused += 1,
            Err(e) => panic!("a hold failed outright: {e}"),
        }
    }
    assert_eq!((held, refused), (10, 15), "exactly what fits is held");
    let (committed, _) = usage
        .committed(&crate::records::run_usage_key(&tenant, &run))
        .await
        .unwrap();
    assert_eq!(committed.tokens, 1000);
}
