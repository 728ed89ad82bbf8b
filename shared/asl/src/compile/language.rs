//! Query languages: which one a definition or state names, the rule that JSONPath cannot
//! appear inside JSONata, and the fields that belong to only one of them.

use serde_json::{Map, Value};

use crate::error::Problems;
use crate::machine::QueryLanguage;

/// The `QueryLanguage` a definition or state names, if it names a valid one.
pub(crate) fn check_query_language(
    language: Option<&str>,
    at: &str,
    problems: &mut Problems,
) -> Option<QueryLanguage> {
    match language {
        None => None,
        Some("JSONPath") => Some(QueryLanguage::JsonPath),
        Some("JSONata") => Some(QueryLanguage::Jsonata),
        Some(other) => {
            problems.add(
                at,
                format!("'{other}' is not a query language; use JSONata or JSONPath"),
            );
            None
        }
    }
}

/// Step Functions refuses JSONPath inside JSONata ("Cannot downgrade from JSONata context to
/// a JSONPath context", as moto 5.2.5's copy of its parser says): a JSONPath definition may
/// have JSONata states, not the other way round.
pub(crate) fn no_downgrade(
    enclosing: QueryLanguage,
    named: QueryLanguage,
    at: &str,
    problems: &mut Problems,
) -> QueryLanguage {
    if enclosing == QueryLanguage::Jsonata && named == QueryLanguage::JsonPath {
        problems.add(
            at,
            "JSONPath cannot be used inside a JSONata definition (Step Functions does not go back from JSONata to JSONPath): write this part in JSONata, or make the definition JSONPath and set JSONata on the states that use it",
        );
        return QueryLanguage::Jsonata;
    }
    named
}

/// Fields only JSONPath states have, and what a JSONata state uses instead.
const JSONPATH_FIELDS: [(&str, &str); 16] = [
    ("InputPath", "read $states.input in Arguments or Output"),
    ("OutputPath", "use Output"),
    ("Parameters", "use Arguments (or, in a Map, ItemSelector)"),
    ("ResultSelector", "use Output, with $states.result"),
    (
        "ResultPath",
        "use Output, with $states.input and $states.result",
    ),
    ("Result", "use Output"),
    ("ItemsPath", "use Items"),
    ("SecondsPath", "give Seconds as a {% %} expression"),
    ("TimestampPath", "give Timestamp as a {% %} expression"),
    (
        "TimeoutSecondsPath",
        "give TimeoutSeconds as a {% %} expression",
    ),
    (
        "HeartbeatSecondsPath",
        "give HeartbeatSeconds as a {% %} expression",
    ),
    (
        "MaxConcurrencyPath",
        "give MaxConcurrency as a {% %} expression",
    ),
    (
        "ToleratedFailureCountPath",
        "give ToleratedFailureCount as a {% %} expression",
    ),
    (
        "ToleratedFailurePercentagePath",
        "give ToleratedFailurePercentage as a {% %} expression",
    ),
    ("ErrorPath", "give Error as a {% %} expression"),
    ("CausePath", "give Cause as a {% %} expression"),
];

/// Fields only JSONata states have, and what a JSONPath state uses instead.
const JSONATA_FIELDS: [(&str, &str); 3] = [
    ("Arguments", "use Parameters"),
    ("Output", "use ResultSelector, ResultPath and OutputPath"),
    ("Items", "use ItemsPath"),
];

/// A field of the other query language: say which language the state is in and what to use.
pub(crate) fn wrong_language_field(
    map: &Map<String, Value>,
    language: QueryLanguage,
) -> Option<(&'static str, String)> {
    let (fields, this, other) = match language {
        QueryLanguage::Jsonata => (&JSONPATH_FIELDS[..], "JSONata", "JSONPath"),
        QueryLanguage::JsonPath => (&JSONATA_FIELDS[..], "JSONPath", "JSONata"),
    };
    fields.iter().find(|(field, _)| map.contains_key(*field)).map(|(field, instead)| {
        (
            *field,
            format!(
                "'{field}' is a {other} field and this state's QueryLanguage is {this}: {instead}, or set \"QueryLanguage\": \"{other}\" on the state"
            ),
        )
    })
}
