//! The policies a deployment gives each role, as IAM JSON, for parliament to lint.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::{Deployment, Permissions};

pub fn document(permissions: &Permissions) -> Value {
    let statements: Vec<Value> = permissions
        .iter()
        .map(|(sid, statement)| {
            let mut rendered = json!({
                "Sid": sid,
                "Effect": "Allow",
                "Action": statement.actions,
                "Resource": statement.resources,
            });
            if !statement.conditions.is_empty() {
                let mut conditions = Map::new();
                for (test, variable, value) in &statement.conditions {
                    let entry = conditions.entry(test.clone()).or_insert_with(|| json!({}));
                    entry[variable] = json!(value);
                }
                rendered["Condition"] = Value::Object(conditions);
            }
            rendered
        })
        .collect();
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// Writes `<source>-<role>.json` for every role of the deployment into `dir`.
pub fn write(source: &str, deployment: &Deployment, dir: &Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let mut roles: Vec<(String, &Permissions)> = deployment
        .functions
        .iter()
        .map(|(name, f)| (name.clone(), &f.permissions))
        .collect();
    roles.push(("executions".into(), &deployment.states_role));
    roles.push(("schedules".into(), &deployment.schedule_role));
    for (role, permissions) in &roles {
        let text = serde_json::to_string_pretty(&document(permissions))?;
        std::fs::write(dir.join(format!("{source}-{role}.json")), text)?;
    }
    Ok(roles.len())
}
