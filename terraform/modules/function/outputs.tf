output "arn" {
  description = "The function's ARN."
  value       = aws_lambda_function.this.arn
}

output "name" {
  description = "The function's name."
  value       = aws_lambda_function.this.function_name
}

output "invoke_arn" {
  description = "The ARN API Gateway invokes."
  value       = aws_lambda_function.this.invoke_arn
}

output "role_arn" {
  description = "The function's execution role."
  value       = aws_iam_role.this.arn
}

output "policy_json" {
  description = "The function's permissions, as IAM JSON."
  value       = data.aws_iam_policy_document.permissions.json
}
