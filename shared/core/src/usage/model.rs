//! The usage ledger's records and reports, and the budgets that cap spending.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::error::FieldErrors;
use crate::ids::{RunId, TaskId};
use crate::metrics::TokenCounts;

/// The most a budget may name: $1M, or 10^12 tokens.
const MAX_BUDGET_USD: f64 = 1_000_000.0;
const MAX_BUDGET_TOKENS: u64 = 1_000_000_000_000;

/// A spending cap: US dollars, tokens (input + output), or both. A workflow's caps each
/// of its runs; a tenant's caps a calendar month (UTC) of all its calls.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Budget {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    #[cfg_attr(
        feature = "openapi",
        schema(nullable = false, minimum = 0.000001, maximum = 1000000)
    )]
    pub usd: Option<f64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::whole_number::present::deserialize"
    )]
    #[cfg_attr(
        feature = "openapi",
        schema(nullable = false, minimum = 1, maximum = 1000000000000_u64)
    )]
    pub tokens: Option<u64>,
}

impl Budget {
    /// Adds what is wrong with this budget, under `path`, to `errors`.
    pub fn check(&self, path: &str, errors: &mut FieldErrors) {
        if self.usd.is_none() && self.tokens.is_none() {
            errors.push(path, "name `usd`, `tokens` or both");
        }
        if let Some(usd) = self.usd {
            errors.check(
                (0.000_001..=MAX_BUDGET_USD).contains(&usd),
                &format!("{path}.usd"),
                || format!("use a number of US dollars from 0.000001 to {MAX_BUDGET_USD}"),
            );
        }
        if let Some(tokens) = self.tokens {
            errors.check(
                (1..=MAX_BUDGET_TOKENS).contains(&tokens),
                &format!("{path}.tokens"),
                || format!("use a number of tokens from 1 to {MAX_BUDGET_TOKENS}"),
            );
        }
    }

    pub(crate) fn limits(&self) -> Spend {
        Spend {
            tokens: self
                .tokens
                .map_or(i64::MAX, |t| t.min(i64::MAX as u64) as i64),
            micros: self.usd.map_or(i64::MAX, usd_to_micros),
        }
    }
}

/// An optional field that may be absent but not `null`.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

pub(crate) fn usd_to_micros(usd: f64) -> i64 {
    (usd * 1_000_000.0).round().clamp(0.0, i64::MAX as f64) as i64
}

pub(crate) fn micros_to_usd(micros: i64) -> f64 {
    micros as f64 / 1_000_000.0
}

/// Tokens (input + output) and micro-dollars: spent, reserved or allowed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Spend {
    pub tokens: i64,
    pub micros: i64,
}

impl Spend {
    pub fn of(tokens: TokenCounts, micros: Option<u64>) -> Spend {
        Spend {
            tokens: (tokens.input + tokens.output).min(i64::MAX as u64) as i64,
            micros: micros.unwrap_or(0).min(i64::MAX as u64) as i64,
        }
    }

    pub fn minus(self, other: Spend) -> Spend {
        Spend {
            tokens: self.tokens - other.tokens,
            micros: self.micros - other.micros,
        }
    }

    pub fn negated(self) -> Spend {
        Spend {
            tokens: -self.tokens,
            micros: -self.micros,
        }
    }

    /// Whether adding `more` to this stays within `limits`.
    pub fn fits(self, more: Spend, limits: Spend) -> bool {
        self.tokens.saturating_add(more.tokens) <= limits.tokens
            && self.micros.saturating_add(more.micros) <= limits.micros
    }
}

/// Who made a call the ledger records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum UsageSource {
    /// The `llm` builtin, which Skein calls itself.
    Builtin,
    /// A remote agent, which reported its usage when it completed a task.
    Agent,
}

/// One LLM call: what it used, what it cost, and what it was for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageRecord {
    pub at: DateTime<Utc>,
    pub source: UsageSource,
    pub provider: String,
    pub model: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Input tokens served from the provider's prompt cache (part of `input_tokens`).
    pub cached_tokens: u64,
    /// None when the price table has no price for the model (and the agent gave none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// The builtin's name (`llm`), or the id of the agent that reported the usage.
    pub agent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The map item, for a call made by one item of a map step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskId>,
}

impl UsageRecord {
    pub(crate) fn micros(&self) -> Option<u64> {
        self.cost_usd.map(|usd| usd_to_micros(usd) as u64)
    }
}

/// Sums over calls.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageTotals {
    pub calls: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
    /// The cost of the priced calls.
    pub cost_usd: f64,
    /// Calls whose model has no price: their tokens count, their cost is not known.
    pub unpriced_calls: u64,
}

impl UsageTotals {
    pub(crate) fn add_record(&mut self, record: &UsageRecord) {
        self.add(&Counters {
            calls: 1,
            input_tokens: record.input_tokens as i64,
            output_tokens: record.output_tokens as i64,
            cached_tokens: record.cached_tokens as i64,
            cost_micros: record.micros().unwrap_or(0) as i64,
            unpriced_calls: i64::from(record.cost_usd.is_none()),
        });
    }

