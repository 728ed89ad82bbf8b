//! The OpenAPI 3.1 document, generated from the handlers' annotations and the domain types,
//! then completed so that it tells the truth about what the server does:
//!
//! - every error a route can answer is declared, as `application/problem+json` (the
//!   shared layers answer 400, 401, 403, 413, 415, 422, 429, 500 and 503 on any route
//!   they guard, not only where a handler says so);
//! - identifiers and paging parameters carry the patterns and bounds their parsers check,
//!   so a value the schema allows is one the server accepts.

use utoipa::openapi::path::{Operation, Parameter, ParameterIn, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{Object, Schema, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, RefOr};
use utoipa::{Modify, OpenApi};

use skein_core::ids::{
    AgentId, AgentName, AgentTag, Capability, ClientId, LeaseId, MessageId, RunId, TaskId, TenantId,
};
use skein_core::problem::CONTENT_TYPE as PROBLEM_CONTENT_TYPE;

use crate::routes::{agents, auth, messages, runs, system, tasks, usage, workflows};

#[derive(OpenApi)]
#[openapi(
    info(title = "Skein API", description = "Agents, tasks, workflows and runs. Errors are RFC 9457 problem+json."),
    paths(
        system::health, system::info,
        auth::issue_token, auth::jwks, auth::create_client, auth::list_clients,
        auth::delete_client, auth::rotate_client_secret,
        agents::register_agent, agents::list_agents, agents::get_agent, agents::update_agent,
        agents::delete_agent, agents::agent_heartbeat, agents::rotate_agent_secret,
        tasks::create_task, tasks::list_tasks, tasks::get_task, tasks::claim_task,
        tasks::task_heartbeat, tasks::complete_task, tasks::fail_task,
        workflows::register_workflow, workflows::list_workflows, workflows::get_workflow,
        workflows::list_versions, workflows::get_version, workflows::get_asl, workflows::get_graph,
        workflows::workflow_schema,
        runs::start_run, runs::list_runs, runs::get_run, runs::run_events, runs::run_graph, runs::cancel_run,
        runs::list_approvals, runs::approve_step, runs::reject_step, runs::run_usage,
        usage::usage_report, usage::get_budget, usage::set_budget,
        messages::send_message, messages::broadcast_message, messages::read_inbox,
        messages::ack_message, messages::reply_message, messages::list_dead_letters,
        messages::redrive_dead_letter,
    ),
    modifiers(&BearerAuth, &ParsedValues, &Problems),
    security(("bearer" = [])),
    tags((name = "auth"), (name = "agents"), (name = "tasks"), (name = "workflows"), (name = "runs"), (name = "messages"), (name = "usage"), (name = "system")),
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".into());
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The largest page a list returns (`limit`), as `PageRequest` checks it.
const MAX_PAGE: u32 = skein_core::cursor::MAX_LIMIT;

/// Patterns and bounds of the values the server parses, on the schemas of the id types
/// and on the path and query parameters that take them.
struct ParsedValues;

impl Modify for ParsedValues {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let prefixed = [
            ("RunId", RunId::PATTERN),
            ("AgentId", AgentId::PATTERN),
            ("TaskId", TaskId::PATTERN),
            ("ClientId", ClientId::PATTERN),
            ("MessageId", MessageId::PATTERN),
            ("LeaseId", LeaseId::PATTERN),
        ];
        let slugs = [
            ("TenantId", TenantId::PATTERN, TenantId::MAX_LEN),
            ("Capability", Capability::PATTERN, Capability::MAX_LEN),
            ("AgentTag", AgentTag::PATTERN, AgentTag::MAX_LEN),
            ("AgentName", AgentName::PATTERN, AgentName::MAX_LEN),
        ];
        if let Some(components) = openapi.components.as_mut() {
            for (name, pattern) in prefixed {
                if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(name) {
                    object.pattern = Some(pattern.into());
                }
            }
            // A client credential is for people and services: agents get theirs when they
            // are registered.
            if let Some(RefOr::T(Schema::Object(new_client))) =
                components.schemas.get_mut("NewClient")
                && let Some(RefOr::T(Schema::Array(roles))) = new_client.properties.get_mut("roles")
            {
                let mut role = Object::with_type(Type::String);
                role.enum_values = Some(vec!["admin".into(), "operator".into()]);
                roles.items = utoipa::openapi::schema::ArrayItems::RefOrSchema(Box::new(RefOr::T(
                    Schema::Object(role),
                )));
                roles.min_items = Some(1);
            }
            // Sets the server dedups (a repeated tag is the tag once), not lists it refuses.
            for name in ["NewAgent", "AgentPatch", "NewBroadcast"] {
                if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(name) {
                    for property in object.properties.values_mut() {
                        if let RefOr::T(Schema::Array(array)) = property {
                            array.unique_items = false;
                        }
                    }
                }
            }
            // A budget caps dollars, tokens or both: at least one of them. (Set here: the
            // derive's `min_properties` renders as `maxProperties` in utoipa 5.5.)
            if let Some(RefOr::T(Schema::Object(budget))) = components.schemas.get_mut("Budget") {
                budget.min_properties = Some(1);
            }
            // A task is for one agent or for a capability: exactly one of the two.
            if let Some(RefOr::T(Schema::Object(task))) = components.schemas.get("NewTask") {
                let either = |field: &str| {
                    let mut object = Object::new();
                    object.required = vec![field.to_string()];
                    RefOr::T(Schema::Object(object))
                };
                let mut one_of = utoipa::openapi::schema::OneOf::new();
                one_of.items = vec![either("agent"), either("capability")];
                let mut all_of = utoipa::openapi::schema::AllOf::new();
                all_of.items = vec![
                    RefOr::T(Schema::Object(task.clone())),
                    RefOr::T(Schema::OneOf(one_of)),
                ];
                components
                    .schemas
                    .insert("NewTask".to_string(), RefOr::T(Schema::AllOf(all_of)));
            }
            for (name, pattern, max) in slugs {
                if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(name) {
                    object.pattern = Some(pattern.into());
                    object.min_length = Some(1);
                    object.max_length = Some(max);
                }
            }
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            for operation in operations(item) {
                for parameter in operation.parameters.iter_mut().flatten() {
                    constrain(path, parameter);
                }
            }
        }
    }
}

