output "group_name" {
  description = "The schedule group; per-workflow EventBridge schedules may live here too."
  value       = aws_scheduler_schedule_group.this.name
}

output "role_arn" {
  description = "The role schedules assume to invoke the scheduler function."
  value       = aws_iam_role.scheduler.arn
}

output "policy_json" {
  description = "The schedules' permissions, as IAM JSON."
  value       = data.aws_iam_policy_document.scheduler.json
}
