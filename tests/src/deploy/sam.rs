//! Reads `infra/template.yaml` (SAM) into a [`Deployment`], resolving `!Ref`, `!GetAtt`
//! and `!Sub` to the same example ARNs the Terraform renders to.

use std::collections::BTreeSet;

use serde_norway::Value;
use skein_lambda::deploy::QueueKind;

use super::{
    ACCOUNT, Deployment, Function, PREFIX, Permissions, REGION, Route, Statement, key_arn,
    queue_arn, states_role_arn, table_arn,
};

pub struct Template {
    root: Value,
}

fn tagged(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(t) => Some((
            t.tag.to_string().trim_start_matches('!').to_string(),
            &t.value,
        )),
        _ => None,
    }
}

fn list(value: Option<&Value>) -> Vec<&Value> {
    match value {
        Some(Value::Sequence(items)) => items.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    }
}

impl Template {
    pub fn parse(source: &str) -> Result<Self, String> {
        serde_norway::from_str(source)
            .map(|root| Self { root })
            .map_err(|e| format!("infra/template.yaml: {e}"))
    }

    fn resources(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.root["Resources"]
            .as_mapping()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.as_str()?, v)))
    }

    fn resource(&self, id: &str) -> Option<&Value> {
        self.root["Resources"].get(id)
    }

    fn of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a Value)> {
        self.resources()
            .filter(move |(_, r)| r["Type"].as_str() == Some(kind))
    }

    /// A string, or what `!Sub`, `!Ref` or `!GetAtt` make of it; None when unresolvable.
    pub fn resolve(&self, value: &Value) -> Option<String> {
        // as_str() sees through tags: look at the tag first.
        let Some((tag, inner)) = tagged(value) else {
            return value.as_str().map(String::from);
        };
        match tag.as_str() {
            "Sub" => self.substitute(inner.as_str()?),
            "Ref" => self.reference(inner.as_str()?),
            "GetAtt" => {
                let (id, attribute) = inner.as_str()?.split_once('.')?;
                self.attribute(id, attribute)
            }
            _ => None,
        }
    }

    fn substitute(&self, template: &str) -> Option<String> {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}')? + start;
            let name = &rest[start + 2..end];
            let value = match name.split_once('.') {
                Some((id, attribute)) => self.attribute(id, attribute)?,
                None => self.reference(name)?,
            };
            out.push_str(&value);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        Some(out)
    }

    fn reference(&self, name: &str) -> Option<String> {
        match name {
            "AWS::Partition" => Some("aws".into()),
            "AWS::Region" => Some(REGION.into()),
            "AWS::AccountId" => Some(ACCOUNT.into()),
            "NamePrefix" => Some(PREFIX.into()),
            "LlmModel" => Some(super::LLM_MODEL.into()),
            _ => None,
        }
    }

    /// `X.Arn` of the resources the policies name.
    fn attribute(&self, id: &str, attribute: &str) -> Option<String> {
        let resource = self.resource(id)?;
        let properties = &resource["Properties"];
        let name = |key: &str| self.resolve(&properties[key]);
        if attribute != "Arn" {
            return None;
        }
        match resource["Type"].as_str()? {
            "AWS::DynamoDB::Table" if name("TableName")? == PREFIX => Some(table_arn()),
            "AWS::SQS::Queue" => Some(format!(
                "arn:aws:sqs:{REGION}:{ACCOUNT}:{}",
                name("QueueName")?
            )),
            "AWS::IAM::Role" if id == "StatesRole" => Some(states_role_arn()),
            "AWS::KMS::Key" => Some(key_arn()),
            "AWS::Logs::LogGroup" => Some(super::log_group_arn(&name("LogGroupName")?)),
            "AWS::Serverless::Function" => Some(format!(
                "arn:aws:lambda:{REGION}:{ACCOUNT}:function:{}",
                name("FunctionName")?
            )),
            _ => None,
        }
    }

    /// The logical id a `!GetAtt X.Arn` names.
    fn target<'a>(&self, value: &'a Value) -> Option<&'a str> {
        let (tag, inner) = tagged(value)?;
        match tag.as_str() {
            "GetAtt" => inner.as_str()?.split_once('.').map(|(id, _)| id),
            "Ref" => inner.as_str(),
            _ => None,
        }
    }

    fn role_permissions(&self, role: &str) -> Permissions {
        let Some(role) = self.resource(role) else {
            return Permissions::new();
        };
        let mut permissions = Permissions::new();
        for policy in list(role["Properties"].get("Policies")) {
            for statement in list(policy["PolicyDocument"].get("Statement")) {
                // `!If [Condition, statement, !Ref AWS::NoValue]`: the statement it may give.
                let statement = match tagged(statement) {
                    Some((tag, branches)) if tag == "If" => &branches[1],
                    _ => statement,
                };
                let strings = |key: &str| -> BTreeSet<String> {
                    list(statement.get(key))
                        .into_iter()
                        .map(|v| self.resolve(v).unwrap_or_else(|| format!("{v:?}")))
                        .collect()
                };
                let mut conditions = Vec::new();
                for (test, pairs) in statement["Condition"].as_mapping().into_iter().flatten() {
                    for (variable, value) in pairs.as_mapping().into_iter().flatten() {
                        conditions.push((
                            test.as_str().unwrap_or("").to_string(),
                            variable.as_str().unwrap_or("").to_string(),
                            self.resolve(value).unwrap_or_default(),
                        ));
                    }
                }
                let sid = statement["Sid"].as_str().unwrap_or("").to_string();
                permissions.insert(
                    sid,
                    Statement {
                        actions: strings("Action"),
                        resources: strings("Resource"),
                        conditions,
                    },
                );
            }
        }
        permissions
    }

    fn function_crate(&self, id: &str) -> Option<String> {
        let code = self.resource(id)?["Properties"]["CodeUri"].as_str()?;
        code.strip_prefix("../functions/").map(String::from)
    }

    fn queue_kind(&self, id: &str) -> Option<QueueKind> {
        let arn = self.attribute(id, "Arn")?;
        [QueueKind::Steps, QueueKind::Messages]
            .into_iter()
            .find(|q| queue_arn(*q) == arn)
    }
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| k.as_str().map(String::from))
        .collect()
}

