//! Compiling the fields states share: transitions, paths, templates, Retry and Catch.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::error::{Problems, join};
use crate::errors;
use crate::jsonata::{TopLevelReference, expression_text};
use crate::machine::{
    Catch, InputPath, Number, QueryLanguage, Recovery, ResultPath, Retry, Text, Transition,
};
use crate::model::{Catcher, Dynamic, Nullable, Retrier};
use crate::path::{Path, ReferencePath};
use crate::template::Template;

/// Where we are while compiling one state.
pub(crate) struct Ctx<'a> {
    pub(crate) names: &'a HashMap<&'a str, usize>,
    pub(crate) at: &'a str,
    /// The state's query language.
    pub(crate) language: QueryLanguage,
    /// The enclosing definition's, which Parallel branches and Map processors inherit.
    pub(crate) definition_language: QueryLanguage,
    pub(crate) problems: &'a mut Problems,
    /// Whether the fields being compiled are a Catch's `Output` and `Assign`, the only ones
    /// where JSONata's `$states.errorOutput` exists.
    pub(crate) in_catcher: bool,
}

impl Ctx<'_> {
    pub(crate) fn add(&mut self, field: &str, message: impl Into<String>) {
        let location = join(self.at, field);
        self.problems.add(location, message);
    }

    pub(crate) fn target(&mut self, field: &str, name: &str) -> usize {
        match self.names.get(name) {
            Some(index) => *index,
            None => {
                let hint = super::suggest(name, self.names);
                self.add(field, format!("no state named '{name}'{hint}"));
                0
            }
        }
    }

    /// `Next` xor `End: true`, for the states that continue.
    pub(crate) fn transition(&mut self, next: Option<&str>, end: bool) -> Transition {
        match (next, end) {
            (Some(name), false) => Transition::Next(self.target("Next", name)),
            (None, true) => Transition::End,
            (Some(_), true) => {
                self.add("End", "a state has either 'Next' or 'End: true', not both");
                Transition::End
            }
            (None, false) => {
                self.add(
                    "Next",
                    "the state needs 'Next' (the state to go to) or 'End: true'",
                );
                Transition::End
            }
        }
    }

    pub(crate) fn path(&mut self, field: &str, text: &str) -> Option<Path> {
        Path::parse(text)
            .map_err(|message| self.add(field, message))
            .ok()
    }

    pub(crate) fn is_jsonata(&self) -> bool {
        self.language == QueryLanguage::Jsonata
    }

    /// A payload template in the state's language: `.$` keys in JSONPath, `{% %}` strings in
    /// JSONata.
    pub(crate) fn template(&mut self, field: &str, value: Option<&Value>) -> Option<Template> {
        let value = value?;
        let mut found = Vec::new();
        let template = match self.language {
            QueryLanguage::JsonPath => Template::compile(value, &mut found),
            QueryLanguage::Jsonata => Template::compile_jsonata(value, field, &mut found),
        };
        for (inner, message) in found {
            let location = if inner.is_empty() {
                field.to_owned()
            } else {
                format!("{field}.{inner}")
            };
            self.add(&location, message);
        }
        if !self.in_catcher && template.reads_error_output() {
            self.add(field, TopLevelReference::StatesErrorOutput.message());
        }
        Some(template)
    }

    /// JSONata's `Output` (`null` included: then the output is `null`).
    pub(crate) fn output(&mut self, field: &str, value: Option<&Value>) -> Option<Template> {
        if !self.is_jsonata() {
            return None;
        }
        self.template(field, value)
    }

    /// `Assign`: a template whose keys are variable names.
    pub(crate) fn assign(
        &mut self,
        field: &str,
        assign: Option<&Map<String, Value>>,
    ) -> Option<Template> {
        let assign = assign?;
        for key in assign.keys() {
            let name = match self.language {
                QueryLanguage::JsonPath => key.strip_suffix(".$").unwrap_or(key),
                QueryLanguage::Jsonata => key,
            };
            let valid = name
                .chars()
                .next()
                .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
                && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric());
            if !valid {
                self.add(&format!("{field}.{key}"), "variable names start with a letter or '_' and contain only letters, digits and '_'");
            }
        }
        self.template(field, Some(&Value::Object(assign.clone())))
    }

    pub(crate) fn result_path(&mut self, field: &str, spec: &Nullable) -> ResultPath {
        match spec {
            Nullable::Absent => ResultPath::Replace,
            Nullable::Null => ResultPath::Discard,
            Nullable::Path(text) => match ReferencePath::parse(text) {
                Ok(path) if path.is_root() => ResultPath::Replace,
                Ok(path) => ResultPath::At(std::sync::Arc::new(path)),
                Err(message) => {
                    self.add(field, message);
                    ResultPath::Replace
                }
            },
        }
    }

    /// A number given directly (`TimeoutSeconds`), by a JSONata expression in a JSONata
    /// state, or by path (`TimeoutSecondsPath`) in a JSONPath one; only one of them.
    pub(crate) fn number(
        &mut self,
        field: &str,
        fixed: Option<Dynamic<f64>>,
        path: Option<&str>,
    ) -> Option<Number> {
        match (fixed, path) {
            (Some(_), Some(_)) => {
                self.add(field, format!("give '{field}' or '{field}Path', not both"));
                None
            }
            (Some(Dynamic::Value(n)), None) => Some(Number::Fixed(n)),
            (Some(Dynamic::Expression(text)), None) => {
                self.expression(field, &text).map(Number::Query)
            }
            (None, Some(text)) => self.path(&format!("{field}Path"), text).map(Number::Path),
            (None, None) => None,
        }
    }

    /// A string field that must be a JSONata expression (`"{% ... %}"`) in a JSONata state.
    pub(crate) fn expression(&mut self, field: &str, text: &str) -> Option<Template> {
        if !self.is_jsonata() {
            self.add(
                field,
                format!("'{text}' is not a number; {{% %}} expressions need \"QueryLanguage\": \"JSONata\""),
            );
            return None;
        }
        if expression_text(text).is_none() {
            self.add(
                field,
                format!(
                    "'{text}' is neither a number nor a JSONata expression written {{% ... %}}"
                ),
            );
            return None;
        }
        self.template(field, Some(&Value::String(text.to_owned())))
    }

    /// `Error`/`ErrorPath` and `Cause`/`CausePath`: text, or a path or intrinsic giving it.
    pub(crate) fn text(
        &mut self,
        field: &str,
        fixed: Option<&str>,
        dynamic: Option<&str>,
    ) -> Option<Text> {
        match (fixed, dynamic) {
            (Some(_), Some(_)) => {
                self.add(field, format!("give '{field}' or '{field}Path', not both"));
                None
            }
            (Some(text), None) if self.is_jsonata() && expression_text(text).is_some() => {
                let template = self.template(field, Some(&Value::String(text.to_owned())))?;
                Some(Text::Query(template))
            }
            (Some(text), None) => Some(Text::Fixed(text.to_owned())),
            (None, Some(expr)) => {
                let wrapped = serde_json::json!({ "value.$": expr });
                let template = self.template(&format!("{field}Path"), Some(&wrapped))?;
                Some(Text::Dynamic(template))
            }
            (None, None) => None,
        }
    }

    pub(crate) fn recovery(&mut self, retry: &[Retrier], catch: &[Catcher]) -> Recovery {
        let retry = retry
            .iter()
            .enumerate()
            .map(|(i, r)| self.retrier(i, r, retry.len()))
            .collect();
        let catch = catch
            .iter()
            .enumerate()
            .map(|(i, c)| self.catcher(i, c, catch.len()))
            .collect();
        Recovery { retry, catch }
    }

    fn error_names(&mut self, field: &str, names: &[String], is_last: bool) {
        if names.is_empty() {
            self.add(field, "ErrorEquals needs at least one error name");
        }
        for name in names {
            if name.starts_with("States.") && !errors::RESERVED.contains(&name.as_str()) {
                self.add(
                    field,
                    format!(
                        "'{name}' is not a States error; names starting with 'States.' are reserved"
                    ),
                );
            }
        }
        if names.iter().any(|n| n == errors::ALL) {
            if names.len() > 1 {
                self.add(field, "States.ALL must appear alone in ErrorEquals");
            }
            if !is_last {
                self.add(field, "States.ALL must be in the last retrier or catcher");
            }
        }
    }

    fn retrier(&mut self, index: usize, retrier: &Retrier, count: usize) -> Retry {
        let at = format!("Retry[{index}]");
        self.error_names(
            &format!("{at}.ErrorEquals"),
            &retrier.error_equals,
            index + 1 == count,
        );
        if retrier.interval_seconds == Some(0) {
            self.add(
                &format!("{at}.IntervalSeconds"),
                "must be a positive integer",
            );
        }
        let backoff_rate = retrier.backoff_rate.unwrap_or(2.0);
        if backoff_rate < 1.0 {
            self.add(
                &format!("{at}.BackoffRate"),
                format!("must be at least 1.0, not {backoff_rate}"),
            );
        }
        if retrier.max_delay_seconds == Some(0) {
            self.add(
                &format!("{at}.MaxDelaySeconds"),
                "must be a positive integer",
            );
        }
        let full_jitter = match retrier.jitter_strategy.as_deref() {
            None | Some("NONE") => false,
            Some("FULL") => true,
            Some(other) => {
                self.add(
                    &format!("{at}.JitterStrategy"),
                    format!("'{other}' is not a jitter strategy; use FULL or NONE"),
                );
                false
            }
        };
        Retry {
            errors: retrier.error_equals.clone(),
            interval_seconds: retrier.interval_seconds.unwrap_or(1) as f64,
            max_attempts: retrier.max_attempts.unwrap_or(3),
            backoff_rate,
            max_delay_seconds: retrier.max_delay_seconds.map(|s| s as f64),
            full_jitter,
        }
    }

    fn catcher(&mut self, index: usize, catcher: &Catcher, count: usize) -> Catch {
        let at = format!("Catch[{index}]");
        self.error_names(
            &format!("{at}.ErrorEquals"),
            &catcher.error_equals,
            index + 1 == count,
        );
        match self.language {
            QueryLanguage::Jsonata if !catcher.result_path.is_absent() => self.add(
                &format!("{at}.ResultPath"),
                "'ResultPath' is a JSONPath field and this state's QueryLanguage is JSONata: use Output, with $states.errorOutput",
            ),
            QueryLanguage::JsonPath if catcher.output.is_some() => self.add(
                &format!("{at}.Output"),
                "'Output' is a JSONata field and this state's QueryLanguage is JSONPath: use ResultPath",
            ),
            _ => {}
        }
        self.in_catcher = true;
        let assign = self.assign(&format!("{at}.Assign"), catcher.assign.as_ref());
        let output = self.output(&format!("{at}.Output"), catcher.output.as_ref());
        self.in_catcher = false;
        Catch {
            errors: catcher.error_equals.clone(),
            next: self.target(&format!("{at}.Next"), &catcher.next),
            result_path: self.result_path(&format!("{at}.ResultPath"), &catcher.result_path),
            assign,
            output,
        }
    }
}

/// `InputPath` / `OutputPath` from the raw state.
pub(crate) fn io_path(raw: Option<&Value>, at: &str, problems: &mut Problems) -> InputPath {
    match raw {
        None => InputPath::Whole,
        Some(Value::Null) => InputPath::Empty,
        Some(Value::String(text)) if text == "$" => InputPath::Whole,
        Some(Value::String(text)) => match Path::parse(text) {
            Ok(path) => InputPath::Select(path),
            Err(message) => {
                problems.add(at, message);
                InputPath::Whole
            }
        },
        Some(_) => InputPath::Whole, // a non-string is reported by the typed parse
    }
}
