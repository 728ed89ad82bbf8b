# The step queue (step messages from state machines and the step-worker, execution status
# changes from EventBridge) and the messages queue (agent messages), each with a DLQ.
# Encrypted with SQS-managed keys, so EventBridge and Step Functions can send without a
# key policy.

locals {
  retention_seconds = 1209600 # 14 days: the longest SQS keeps a message
}

resource "aws_sqs_queue" "step_dlq" {
  name                      = "${var.name_prefix}-steps-dlq"
  message_retention_seconds = local.retention_seconds
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_sqs_queue" "steps" {
  name                       = "${var.name_prefix}-steps"
  visibility_timeout_seconds = 6 * var.step_worker_timeout
  message_retention_seconds  = local.retention_seconds
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = true
  tags                       = var.tags

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.step_dlq.arn
    maxReceiveCount     = var.step_max_receives + 1
  })
}

resource "aws_sqs_queue" "message_dlq" {
  name                      = "${var.name_prefix}-messages-dlq"
  message_retention_seconds = local.retention_seconds
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_sqs_queue" "messages" {
  name                       = "${var.name_prefix}-messages"
  visibility_timeout_seconds = 6 * var.message_router_timeout
  message_retention_seconds  = local.retention_seconds
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = true
  tags                       = var.tags

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.message_dlq.arn
    maxReceiveCount     = var.message_max_receives + 1
  })
}

# Only the DLQs' own source queues may redrive into them.
resource "aws_sqs_queue_redrive_allow_policy" "step_dlq" {
  queue_url = aws_sqs_queue.step_dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.steps.arn]
  })
}

resource "aws_sqs_queue_redrive_allow_policy" "message_dlq" {
  queue_url = aws_sqs_queue.message_dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.messages.arn]
  })
}

# EventBridge delivers execution status changes from the one rule that routes them.
data "aws_iam_policy_document" "steps" {
  statement {
    sid       = "ExecutionStatusChanges"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.steps.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [var.execution_events_rule_arn]
    }
  }
}

resource "aws_sqs_queue_policy" "steps" {
  queue_url = aws_sqs_queue.steps.id
  policy    = data.aws_iam_policy_document.steps.json
}
