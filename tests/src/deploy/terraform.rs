//! Reads `terraform/` (the root module and `modules/*`) into a [`Deployment`].

use std::collections::BTreeMap;
use std::path::Path;

use hcl::{Block, Body, Expression};
use skein_lambda::deploy::QueueKind;

use super::hcl_eval::{Scope, Val, text};
use super::{
    ACCOUNT, Deployment, Function, PREFIX, Permissions, REGION, Route, Statement, function_arn,
    key_arn, queue_arn, states_role_arn, table_arn,
};

/// Every `.tf` file of a directory, as one body.
pub fn read_dir(dir: &Path) -> Result<Body, String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .collect();
    files.sort();
    let mut source = String::new();
    for file in files {
        source.push_str(&std::fs::read_to_string(&file).map_err(|e| e.to_string())?);
        source.push('\n');
    }
    hcl::parse(&source).map_err(|e| format!("{}: {e}", dir.display()))
}

/// The Terraform: the root module's files (given, so a test can alter them) and modules.
pub struct Terraform {
    pub root: Body,
    pub modules: BTreeMap<String, Body>,
}

impl Terraform {
    pub fn read(dir: &Path) -> Result<Self, String> {
        let mut modules = BTreeMap::new();
        for name in [
            "function",
            "table",
            "queues",
            "http_api",
            "workflows",
            "schedules",
        ] {
            modules.insert(name.to_string(), read_dir(&dir.join("modules").join(name))?);
        }
        Ok(Self {
            root: read_dir(dir)?,
            modules,
        })
    }

    fn module(&self, name: &str) -> &Body {
        &self.modules[name]
    }
}

fn locals(body: &Body) -> BTreeMap<String, Expression> {
    body.blocks()
        .filter(|b| b.identifier() == "locals")
        .flat_map(|b| b.body().attributes())
        .map(|a| (a.key().to_string(), a.expr().clone()))
        .collect()
}

fn blocks<'a>(
    body: &'a Body,
    kind: &'a str,
    labels: &'a [&str],
) -> impl Iterator<Item = &'a Block> {
    body.blocks().filter(move |b| {
        b.identifier() == kind
            && b.labels().len() >= labels.len()
            && labels
                .iter()
                .zip(b.labels())
                .all(|(want, got)| got.as_str() == *want)
    })
}

fn block<'a>(body: &'a Body, kind: &str, labels: &[&str]) -> Result<&'a Block, String> {
    body.blocks()
        .find(|b| {
            b.identifier() == kind
                && b.labels().len() >= labels.len()
                && labels
                    .iter()
                    .zip(b.labels())
                    .all(|(want, got)| got.as_str() == *want)
        })
        .ok_or_else(|| format!("terraform: no {kind} {labels:?}"))
}

fn attr<'a>(block: &'a Block, key: &str) -> Option<&'a Expression> {
    block
        .body()
        .attributes()
        .find(|a| a.key() == key)
        .map(|a| a.expr())
}

fn attr_text(block: &Block, key: &str) -> String {
    attr(block, key).map(text).unwrap_or_default()
}

/// `module.function["scheduler"].arn` -> `scheduler`.
fn function_named(reference: &str) -> Option<String> {
    let start = reference.find("module.function[\"")? + "module.function[\"".len();
    let end = reference[start..].find('"')?;
    Some(reference[start..start + end].to_string())
}

fn symbols(pairs: &[(&str, String)]) -> BTreeMap<String, Val> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Val::Str(v.clone())))
        .collect()
}

fn root_symbols() -> BTreeMap<String, Val> {
    let mut symbols = symbols(&[
        ("data.aws_partition.current.partition", "aws".into()),
        ("data.aws_region.current.region", REGION.into()),
        (
            "data.aws_caller_identity.current.account_id",
            ACCOUNT.into(),
        ),
        ("var.name_prefix", PREFIX.into()),
        ("module.table.arn", table_arn()),
        ("module.table.name", PREFIX.into()),
        ("module.queues.step_queue_arn", queue_arn(QueueKind::Steps)),
        (
            "module.queues.message_queue_arn",
            queue_arn(QueueKind::Messages),
        ),
        ("module.workflows.role_arn", states_role_arn()),
        ("aws_kms_key.platform.arn", key_arn()),
        ("var.llm.provider", "bedrock".into()),
        ("var.llm.model", super::LLM_MODEL.into()),
    ]);
    symbols.insert("var.llm.models".into(), Val::List(Vec::new()));
    for function in super::FUNCTION_NAMES {
        symbols.insert(
            format!("module.function[\"{function}\"].arn"),
            Val::Str(function_arn(function)),
        );
    }
    symbols
}

