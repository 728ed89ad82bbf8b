//! Holding a call's most against its budgets before it runs, and the tenant's monthly
//! budget itself.

use serde::Deserialize;

use super::model::{Budget, BudgetStatus, Spend, TenantBudget, micros_to_usd};
use super::{Purpose, Usage, month_of};
use crate::auth::{Action, Principal};
use crate::error::{Error, FieldErrors, Result};
use crate::ports::{Change, Condition, Key, StoreError, UsageEstimate, WriteOp};
use crate::records::{from_item, month_usage_key, run_usage_key, tenant_budget_key, to_body};
use crate::steps::StepErrorName;

/// How often a reservation re-reads and tries again when another call's write got there
/// first. Each try is two reads and one conditional write; contention is between the
/// steps of one run or one tenant, so a few tries settle it.
const RESERVE_TRIES: usize = 64;

/// What a call holds against its budgets until it is recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Reservation {
    pub spend: Spend,
    /// Held against the run's counter.
    pub run: bool,
    /// The month (`YYYY-MM`) it is held against, when the tenant has a budget.
    pub month: Option<String>,
}

impl Reservation {
    /// What to take back from the run's counter at settlement.
    pub fn on_run(&self) -> Spend {
        if self.run {
            self.spend
        } else {
            Spend::default()
        }
    }

    pub fn on_month(&self, month: &str) -> Spend {
        if self.month.as_deref() == Some(month) {
            self.spend
        } else {
            Spend::default()
        }
    }
}

/// Whether a call may go ahead.
#[derive(Debug)]
pub(crate) enum Reserved {
    Held(Reservation),
    /// No: the step fails with `error` and `cause`.
    Refused {
        error: StepErrorName,
        cause: String,
    },
}

/// A budget counter as stored: tokens and micro-dollars committed (spent and held).
#[derive(Debug, Default, Deserialize)]
struct Committed {
    #[serde(default)]
    tokens: i64,
    #[serde(default)]
    cost_micros: i64,
}