fn constrain(path: &str, parameter: &mut Parameter) {
    let string = |pattern: &str, max: Option<usize>| {
        let mut object = Object::with_type(Type::String);
        object.pattern = Some(pattern.into());
        object.min_length = Some(1);
        object.max_length = max;
        RefOr::T(Schema::Object(object))
    };
    match (&parameter.parameter_in, parameter.name.as_str()) {
        (ParameterIn::Query, "limit") => {
            if let Some(RefOr::T(Schema::Object(object))) = parameter.schema.as_mut() {
                object.minimum = Some(1.into());
                object.maximum = Some(MAX_PAGE.into());
            }
        }
        (ParameterIn::Path, "id") if path.starts_with("/v1/clients/") => {
            parameter.schema = Some(string(ClientId::PATTERN, None));
        }
        (ParameterIn::Path, "id") if path.starts_with("/v1/workflows/") => {
            parameter.schema = Some(string(
                skein_core::workflows::NAME_PATTERN,
                Some(skein_core::workflows::MAX_ID_LEN),
            ));
        }
        (ParameterIn::Path | ParameterIn::Query, "version") => {
            let mut object = Object::with_type(Type::String);
            object.pattern = Some(r"^([1-9][0-9]{0,8}|latest)$".into());
            object.description = Some("a version number, or `latest`".into());
            if parameter.parameter_in == ParameterIn::Query {
                // A query `version` is a number only.
                let mut number = Object::with_type(Type::Integer);
                number.minimum = Some(1.into());
                number.maximum = Some(u32::MAX.into());
                parameter.schema = Some(RefOr::T(Schema::Object(number)));
            } else {
                parameter.schema = Some(RefOr::T(Schema::Object(object)));
            }
        }
        (ParameterIn::Header, "Idempotency-Key") => {
            let mut object = Object::with_type(Type::String);
            // What `check_idempotency_key` accepts: printable ASCII without spaces.
            object.pattern = Some("^[!-~]+$".into());
            object.min_length = Some(1);
            object.max_length = Some(skein_core::tasks::MAX_IDEMPOTENCY_KEY_LEN);
            parameter.schema = Some(RefOr::T(Schema::Object(object)));
        }
        (ParameterIn::Path, "step") => {
            parameter.schema = Some(string(
                skein_core::workflows::NAME_PATTERN,
                Some(skein_core::workflows::MAX_ID_LEN),
            ));
        }
        _ => {}
    }
}

/// Every error the server may answer on each route, as problem+json.
struct Problems;

