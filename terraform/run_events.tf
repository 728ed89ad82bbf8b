# A run's live events without the edge. API Gateway's HTTP API buffers a Lambda's response
# and cuts it at 29 s, so GET /v1/runs/{id}/events through it returns only when the run ends.
# api-run-events streams the same route from its own function URL (RESPONSE_STREAM); it
# verifies the bearer token itself, as every API function does, so the URL needs no IAM
# auth and any SSE client (a browser's EventSource too) can use it.
resource "aws_lambda_function_url" "run_events" {
  #checkov:skip=CKV_AWS_258: the function authenticates each request with the platform's JWT, as the API's functions do; IAM auth would shut out SSE clients
  function_name      = module.function["api-run-events"].name
  authorization_type = "NONE"
  invoke_mode        = "RESPONSE_STREAM"

  cors {
    allow_origins = ["*"]
    allow_methods = ["GET"]
    allow_headers = ["authorization", "last-event-id"]
  }
}
