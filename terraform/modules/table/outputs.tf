output "name" {
  description = "The table's name (SKEIN_TABLE)."
  value       = aws_dynamodb_table.this.name
}

output "arn" {
  description = "The table's ARN."
  value       = aws_dynamodb_table.this.arn
}

output "index_arns" {
  description = "Its indexes' ARNs, for Query permissions."
  value       = ["${aws_dynamodb_table.this.arn}/index/*"]
}
