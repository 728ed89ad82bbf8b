//! What a model's tokens cost: a price table in US dollars per million tokens, with
//! defaults for common hosted models that a deployment overrides or extends
//! (`SKEIN_LLM_PRICES`).
//!
//! A price per million tokens is a price in micro-dollars per token, so costs are summed
//! as whole micro-dollars: exact, and an atomic counter in the store.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::metrics::TokenCounts;

/// US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Input tokens read from the provider's prompt cache; `input` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input: Option<f64>,
}

impl Price {
    const fn new(input: f64, cached_input: f64, output: f64) -> Price {
        Price {
            input,
            output,
            cached_input: Some(cached_input),
        }
    }

    /// What `tokens` cost, in micro-dollars, rounded up.
    pub fn cost_micros(&self, tokens: TokenCounts) -> u64 {
        let cached = tokens.cached.min(tokens.input);
        let fresh = tokens.input - cached;
        let micros = fresh as f64 * self.input
            + cached as f64 * self.cached_input.unwrap_or(self.input)
            + tokens.output as f64 * self.output;
        micros.max(0.0).ceil() as u64
    }
}

/// List prices as published by OpenAI and Anthropic (standard tier, checked 2026-12),
/// keyed by model-name prefix: `gpt-4o` also prices `gpt-4o-2024-08-06`. Providers change
/// prices; a deployment that must be exact sets its own in `SKEIN_LLM_PRICES`.
const DEFAULTS: &[(&str, Price)] = &[
    ("gpt-5", Price::new(1.25, 0.125, 10.0)),
    ("gpt-5-mini", Price::new(0.25, 0.025, 2.0)),
    ("gpt-5-nano", Price::new(0.05, 0.005, 0.40)),
    ("gpt-4.1", Price::new(2.0, 0.50, 8.0)),
    ("gpt-4.1-mini", Price::new(0.40, 0.10, 1.60)),
    ("gpt-4.1-nano", Price::new(0.10, 0.025, 0.40)),
    ("gpt-4o", Price::new(2.50, 1.25, 10.0)),
    ("gpt-4o-mini", Price::new(0.15, 0.075, 0.60)),
    ("o3", Price::new(2.0, 0.50, 8.0)),
    ("o4-mini", Price::new(1.10, 0.275, 4.40)),
    ("claude-opus-4", Price::new(15.0, 1.50, 75.0)),
    ("claude-sonnet-4", Price::new(3.0, 0.30, 15.0)),
    ("claude-3-7-sonnet", Price::new(3.0, 0.30, 15.0)),
    ("claude-haiku-4", Price::new(1.0, 0.10, 5.0)),
    ("claude-3-5-haiku", Price::new(0.80, 0.08, 4.0)),
];

/// The price table: model-name prefixes to prices; the longest matching prefix wins.
#[derive(Debug, Clone, PartialEq)]
pub struct Prices {
    by_prefix: BTreeMap<String, Price>,
}

impl Default for Prices {
    fn default() -> Self {
        Prices {
            by_prefix: DEFAULTS
                .iter()
                .map(|(model, price)| (model.to_string(), *price))
                .collect(),
        }
    }
}

impl Prices {
    /// No prices at all: every call is unpriced (tests, or a deployment that wants none).
    pub fn none() -> Prices {
        Prices {
            by_prefix: BTreeMap::new(),
        }
    }

    /// The defaults, with `overrides` (a JSON object of model prefix to price) on top.
    /// The error says which entry to fix.
    pub fn with_overrides(overrides: &str) -> Result<Prices, String> {
        let parsed: BTreeMap<String, Price> = serde_json::from_str(overrides).map_err(|e| {
            format!(
                "SKEIN_LLM_PRICES must be a JSON object of model prefix to {{\"input\": USD per million tokens, \"output\": ..., \"cached_input\": ...}}: {e}"
            )
        })?;
        let mut prices = Prices::default();
        for (model, price) in parsed {
            let fields = [Some(price.input), Some(price.output), price.cached_input];
            if model.is_empty() || model.len() > 200 {
                return Err("SKEIN_LLM_PRICES: a model prefix is 1 to 200 characters".into());
            }
            if fields
                .into_iter()
                .flatten()
                .any(|p| !p.is_finite() || !(0.0..=100_000.0).contains(&p))
            {
                return Err(format!(
                    "SKEIN_LLM_PRICES: `{model}`: prices are USD per million tokens, 0 to 100000"
                ));
            }
            prices.by_prefix.insert(model, price);
        }
        Ok(prices)
    }

    /// The price of `model`, by its longest listed prefix.
    pub fn of(&self, model: &str) -> Option<&Price> {
        self.by_prefix
            .iter()
            .filter(|(prefix, _)| model.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, price)| price)
    }

    /// What `tokens` of `model` cost in micro-dollars; None when the model has no price.
    pub fn cost_micros(&self, model: &str, tokens: TokenCounts) -> Option<u64> {
        self.of(model).map(|price| price.cost_micros(tokens))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(input: u64, output: u64, cached: u64) -> TokenCounts {
        TokenCounts {
            input,
            output,
            cached,
        }
    }

    #[test]
    fn the_longest_prefix_prices_a_dated_model_name() {
        let prices = Prices::default();
        assert_eq!(prices.of("gpt-4o-mini-2024-07-18").unwrap().input, 0.15);
        assert_eq!(prices.of("gpt-4o-2024-08-06").unwrap().input, 2.50);
        assert_eq!(prices.of("claude-sonnet-4-20250514").unwrap().output, 15.0);
        assert!(prices.of("llama3").is_none());
        assert!(prices.of("").is_none());
    }

    #[test]
    fn costs_are_whole_micro_dollars_with_cached_input_at_its_own_price() {
        let prices = Prices::default();
        // 1,000 input (400 cached) and 500 output tokens of gpt-4o:
        // 600 x 2.50 + 400 x 1.25 + 500 x 10 = 7,000 micro-dollars.
        assert_eq!(
            prices.cost_micros("gpt-4o", tokens(1000, 500, 400)),
            Some(7000)
        );
        assert_eq!(prices.cost_micros("gpt-4o-mini", tokens(1, 0, 0)), Some(1));
        assert_eq!(prices.cost_micros("unknown", tokens(1, 1, 0)), None);
    }

    #[test]
    fn overrides_add_and_replace_and_bad_ones_say_what_to_fix() {
        let prices = Prices::with_overrides(
            r#"{"local-model": {"input": 0, "output": 0}, "gpt-4o": {"input": 1, "output": 2}}"#,
        )
        .unwrap();
        assert_eq!(
            prices.cost_micros("local-model-7b", tokens(10, 10, 0)),
            Some(0)
        );
        assert_eq!(prices.cost_micros("gpt-4o", tokens(1, 1, 0)), Some(3));
        let err = Prices::with_overrides(r#"{"m": {"input": -1, "output": 0}}"#).unwrap_err();
        assert!(err.contains("`m`"), "{err}");
        let err = Prices::with_overrides(r#"{"m": {"in": 1}}"#).unwrap_err();
        assert!(err.contains("SKEIN_LLM_PRICES"), "{err}");
    }
}
