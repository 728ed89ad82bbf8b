output "role_arn" {
  description = "The role executions assume (SKEIN_STATES_ROLE_ARN)."
  value       = aws_iam_role.executions.arn
}

output "log_group_arn" {
  description = "The execution log group (SKEIN_STATES_LOG_GROUP_ARN)."
  value       = aws_cloudwatch_log_group.executions.arn
}

output "execution_ended_rule_arn" {
  description = "The rule that routes execution status changes to the step queue."
  value       = aws_cloudwatch_event_rule.execution_ended.arn
}

output "policy_json" {
  description = "The executions' permissions, as IAM JSON."
  value       = data.aws_iam_policy_document.executions.json
}
