output "step_queue_url" {
  description = "The step queue's URL (SKEIN_STEP_QUEUE_URL)."
  value       = aws_sqs_queue.steps.url
}

output "step_queue_name" {
  description = "The step queue's name, for its age alarm."
  value       = aws_sqs_queue.steps.name
}

output "step_queue_arn" {
  description = "The step queue's ARN."
  value       = aws_sqs_queue.steps.arn
}

output "message_queue_url" {
  description = "The messages queue's URL (SKEIN_MESSAGE_QUEUE_URL)."
  value       = aws_sqs_queue.messages.url
}

output "message_queue_arn" {
  description = "The messages queue's ARN."
  value       = aws_sqs_queue.messages.arn
}

output "dead_letter_queues" {
  description = "The DLQs by name, for alarms."
  value = {
    steps    = aws_sqs_queue.step_dlq.name
    messages = aws_sqs_queue.message_dlq.name
  }
}