/// The statements of an `aws_iam_policy_document`.
fn policy_document(block: &Block, scope: &Scope) -> Permissions {
    block
        .body()
        .blocks()
        .filter(|b| b.identifier() == "statement")
        .map(|statement| {
            let sid = scope.eval(attr(statement, "sid").unwrap_or(&Expression::Null));
            let list = |key| {
                attr(statement, key)
                    .map(|e| scope.eval(e).strings())
                    .unwrap_or_default()
            };
            (
                sid.str().unwrap_or("").to_string(),
                Statement {
                    actions: list("actions").into_iter().collect(),
                    resources: list("resources").into_iter().collect(),
                    conditions: Vec::new(),
                },
            )
        })
        .collect()
}

pub fn deployment(tf: &Terraform) -> Result<Deployment, String> {
    let root_locals = locals(&tf.root);
    let root = Scope {
        locals: &root_locals,
        symbols: root_symbols(),
    };
    let mut deployment = Deployment::default();

    // The functions: module "function" over local.functions, each's permissions resolved
    // to ARNs the way modules/function does.
    let module = block(&tf.root, "module", &["function"])?;
    for (key, want) in [
        ("for_each", "local.functions"),
        ("permissions", "each.value.permissions"),
        ("environment", "each.value.environment"),
        ("resource_arns", "local.resource_arns"),
    ] {
        if attr_text(module, key) != want {
            return Err(format!("module \"function\" must set {key} = {want}"));
        }
    }
    let function_locals = locals(tf.module("function"));
    let functions = root.eval(&root_locals["functions"]).fields();
    for (name, function) in &functions {
        let full_name = format!("{PREFIX}-{name}");
        let log_group =
            format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{full_name}");
        let mut symbols = symbols(&[
            ("aws_cloudwatch_log_group.this.arn", log_group),
            ("var.name", full_name),
        ]);
        symbols.insert(
            "var.resource_arns".into(),
            root.eval(&root_locals["resource_arns"]),
        );
        let scope = Scope {
            locals: &function_locals,
            symbols,
        };
        let arns = scope.eval(&function_locals["resource_arns"]);
        let conditions = scope.eval(&function_locals["conditions"]);
        let permissions = function
            .get("permissions")
            .map(Val::fields)
            .unwrap_or_default()
            .into_iter()
            .map(|(sid, actions)| {
                let statement = Statement {
                    actions: actions.strings().into_iter().collect(),
                    resources: arns
                        .get(&sid)
                        .map(Val::strings)
                        .unwrap_or_default()
                        .into_iter()
                        .collect(),
                    conditions: conditions
                        .get(&sid)
                        .map(|c| match c {
                            Val::List(items) => items
                                .iter()
                                .map(|c| {
                                    let field =
                                        |k| c.get(k).and_then(Val::str).unwrap_or("").to_string();
                                    let value = c
                                        .get("values")
                                        .map(Val::strings)
                                        .unwrap_or_default()
                                        .join(",");
                                    (field("test"), field("variable"), value)
                                })
                                .collect(),
                            _ => Vec::new(),
                        })
                        .unwrap_or_default(),
                };
                (sid, statement)
            })
            .collect();
        let variables = function
            .get("environment")
            .map(Val::fields)
            .unwrap_or_default()
            .into_keys()
            .collect();
        deployment.functions.insert(
            name.clone(),
            Function {
                variables,
                permissions,
            },
        );
    }

    // The HTTP API.
    let api = block(&tf.root, "module", &["http_api"])?;
    if attr_text(api, "routes") != "local.routes"
        || attr_text(api, "public_routes") != "local.public_routes"
    {
        return Err("module \"http_api\" must take routes = local.routes, public_routes = local.public_routes".into());
    }
    let public = root.eval(&root_locals["public_routes"]).strings();
    for (route, function) in root.eval(&root_locals["routes"]).fields() {
        let function = function.str().unwrap_or("").to_string();
        let public = public.contains(&route);
        deployment.routes.insert(route, Route { function, public });
    }
    deployment.authorizer = function_named(&attr_text(api, "authorizer"));

    // The function URLs that stream.
    for url in blocks(&tf.root, "resource", &["aws_lambda_function_url"]) {
        let streams = attr_text(url, "invoke_mode").contains("RESPONSE_STREAM");
        if let Some(function) = function_named(&attr_text(url, "function_name"))
            && streams
        {
            deployment.streaming_urls.insert(function);
        }
    }

    // The SQS event sources.
    for mapping in blocks(&tf.root, "resource", &["aws_lambda_event_source_mapping"]) {
        let Some(function) = function_named(&attr_text(mapping, "function_name")) else {
            continue;
        };
        let source = attr_text(mapping, "event_source_arn");
        let queue = if source.contains("step_queue_arn") {
            QueueKind::Steps
        } else if source.contains("message_queue_arn") {
            QueueKind::Messages
        } else {
            continue;
        };
        let reports =
            attr_text(mapping, "function_response_types").contains("ReportBatchItemFailures");
        deployment.queue_sources.insert(function, (queue, reports));
    }

    // The tick.
    let schedules = block(&tf.root, "module", &["schedules"])?;
    let tick_target = function_named(&attr_text(schedules, "scheduler_function_arn"));
    let tick = block(
        tf.module("schedules"),
        "resource",
        &["aws_scheduler_schedule"],
    )?;
    let target = tick.body().blocks().find(|b| b.identifier() == "target");
    let input = target.map(|t| attr_text(t, "input")).unwrap_or_default();
    let every_minute = attr_text(tick, "schedule_expression").contains("rate(1 minute)");
    if every_minute && input.contains("action = \"tick\"") {
        deployment.tick = tick_target.clone();
    }
    let scheduler_arn = tick_target.map(|f| function_arn(&f)).unwrap_or_default();
    let schedules_locals = locals(tf.module("schedules"));
    let scope = Scope {
        locals: &schedules_locals,
        symbols: symbols(&[("var.scheduler_function_arn", scheduler_arn)]),
    };
    let document = block(
        tf.module("schedules"),
        "data",
        &["aws_iam_policy_document", "scheduler"],
    )?;
    deployment.schedule_role = policy_document(document, &scope);

    // The workflows: the executions' role and the execution-status rule.
    let workflows = block(&tf.root, "module", &["workflows"])?;
    let step_queue = root.eval(attr(workflows, "step_queue_arn").unwrap_or(&Expression::Null));
    let step_worker = root.eval(attr(workflows, "step_worker_arn").unwrap_or(&Expression::Null));
    let workflows_locals = locals(tf.module("workflows"));
    let mut symbols = BTreeMap::new();
    symbols.insert("var.step_queue_arn".to_string(), step_queue.clone());
    symbols.insert("var.step_worker_arn".to_string(), step_worker);
    let scope = Scope {
        locals: &workflows_locals,
        symbols,
    };
    let document = block(
        tf.module("workflows"),
        "data",
        &["aws_iam_policy_document", "executions"],
    )?;
    deployment.states_role = policy_document(document, &scope);
    let rule = block(
        tf.module("workflows"),
        "resource",
        &["aws_cloudwatch_event_rule"],
    )?;
    let pattern = attr(rule, "event_pattern")
        .and_then(|e| match e {
            Expression::FuncCall(call) if call.name.name.as_str() == "jsonencode" => {
                Some(scope.eval(&call.args[0]))
            }
            _ => None,
        })
        .unwrap_or(Val::Unknown(String::new()));
    let detail_type = pattern
        .get("detail-type")
        .map(Val::strings)
        .unwrap_or_default();
    let target = block(
        tf.module("workflows"),
        "resource",
        &["aws_cloudwatch_event_target"],
    )?;
    if attr_text(target, "arn") == "var.step_queue_arn"
        && step_queue.str() == Some(queue_arn(QueueKind::Steps).as_str())
        && let Some(detail) = detail_type.first()
    {
        deployment.execution_events = Some((detail.clone(), QueueKind::Steps));
    }
    Ok(deployment)
}
