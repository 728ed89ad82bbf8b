//! The OpenAPI 3.1 document, generated from the handlers' annotations and the domain types.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{agents, auth, messages, runs, system, tasks, workflows};

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
        runs::list_approvals, runs::approve_step, runs::reject_step,
        messages::send_message, messages::broadcast_message, messages::read_inbox,
        messages::ack_message, messages::reply_message, messages::list_dead_letters,
        messages::redrive_dead_letter,
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags((name = "auth"), (name = "agents"), (name = "tasks"), (name = "workflows"), (name = "runs"), (name = "messages"), (name = "system")),
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

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
