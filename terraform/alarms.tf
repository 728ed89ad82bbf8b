# Alarms: anything in a DLQ, function errors, throttles. They notify var.alarm_actions.

locals {
  alarm_period = 300
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  for_each            = module.queues.dead_letter_queues
  alarm_name          = "${var.name_prefix}-${each.key}-dead-letters"
  alarm_description   = "Messages reached the ${each.key} DLQ: read them, fix the cause, then redrive them (SQS console or `aws sqs start-message-move-task`)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = local.alarm_period
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each            = module.function
  alarm_name          = "${each.value.name}-errors"
  alarm_description   = "${each.value.name} failed invocations; its logs are in /aws/lambda/${each.value.name}."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value.name }
  statistic           = "Sum"
  period              = local.alarm_period
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "function_throttles" {
  for_each            = module.function
  alarm_name          = "${each.value.name}-throttles"
  alarm_description   = "${each.value.name} was throttled: raise its reserved concurrency or the account's quota."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = each.value.name }
  statistic           = "Sum"
  period              = local.alarm_period
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}
