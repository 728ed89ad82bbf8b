# Alarms: anything in a DLQ, function errors, throttles, a step failure rate and the step
# queue's oldest message. They notify var.alarm_actions.

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

# Steps failing for good, from the step-worker's EMF metrics (skein_core::metrics): above
# var.step_failure_rate_percent of the attempts that ended, once at least 10 did.
resource "aws_cloudwatch_metric_alarm" "step_failure_rate" {
  alarm_name          = "${var.name_prefix}-step-failure-rate"
  alarm_description   = "More than ${var.step_failure_rate_percent}% of step attempts failed for good in 5 minutes: `skein runs list --status failed` shows which runs, and their steps' errors say why."
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.step_failure_rate_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  metric_query {
    id          = "rate"
    expression  = "IF(ended >= 10, 100 * FILL(failed, 0) / ended, 0)"
    label       = "Step attempts failed for good (%)"
    return_data = true
  }

  metric_query {
    id         = "ended"
    expression = "FILL(failed, 0) + FILL(succeeded, 0) + FILL(retrying, 0)"
  }

  dynamic "metric_query" {
    for_each = toset(["failed", "succeeded", "retrying"])
    content {
      id = metric_query.value
      metric {
        namespace   = "Skein/${var.name_prefix}"
        metric_name = "skein_step_attempts_total"
        dimensions  = { outcome = metric_query.value }
        stat        = "Sum"
        period      = local.alarm_period
      }
    }
  }
}

# Step messages nobody takes: the step-worker is failing, throttled or disabled.
resource "aws_cloudwatch_metric_alarm" "step_queue_age" {
  alarm_name          = "${var.name_prefix}-step-queue-age"
  alarm_description   = "A step message has waited over ${var.step_queue_max_age_seconds} s: check the step-worker's errors and throttles, and its event source mapping."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = module.queues.step_queue_name }
  statistic           = "Maximum"
  period              = local.alarm_period
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.step_queue_max_age_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}