impl Modify for Problems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let problem = || {
            let mut content = Content::new(Some(RefOr::Ref(
                utoipa::openapi::Ref::from_schema_name("Problem"),
            )));
            content.example = None;
            content
        };
        let secured_by_default = openapi.security.as_ref().is_some_and(|s| !s.is_empty());
        for (path, item) in openapi.paths.paths.iter_mut() {
            let has_path_parameters = path.contains('{');
            for operation in operations(item) {
                let secured = match &operation.security {
                    Some(requirements) => requirements
                        .iter()
                        .any(|r| r != &utoipa::openapi::security::SecurityRequirement::default()),
                    None => secured_by_default,
                };
                let takes_body = operation.request_body.is_some();
                let takes_query = operation
                    .parameters
                    .iter()
                    .flatten()
                    .any(|p| p.parameter_in == ParameterIn::Query);
                let mut statuses = vec![
                    (
                        400,
                        "the request is malformed: a parameter, header or body the server cannot read",
                    ),
                    (429, "too many requests: wait as `Retry-After` says"),
                    (
                        500,
                        "the server failed; the problem's `instance` names the request",
                    ),
                    (503, "a dependency is unavailable; retry later"),
                ];
                if secured || path == "/v1/auth/token" {
                    statuses.push((401, "no token, or an expired, revoked or invalid one (or wrong client credentials)"));
                }
                if secured {
                    statuses.push((403, "the caller may not do this"));
                }
                if has_path_parameters {
                    statuses.push((404, "no such resource in the caller's tenant"));
                }
                if takes_body || takes_query {
                    statuses.push((
                        422,
                        "a value is invalid: `errors` lists each field and what to fix",
                    ));
                }
                if takes_body {
                    statuses.push((413, "the body is larger than the server accepts"));
                    statuses.push((415, "the body's Content-Type is not one this route reads"));
                }
                if operation_changes_state(operation) && secured {
                    statuses.push((409, "the resource's state does not allow this now"));
                }
                let responses = &mut operation.responses.responses;
                // Errors are problem+json, whatever type a handler's annotation named.
                for (status, response) in responses.iter_mut() {
                    if (status.starts_with('4') || status.starts_with('5'))
                        && let RefOr::T(response) = response
                    {
                        response.content.clear();
                        response
                            .content
                            .insert(PROBLEM_CONTENT_TYPE.to_string(), problem());
                    }
                }
                for (status, description) in statuses {
                    responses.entry(status.to_string()).or_insert_with(|| {
                        RefOr::T(
                            ResponseBuilder::new()
                                .description(description)
                                .content(PROBLEM_CONTENT_TYPE, problem())
                                .build(),
                        )
                    });
                }
            }
        }
    }
}

fn operation_changes_state(operation: &Operation) -> bool {
    operation
        .operation_id
        .as_deref()
        .is_some_and(|id| !id.starts_with("get_") && !id.starts_with("list_"))
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
        item.head.as_mut(),
        item.options.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn document() -> Value {
        serde_json::to_value(super::document()).unwrap()
    }

    #[test]
    fn every_error_is_declared_as_problem_json() {
        let doc = document();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let responses = operation["responses"].as_object().unwrap();
                for status in ["400", "429", "500", "503"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path}: no {status}"
                    );
                }
                for (status, response) in responses {
                    if status.starts_with('4') || status.starts_with('5') {
                        let types: Vec<_> =
                            response["content"].as_object().unwrap().keys().collect();
                        assert_eq!(
                            types,
                            ["application/problem+json"],
                            "{method} {path} {status}"
                        );
                    }
                }
            }
        }
        let create_task = &doc["paths"]["/v1/tasks"]["post"]["responses"];
        for status in ["401", "403", "413", "415", "422"] {
            assert!(
                create_task.get(status).is_some(),
                "POST /v1/tasks: no {status}"
            );
        }
    }

    #[test]
    fn ids_and_pages_carry_what_their_parsers_accept() {
        let doc = document();
        let pattern = doc["components"]["schemas"]["RunId"]["pattern"]
            .as_str()
            .unwrap();
        assert_eq!(pattern, skein_core::ids::RunId::PATTERN);
        let limit = doc["paths"]["/v1/runs"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap();
        assert_eq!(limit["schema"]["maximum"], skein_core::cursor::MAX_LIMIT);
        let client = &doc["paths"]["/v1/clients/{id}"]["delete"]["parameters"][0]["schema"];
        assert_eq!(client["pattern"], skein_core::ids::ClientId::PATTERN);
    }
}
