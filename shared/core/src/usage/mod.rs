//! The usage ledger and budgets: what every LLM call used and cost, by tenant, workflow,
//! run, step and agent, and the caps that stop a run or a tenant from spending more.
//!
//! Budgets are held before a call, not checked after it: a call first reserves the most
//! it may use (its prompt, estimated, plus its output cap) against its run's budget and
//! its tenant's month, in one conditional write per budget, and is refused with
//! `Skein.BudgetExceeded` when that would pass either cap. The reservation is settled to
//! what the provider reports when the call ends. Two steps running at once therefore
//! cannot both spend the last dollar: the second one's write sees the first one's hold.

mod budget;
mod ledger;
mod model;
mod prices;

use std::sync::Arc;

pub use model::{
    Budget, BudgetStatus, GroupBy, ReportedUsage, RunUsage, TenantBudget, UsageGroup, UsageRecord,
    UsageReport, UsageSource, UsageTotals,
};
pub use prices::{Price, Prices};

pub(crate) use budget::{Reservation, Reserved};
pub(crate) use ledger::Call;

use crate::context::Context;
use crate::ids::{RunId, TaskId, TenantId};

/// The usage ledger and budgets of every tenant.
#[derive(Clone)]
pub struct Usage {
    ctx: Context,
    prices: Arc<Prices>,
}

impl Usage {
    pub fn new(ctx: Context, prices: Arc<Prices>) -> Self {
        Self { ctx, prices }
    }

    pub fn prices(&self) -> &Prices {
        &self.prices
    }
}

/// What a call was for: the tenant always; the run, its budget and step for a step's.
#[derive(Debug, Clone)]
pub(crate) struct Purpose<'a> {
    pub tenant: &'a TenantId,
    pub workflow: Option<&'a str>,
    pub run: Option<&'a RunId>,
    /// The run's budget (from its workflow version), when it has one.
    pub run_budget: Option<Budget>,
    pub step: Option<&'a str>,
    pub item: Option<u32>,
    /// The builtin's name, or the reporting agent's id.
    pub agent: &'a str,
    pub task: Option<&'a TaskId>,
}

/// `YYYY-MM` and `YYYY-MM-DD` of an instant, UTC.
fn month_of(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m").to_string()
}

fn day_of(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}
