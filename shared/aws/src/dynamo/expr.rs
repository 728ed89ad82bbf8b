//! Condition and update expressions, with every name and value behind a placeholder
//! (body field names may be reserved words or hold any character).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use skein_core::ports::{Change, Condition, StoreError};

use super::attrs::{BODY_PREFIX, EXPIRES_AT, PK, VERSION, json_to_attribute, n};

#[derive(Default)]
pub struct Expr {
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl Expr {
    pub fn name(&mut self, name: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, n)| *n == name) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), name.to_string());
        placeholder
    }

    pub fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    pub fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    pub fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }

    /// The item is present and not past its TTL (DynamoDB deletes expired items lazily).
    pub fn live(&mut self, now: i64) -> String {
        let exp = self.name(EXPIRES_AT);
        let now = self.value(n(now));
        format!("(attribute_not_exists({exp}) OR {exp} > {now})")
    }

    /// `condition` as an expression; None for `Always`.
    pub fn condition(&mut self, condition: Condition, now: i64) -> Option<String> {
        match condition {
            Condition::Always => None,
            Condition::NotExists => {
                let pk = self.name(PK);
                let exp = self.name(EXPIRES_AT);
                let now = self.value(n(now));
                Some(format!("(attribute_not_exists({pk}) OR {exp} <= {now})"))
            }
            Condition::Exists => {
                let pk = self.name(PK);
                let live = self.live(now);
                Some(format!("(attribute_exists({pk}) AND {live})"))
            }
            Condition::VersionIs(version) => {
                let ver = self.name(VERSION);
                let expected = self.value(n(version));
                let live = self.live(now);
                Some(format!("({ver} = {expected} AND {live})"))
            }
        }
    }

    /// An update expression for `changes`, bumping `version` too.
    pub fn update(&mut self, changes: &[Change]) -> Result<String, StoreError> {
        let ver = self.name(VERSION);
        let zero = self.value(n(0));
        let one = self.value(n(1));
        let mut set = vec![format!("{ver} = if_not_exists({ver}, {zero}) + {one}")];
        let mut remove = Vec::new();
        let mut add = Vec::new();
        for change in changes {
            match change {
                Change::Set(field, value) => {
                    let name = self.name(&format!("{BODY_PREFIX}{field}"));
                    let value = self.value(json_to_attribute(value)?);
                    set.push(format!("{name} = {value}"));
                }
                Change::Remove(field) => remove.push(self.name(&format!("{BODY_PREFIX}{field}"))),
                Change::Add(field, by) => {
                    let name = self.name(&format!("{BODY_PREFIX}{field}"));
                    let by = self.value(n(by));
                    add.push(format!("{name} {by}"));
                }
            }
        }
        let mut text = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            text += &format!(" REMOVE {}", remove.join(", "));
        }
        if !add.is_empty() {
            text += &format!(" ADD {}", add.join(", "));
        }
        Ok(text)
    }
}
