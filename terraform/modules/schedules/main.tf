# EventBridge Scheduler: the platform's one-minute tick, which fires the workflow
# schedules kept in the table and enforces timeouts (the `skein dev` sweeper's work),
# in a group of its own with a role that may invoke only the scheduler function.

resource "aws_scheduler_schedule_group" "this" {
  name = var.name_prefix
  tags = var.tags
}

data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name_prefix}-schedules"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

# skein_lambda::deploy::SCHEDULE_ROLE_ACTIONS
data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "Scheduler"
    actions   = ["lambda:InvokeFunction"]
    resources = [var.scheduler_function_arn, "${var.scheduler_function_arn}:*"]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "${var.name_prefix}-schedules"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

resource "aws_scheduler_schedule" "tick" {
  #checkov:skip=CKV_AWS_297:The tick's payload is the constant {"action":"tick"}; a customer managed key would only add a key policy for the Scheduler role.
  name                = "${var.name_prefix}-tick"
  group_name          = aws_scheduler_schedule_group.this.name
  description         = "Fires due workflow schedules and times out approvals, reply waits and task leases"
  schedule_expression = "rate(1 minute)"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = var.scheduler_function_arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ action = "tick" })

    # A missed tick is made up by the next one.
    retry_policy {
      maximum_event_age_in_seconds = 60
      maximum_retry_attempts       = 0
    }
  }
}
