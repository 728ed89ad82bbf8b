//! Choice states: JSONPath rules (Variable and a comparison) or JSONata `Condition`s, each
//! with its `Next`, and in JSONata its own `Assign` and `Output`.

use crate::choice;
use crate::machine::{self, ChoiceBranch, Kind, QueryLanguage, Test};
use crate::model::ChoiceState;

use super::Ctx;

pub(super) fn compile(s: ChoiceState, ctx: &mut Ctx) -> Kind {
    if s.choices.is_empty() {
        ctx.add("Choices", "a Choice state needs at least one rule");
    }
    let mut rules = Vec::with_capacity(s.choices.len());
    for (index, raw) in s.choices.iter().enumerate() {
        let at = format!("Choices[{index}]");
        let Some(test) = choice_test(ctx, raw, &at) else {
            continue;
        };
        let next = match raw.get("Next").and_then(|n| n.as_str()) {
            Some(name) => ctx.target(&format!("{at}.Next"), name),
            None => {
                ctx.add(
                    &format!("{at}.Next"),
                    "every top-level choice rule needs 'Next'",
                );
                continue;
            }
        };
        let assign_map = raw.get("Assign").and_then(|a| a.as_object());
        if raw.get("Assign").is_some_and(|a| !a.is_object()) {
            ctx.add(
                &format!("{at}.Assign"),
                "'Assign' must be an object of variable names to values",
            );
        }
        let assign = ctx.assign(&format!("{at}.Assign"), assign_map);
        let output = ctx.output(&format!("{at}.Output"), raw.get("Output"));
        rules.push(ChoiceBranch {
            test,
            next,
            assign,
            output,
        });
    }
    Kind::Choice(machine::Choice {
        rules,
        default: s.default.as_deref().map(|name| ctx.target("Default", name)),
        assign: ctx.assign("Assign", s.assign.as_ref()),
    })
}

/// A rule's test: a JSONPath comparison, or a JSONata state's `Condition`.
fn choice_test(ctx: &mut Ctx, raw: &serde_json::Value, at: &str) -> Option<Test> {
    if ctx.language == QueryLanguage::JsonPath {
        if raw.get("Condition").is_some() || raw.get("Output").is_some() {
            let field = if raw.get("Condition").is_some() {
                "Condition"
            } else {
                "Output"
            };
            ctx.add(
                &format!("{at}.{field}"),
                format!("'{field}' is a JSONata field and this state's QueryLanguage is JSONPath: write the rule with Variable and a comparison, or set \"QueryLanguage\": \"JSONata\" on the state"),
            );
            return None;
        }
        return match choice::compile(raw, true) {
            Ok(rule) => Some(Test::Rule(rule)),
            Err(message) => {
                ctx.add(at, message);
                None
            }
        };
    }
    let allowed = ["Condition", "Next", "Assign", "Output", "Comment"];
    if let Some(map) = raw.as_object()
        && let Some(other) = map.keys().find(|k| !allowed.contains(&k.as_str()))
    {
        ctx.add(
            &format!("{at}.{other}"),
            format!("'{other}' is not a field of a JSONata choice rule; a rule has Condition, Next, and optionally Assign and Output"),
        );
        return None;
    }
    match raw.get("Condition") {
        Some(serde_json::Value::String(text)) => ctx
            .expression(&format!("{at}.Condition"), text)
            .map(Test::Condition),
        Some(_) => {
            ctx.add(
                &format!("{at}.Condition"),
                "'Condition' must be a JSONata expression written {% ... %}",
            );
            None
        }
        None => {
            ctx.add(
                &format!("{at}.Condition"),
                "a JSONata choice rule needs a 'Condition' (a {% %} expression that gives true or false)",
            );
            None
        }
    }
}
