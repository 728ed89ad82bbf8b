# One route per operation of the OpenAPI document (`skein openapi`), plus the document
# itself, each to the API function of its resource group (skein_http::ApiGroup). Paths the
# API does not have never reach a function. The consistency test checks this against the
# code: every operation routed, to the function whose router serves it.

locals {
  routes = {
    "GET /.well-known/jwks.json"     = "api-agents"
    "GET /v1/agents"                 = "api-agents"
    "POST /v1/agents"                = "api-agents"
    "DELETE /v1/agents/{id}"         = "api-agents"
    "GET /v1/agents/{id}"            = "api-agents"
    "PATCH /v1/agents/{id}"          = "api-agents"
    "POST /v1/agents/{id}/heartbeat" = "api-agents"
    "POST /v1/agents/{id}/secret"    = "api-agents"
    "POST /v1/auth/token"            = "api-agents"
    "GET /v1/clients"                = "api-agents"
    "POST /v1/clients"               = "api-agents"
    "DELETE /v1/clients/{id}"        = "api-agents"
    "POST /v1/clients/{id}/secret"   = "api-agents"
    "GET /v1/health"                 = "api-agents"
    "GET /v1/info"                   = "api-agents"
    "GET /v1/openapi.json"           = "api-agents"

    "GET /v1/agents/{id}/inbox"                  = "api-messages"
    "POST /v1/agents/{id}/inbox/{message}/ack"   = "api-messages"
    "POST /v1/agents/{id}/inbox/{message}/reply" = "api-messages"
    "POST /v1/agents/{id}/messages"              = "api-messages"
    "GET /v1/dead-letters"                       = "api-messages"
    "POST /v1/dead-letters/{message}/redrive"    = "api-messages"
    "POST /v1/messages/broadcast"                = "api-messages"

    "GET /v1/approvals"                       = "api-runs"
    "GET /v1/runs"                            = "api-runs"
    "GET /v1/runs/{id}"                       = "api-runs"
    "POST /v1/runs/{id}/cancel"               = "api-runs"
    "GET /v1/runs/{id}/events"                = "api-runs"
    "GET /v1/runs/{id}/graph"                 = "api-runs"
    "GET /v1/runs/{id}/usage"                 = "api-runs"
    "GET /v1/usage"                           = "api-runs"
    "GET /v1/usage/budget"                    = "api-runs"
    "PUT /v1/usage/budget"                    = "api-runs"
    "POST /v1/runs/{id}/steps/{step}/approve" = "api-runs"
    "POST /v1/runs/{id}/steps/{step}/reject"  = "api-runs"
    "POST /v1/workflows/{id}/runs"            = "api-runs"

    "POST /v1/agents/{id}/tasks/claim" = "api-tasks"
    "GET /v1/tasks"                    = "api-tasks"
    "POST /v1/tasks"                   = "api-tasks"
    "GET /v1/tasks/{id}"               = "api-tasks"
    "POST /v1/tasks/{id}/complete"     = "api-tasks"
    "POST /v1/tasks/{id}/fail"         = "api-tasks"
    "POST /v1/tasks/{id}/heartbeat"    = "api-tasks"

    "GET /v1/schemas/workflow.json"                 = "api-workflows"
    "GET /v1/workflows"                             = "api-workflows"
    "POST /v1/workflows"                            = "api-workflows"
    "GET /v1/workflows/{id}"                        = "api-workflows"
    "GET /v1/workflows/{id}/graph"                  = "api-workflows"
    "GET /v1/workflows/{id}/versions"               = "api-workflows"
    "GET /v1/workflows/{id}/versions/{version}"     = "api-workflows"
    "GET /v1/workflows/{id}/versions/{version}/asl" = "api-workflows"
  }

  # No token: health (deep health checks its own), info, the OpenAPI document, the
  # workflow schema (for editors), the JWKS and the token exchange.
  public_routes = [
    "GET /.well-known/jwks.json",
    "GET /v1/health",
    "GET /v1/info",
    "GET /v1/openapi.json",
    "GET /v1/schemas/workflow.json",
    "POST /v1/auth/token",
  ]
}
