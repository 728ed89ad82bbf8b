# What the state machines the API creates (one per workflow version, named <name_prefix>-*) need:
# the role their executions assume, the log group they log to, and the rule that tells
# the step-worker when an execution ends.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  account            = data.aws_caller_identity.current.account_id
  machine_arn_prefix = "arn:aws:states:${data.aws_region.current.region}:${local.account}:stateMachine:${var.name_prefix}-"
  machine_arn_like   = "${local.machine_arn_prefix}*"
}

resource "aws_cloudwatch_log_group" "executions" {
  name              = "/aws/vendedlogs/states/${var.name_prefix}-executions"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
    # Only this account's Skein state machines may assume it.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.machine_arn_like]
    }
  }
}

resource "aws_iam_role" "executions" {
  name               = "${var.name_prefix}-executions"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

# skein_lambda::deploy::STATES_ROLE_ACTIONS
data "aws_iam_policy_document" "executions" {
  statement {
    sid       = "StepQueue"
    actions   = ["sqs:SendMessage"]
    resources = [var.step_queue_arn]
  }

  statement {
    sid       = "StepWorker"
    actions   = ["lambda:InvokeFunction"]
    resources = [var.step_worker_arn, "${var.step_worker_arn}:*"]
  }

  # CloudWatch Logs delivery takes no resource but "*".
  statement {
    sid = "LogDelivery"
    actions = [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "executions" {
  name   = "${var.name_prefix}-executions"
  role   = aws_iam_role.executions.id
  policy = data.aws_iam_policy_document.executions.json
}

# Execution status changes of Skein's state machines, for the step-worker to record a
# run's end (skein_lambda::step_worker::EXECUTION_STATUS_CHANGE).
resource "aws_cloudwatch_event_rule" "execution_ended" {
  name        = "${var.name_prefix}-execution-ended"
  description = "Skein executions that ended, to the step queue"
  event_pattern = jsonencode({
    source        = ["aws.states"]
    "detail-type" = ["Step Functions Execution Status Change"]
    detail = {
      status          = ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]
      stateMachineArn = [{ prefix = local.machine_arn_prefix }]
    }
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "execution_ended" {
  rule      = aws_cloudwatch_event_rule.execution_ended.name
  target_id = "step-queue"
  arn       = var.step_queue_arn

  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }
}
