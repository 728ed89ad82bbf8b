output "url" {
  description = "The API's HTTPS URL."
  value       = aws_apigatewayv2_stage.default.invoke_url
}

output "id" {
  description = "The API's id."
  value       = aws_apigatewayv2_api.this.id
}