pub fn deployment(template: &Template) -> Result<Deployment, String> {
    let mut deployment = Deployment::default();
    let globals = &template.root["Globals"]["Function"]["Environment"]["Variables"];
    for (id, resource) in template.of_type("AWS::Serverless::Function") {
        let name = template
            .function_crate(id)
            .ok_or_else(|| format!("{id}: CodeUri must be ../functions/<crate>"))?;
        let properties = &resource["Properties"];
        let mut variables = keys(globals);
        variables.extend(keys(&properties["Environment"]["Variables"]));
        let role = template.target(&properties["Role"]).unwrap_or("");
        let permissions = template.role_permissions(role);
        for (_, event) in properties["Events"].as_mapping().into_iter().flatten() {
            let event_properties = &event["Properties"];
            match event["Type"].as_str() {
                Some("HttpApi") => {
                    let method = event_properties["Method"].as_str().unwrap_or("");
                    let path = event_properties["Path"].as_str().unwrap_or("");
                    let public = event_properties["Auth"]["Authorizer"].as_str() == Some("NONE");
                    let function = name.clone();
                    deployment
                        .routes
                        .insert(format!("{method} {path}"), Route { function, public });
                }
                Some("SQS") => {
                    let queue = template.target(&event_properties["Queue"]);
                    let reports = list(event_properties.get("FunctionResponseTypes"))
                        .iter()
                        .any(|t| t.as_str() == Some("ReportBatchItemFailures"));
                    if let Some(queue) = queue.and_then(|q| template.queue_kind(q)) {
                        deployment
                            .queue_sources
                            .insert(name.clone(), (queue, reports));
                    }
                }
                _ => {}
            }
        }
        let url = &properties["FunctionUrlConfig"];
        if url["InvokeMode"].as_str() == Some("RESPONSE_STREAM") {
            deployment.streaming_urls.insert(name.clone());
        }
        deployment.functions.insert(
            name,
            Function {
                variables,
                permissions,
            },
        );
    }
    // Without a default authorizer every route would be public.
    for (_, api) in template.of_type("AWS::Serverless::HttpApi") {
        let auth = &api["Properties"]["Auth"];
        let Some(default) = auth["DefaultAuthorizer"].as_str() else {
            for route in deployment.routes.values_mut() {
                route.public = true;
            }
            continue;
        };
        let arn = &auth["Authorizers"][default]["FunctionArn"];
        deployment.authorizer = template
            .target(arn)
            .and_then(|id| template.function_crate(id));
    }
    for (_, schedule) in template.of_type("AWS::Scheduler::Schedule") {
        let properties = &schedule["Properties"];
        let target = &properties["Target"];
        let input: Option<serde_json::Value> = target["Input"]
            .as_str()
            .and_then(|i| serde_json::from_str(i).ok());
        if properties["ScheduleExpression"].as_str() == Some("rate(1 minute)")
            && input == Some(serde_json::json!({"action": "tick"}))
        {
            deployment.tick = template
                .target(&target["Arn"])
                .and_then(|id| template.function_crate(id));
            if let Some(role) = template.target(&target["RoleArn"]) {
                deployment.schedule_role = template.role_permissions(role);
            }
        }
    }
    if let Some(role) = template.target(&globals["SKEIN_STATES_ROLE_ARN"]) {
        deployment.states_role = template.role_permissions(role);
    }
    for (_, rule) in template.of_type("AWS::Events::Rule") {
        let properties = &rule["Properties"];
        let detail = list(properties["EventPattern"].get("detail-type"));
        let target = list(properties.get("Targets"))
            .first()
            .and_then(|t| template.target(&t["Arn"]))
            .and_then(|id| template.queue_kind(id));
        if let (Some(detail), Some(queue)) = (detail.first().and_then(|d| d.as_str()), target) {
            deployment.execution_events = Some((detail.to_string(), queue));
        }
    }
    Ok(deployment)
}