impl Usage {
    /// Holds what `estimate` may use against the run's and the tenant's budgets, or says
    /// why it may not. Nothing is held when neither has a budget.
    pub(crate) async fn reserve(
        &self,
        purpose: &Purpose<'_>,
        estimate: &UsageEstimate,
    ) -> Result<Reserved> {
        let monthly = self.tenant_budget(purpose.tenant).await?;
        let run = purpose.run.zip(purpose.run_budget);
        if monthly.is_none() && run.is_none() {
            return Ok(Reserved::Held(Reservation::default()));
        }
        let needs_price = monthly
            .iter()
            .chain(run.iter().map(|(_, b)| b))
            .any(|b| b.usd.is_some());
        let micros = self.prices.cost_micros(&estimate.model, estimate.tokens);
        if needs_price && micros.is_none() {
            return Ok(Reserved::Refused {
                error: StepErrorName::NonRetryable,
                cause: format!(
                    "model `{}` has no price, so a budget in US dollars cannot be kept: add it to SKEIN_LLM_PRICES, or budget in tokens only",
                    estimate.model
                ),
            });
        }
        let hold = Spend::of(estimate.tokens, micros);
        let month = month_of(self.ctx.now());
        for _ in 0..RESERVE_TRIES {
            let mut ops = Vec::new();
            if let Some((run, budget)) = run {
                let key = run_usage_key(purpose.tenant, run);
                if let Some(refusal) = self.hold_op(&key, budget, hold, "run", &mut ops).await? {
                    return Ok(refusal);
                }
            }
            if let Some(budget) = monthly {
                let key = month_usage_key(purpose.tenant, &month);
                if let Some(refusal) = self.hold_op(&key, budget, hold, "tenant", &mut ops).await? {
                    return Ok(refusal);
                }
            }
            match self.ctx.store.transact_write(ops).await {
                Ok(()) => {
                    return Ok(Reserved::Held(Reservation {
                        spend: hold,
                        run: run.is_some(),
                        month: monthly.map(|_| month.clone()),
                    }));
                }
                Err(StoreError::ConditionFailed | StoreError::TransactionCanceled { .. }) => {
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Unavailable(
            "the budget counters stayed contended; try again".into(),
        ))
    }

    /// Adds the write that holds `hold` on `key` to `ops`, conditional on the counter
    /// being what was read; or the refusal when it would pass `budget`.
    async fn hold_op(
        &self,
        key: &Key,
        budget: Budget,
        hold: Spend,
        scope: &'static str,
        ops: &mut Vec<WriteOp>,
    ) -> Result<Option<Reserved>> {
        let (committed, version) = self.committed(key).await?;
        if !committed.fits(hold, budget.limits()) {
            crate::metrics::budget_refused(scope);
            return Ok(Some(Reserved::Refused {
                error: StepErrorName::BudgetExceeded,
                cause: refusal(scope, budget, committed, Some(hold)),
            }));
        }
        ops.push(WriteOp::Update {
            key: key.clone(),
            changes: adds(hold),
            condition: version.map_or(Condition::NotExists, Condition::VersionIs),
        });
        Ok(None)
    }

    pub(crate) async fn committed(&self, key: &Key) -> Result<(Spend, Option<u64>)> {
        match self.ctx.store.get(key).await? {
            None => Ok((Spend::default(), None)),
            Some(item) => {
                let (c, version) = from_item::<Committed>(item)?;
                let spend = Spend {
                    tokens: c.tokens,
                    micros: c.cost_micros,
                };
                Ok((spend, Some(version)))
            }
        }
    }

    /// Gives back what a call held when it ended without using the provider.
    pub(crate) async fn release(&self, purpose: &Purpose<'_>, held: &Reservation) -> Result<()> {
        let mut ops = Vec::new();
        if let (true, Some(run)) = (held.run, purpose.run) {
            ops.push(counter_add(
                run_usage_key(purpose.tenant, run),
                held.spend.negated(),
            ));
        }
        if let Some(month) = &held.month {
            ops.push(counter_add(
                month_usage_key(purpose.tenant, month),
                held.spend.negated(),
            ));
        }
        if ops.is_empty() {
            return Ok(());
        }
        Ok(self.ctx.store.transact_write(ops).await?)
    }

    /// Whether what is committed has passed the run's or the tenant's budget: checked
    /// after usage an agent reported, which nothing held beforehand.
    pub(crate) async fn passed(&self, purpose: &Purpose<'_>) -> Result<Option<String>> {
        if let (Some(run), Some(budget)) = (purpose.run, purpose.run_budget) {
            let (committed, _) = self.committed(&run_usage_key(purpose.tenant, run)).await?;
            if !committed.fits(Spend::default(), budget.limits()) {
                crate::metrics::budget_refused("run");
                return Ok(Some(refusal("run", budget, committed, None)));
            }
        }
        if let Some(budget) = self.tenant_budget(purpose.tenant).await? {
            let key = month_usage_key(purpose.tenant, &month_of(self.ctx.now()));
            let (committed, _) = self.committed(&key).await?;
            if !committed.fits(Spend::default(), budget.limits()) {
                crate::metrics::budget_refused("tenant");
                return Ok(Some(refusal("tenant", budget, committed, None)));
            }
        }
        Ok(None)
    }

    pub(crate) async fn tenant_budget(
        &self,
        tenant: &crate::ids::TenantId,
    ) -> Result<Option<Budget>> {
        match self.ctx.store.get(&tenant_budget_key(tenant)).await? {
            None => Ok(None),
            Some(item) => Ok(from_item::<TenantBudget>(item)?.0.monthly),
        }
    }

    /// The caller's tenant's monthly budget, and this month's committed spending.
    pub async fn budget_status(&self, caller: &Principal) -> Result<BudgetStatus> {
        caller.authorize(Action::ReadUsage)?;
        let monthly = self.tenant_budget(&caller.tenant).await?;
        let month = month_of(self.ctx.now());
        let (committed, _) = self
            .committed(&month_usage_key(&caller.tenant, &month))
            .await?;
        Ok(BudgetStatus {
            monthly,
            month,
            committed_tokens: committed.tokens.max(0) as u64,
            committed_usd: micros_to_usd(committed.micros.max(0)),
        })
    }

    /// Sets (or, with `monthly: null`, removes) the tenant's monthly budget. It applies
    /// to calls from now on; calls already holding their reservation go ahead.
    pub async fn set_budget(
        &self,
        caller: &Principal,
        budget: TenantBudget,
    ) -> Result<BudgetStatus> {
        caller.authorize(Action::ManageBudgets)?;
        let mut errors = FieldErrors::default();
        if let Some(monthly) = &budget.monthly {
            monthly.check("$.monthly", &mut errors);
        }
        errors.into_result()?;
        let key = tenant_budget_key(&caller.tenant);
        match budget.monthly {
            Some(_) => {
                let item = crate::ports::Item::new(key, to_body(&budget)?);
                self.ctx.store.put(item, Condition::Always).await?;
            }
            None => self.ctx.store.delete(&key, Condition::Always).await?,
        }
        self.budget_status(caller).await
    }
}

/// Atomic adds of `spend` to a budget counter.
pub(super) fn adds(spend: Spend) -> Vec<Change> {
    vec![
        Change::Add("tokens".into(), spend.tokens),
        Change::Add("cost_micros".into(), spend.micros),
    ]
}

pub(super) fn counter_add(key: Key, spend: Spend) -> WriteOp {
    WriteOp::Update {
        key,
        changes: adds(spend),
        condition: Condition::Always,
    }
}

/// Why a call may not go ahead, in the words of the budget it would pass.
fn refusal(scope: &str, budget: Budget, committed: Spend, hold: Option<Spend>) -> String {
    let whose = match scope {
        "run" => "the run's budget (its workflow's `budget`)",
        _ => "the tenant's monthly budget",
    };
    let limits = budget.limits();
    let more = hold.unwrap_or_default();
    let over_tokens = committed.tokens.saturating_add(more.tokens) > limits.tokens;
    let (used, may, cap) = if over_tokens {
        (
            format!("{} tokens", committed.tokens.max(0)),
            format!("{} tokens", more.tokens),
            format!("{} tokens", limits.tokens),
        )
    } else {
        (
            format!("${:.6}", micros_to_usd(committed.micros.max(0))),
            format!("${:.6}", micros_to_usd(more.micros)),
            format!("${:.6}", micros_to_usd(limits.micros)),
        )
    };
    match hold {
        Some(_) => format!(
            "this call would pass {whose} of {cap}: {used} committed, and the call may use up to {may} (its prompt and max_tokens)"
        ),
        None => format!("{whose} of {cap} is spent: {used} committed"),
    }
}
