# Alarms: anything in a DLQ, function errors, throttles. They notify var.alarm_actions.

locals {
  alarm_period = 300
  function_alarms = {
    Errors    = "failed invocations; its logs are in /aws/lambda/<function>."
    Throttles = "throttled: raise its reserved concurrency or the account's quota."
  }
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

# Errors and throttles of every function.
resource "aws_cloudwatch_metric_alarm" "functions" {
  for_each = {
    for pair in setproduct(keys(local.functions), keys(local.function_alarms)) :
    "${pair[0]}-${lower(pair[1])}" => { function = module.function[pair[0]].name, metric = pair[1] }
  }
  alarm_name          = "${each.value.function}-${lower(each.value.metric)}"
  alarm_description   = "${each.value.function}: ${local.function_alarms[each.value.metric]}"
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = each.value.function }
  statistic           = "Sum"
  period              = local.alarm_period
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}
