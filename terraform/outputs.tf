output "api_url" {
  description = "The HTTPS API: point the CLI at it with SKEIN_URL."
  value       = module.http_api.url
}

output "events_url" {
  description = "Live run events without the edge: GET <events_url>/v1/runs/{id}/events streams them."
  value       = aws_lambda_function_url.run_events.function_url
}

output "table_name" {
  description = "The DynamoDB table."
  value       = module.table.name
}

output "step_queue_url" {
  description = "The step queue."
  value       = module.queues.step_queue_url
}

output "message_queue_url" {
  description = "The messages queue."
  value       = module.queues.message_queue_url
}

output "dead_letter_queues" {
  description = "The DLQs, by queue."
  value       = module.queues.dead_letter_queues
}

output "function_role_arns" {
  description = "Each function's execution role."
  value       = { for name, function in module.function : name => function.role_arn }
}

output "states_role_arn" {
  description = "The role state machines' executions assume."
  value       = module.workflows.role_arn
}

output "schedules_role_arn" {
  description = "The role the scheduler's tick assumes."
  value       = module.schedules.role_arn
}

output "kms_key_arn" {
  description = "The platform's KMS key (function environments, logs)."
  value       = aws_kms_key.platform.arn
}