    pub(crate) fn add(&mut self, counters: &Counters) {
        let n = |v: i64| v.max(0) as u64;
        self.calls += n(counters.calls);
        self.input_tokens += n(counters.input_tokens);
        self.output_tokens += n(counters.output_tokens);
        self.cached_tokens += n(counters.cached_tokens);
        self.unpriced_calls += n(counters.unpriced_calls);
        self.cost_usd = micros_to_usd(usd_to_micros(self.cost_usd) + counters.cost_micros);
    }
}

/// The counters a rollup item keeps (atomic adds).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Counters {
    #[serde(default)]
    pub calls: i64,
    #[serde(default)]
    pub input_tokens: i64,
    #[serde(default)]
    pub output_tokens: i64,
    #[serde(default)]
    pub cached_tokens: i64,
    #[serde(default)]
    pub cost_micros: i64,
    #[serde(default)]
    pub unpriced_calls: i64,
}

/// What one run's LLM calls used.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunUsage {
    pub run: RunId,
    pub workflow: String,
    /// The run's budget, from its workflow version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    pub totals: UsageTotals,
    /// Every call, oldest first.
    pub calls: Vec<UsageRecord>,
}

/// What `GET /v1/usage` groups by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum GroupBy {
    #[default]
    Workflow,
    Agent,
    Model,
}

impl GroupBy {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Workflow => "workflow",
            GroupBy::Agent => "agent",
            GroupBy::Model => "model",
        }
    }

    pub const ALL: [GroupBy; 3] = [GroupBy::Workflow, GroupBy::Agent, GroupBy::Model];
}

/// A tenant's usage over whole UTC days, `from` to `to` inclusive.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub group_by: GroupBy,
    /// Most expensive first; calls outside any workflow are grouped under `-`.
    pub groups: Vec<UsageGroup>,
    pub totals: UsageTotals,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageGroup {
    pub key: String,
    #[serde(flatten)]
    pub totals: UsageTotals,
}

/// What a remote agent says a task's LLM calls used, when it completes the task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportedUsage {
    /// e.g. `openai`, `anthropic`, `bedrock`; `unknown` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub provider: Option<String>,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub model: String,
    #[serde(deserialize_with = "crate::whole_number::deserialize")]
    #[cfg_attr(feature = "openapi", schema(maximum = 1000000000000_u64))]
    pub input_tokens: u64,
    #[serde(deserialize_with = "crate::whole_number::deserialize")]
    #[cfg_attr(feature = "openapi", schema(maximum = 1000000000000_u64))]
    pub output_tokens: u64,
    #[serde(default, deserialize_with = "crate::whole_number::deserialize")]
    #[cfg_attr(feature = "openapi", schema(maximum = 1000000000000_u64))]
    pub cached_tokens: u64,
    /// What the calls cost, when the agent knows; otherwise the price table prices them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1000000))]
    pub cost_usd: Option<f64>,
}

impl ReportedUsage {
    /// Adds what is wrong with this report, under `path`, to `errors`.
    pub fn check(&self, path: &str, errors: &mut FieldErrors) {
        let label_ok = |s: &str, max: usize| {
            !s.is_empty() && s.len() <= max && !s.chars().any(char::is_control)
        };
        if let Some(provider) = &self.provider {
            errors.check(label_ok(provider, 64), &format!("{path}.provider"), || {
                "use 1 to 64 printable characters".into()
            });
        }
        errors.check(label_ok(&self.model, 200), &format!("{path}.model"), || {
            "use 1 to 200 printable characters".into()
        });
        for (field, value) in [
            ("input_tokens", self.input_tokens),
            ("output_tokens", self.output_tokens),
            ("cached_tokens", self.cached_tokens),
        ] {
            errors.check(
                value <= MAX_BUDGET_TOKENS,
                &format!("{path}.{field}"),
                || format!("use 0 to {MAX_BUDGET_TOKENS}"),
            );
        }
        errors.check(
            self.cached_tokens <= self.input_tokens,
            &format!("{path}.cached_tokens"),
            || "cached tokens are part of input_tokens: use at most input_tokens".into(),
        );
        if let Some(cost) = self.cost_usd {
            errors.check(
                cost.is_finite() && (0.0..=MAX_BUDGET_USD).contains(&cost),
                &format!("{path}.cost_usd"),
                || format!("use 0 to {MAX_BUDGET_USD} US dollars"),
            );
        }
    }

    pub(crate) fn tokens(&self) -> TokenCounts {
        TokenCounts {
            input: self.input_tokens,
            output: self.output_tokens,
            cached: self.cached_tokens,
        }
    }

    pub(crate) fn cost_micros(&self) -> Option<u64> {
        self.cost_usd.map(|usd| usd_to_micros(usd) as u64)
    }
}

/// A tenant's monthly budget, as set by one of its admins.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantBudget {
    /// Caps each calendar month (UTC); null removes the cap.
    #[serde(default)]
    pub monthly: Option<Budget>,
}

/// A tenant's monthly budget and what this month has committed against it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BudgetStatus {
    pub monthly: Option<Budget>,
    /// `YYYY-MM`, UTC.
    pub month: String,
    /// Spent this month, with what calls in flight have reserved.
    pub committed_tokens: u64,
    pub committed_usd: f64,
}
