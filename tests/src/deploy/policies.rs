//! The policies a deployment gives each role, as IAM JSON, for parliament to lint.
//!
//! The Bedrock statement goes in a file of its own (`<source>-<role>-bedrock-models.json`),
//! where `scripts/parliament-bedrock.yaml` mutes one false finding: parliament expects a resource of
//! every type AWS lists for `bedrock:InvokeModel` (foundation model, inference profile,
//! provisioned model, ...), where AWS needs any one, and it misreads the colon in model ids
//! like `anthropic.claude-3-5-haiku-20241022-v1:0`. Its other checks still read it.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::{Deployment, Permissions};

/// The statement granting Bedrock models (`skein_lambda::deploy::Resource::Models`).
const BEDROCK_SID: &str = "Models";

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
    let mut written = 0;
    for (role, permissions) in &roles {
        let (models, rest): (Permissions, Permissions) = permissions
            .iter()
            .map(|(sid, statement)| (sid.clone(), statement.clone()))
            .partition(|(sid, _)| sid == BEDROCK_SID);
        let mut files = vec![(format!("{source}-{role}.json"), rest)];
        if !models.is_empty() {
            files.push((format!("{source}-{role}-bedrock-models.json"), models));
        }
        for (name, permissions) in files {
            let text = serde_json::to_string_pretty(&document(&permissions))?;
            std::fs::write(dir.join(name), text)?;
            written += 1;
        }
    }
    Ok(written)
}
