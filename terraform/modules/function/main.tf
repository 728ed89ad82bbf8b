# One Skein function: an arm64 provided.al2023 Lambda from its cargo-lambda zip, its log
# group, X-Ray tracing, and a role allowed exactly the actions its code calls.

locals {
  # The function's own resources, next to the platform's.
  resource_arns = merge(var.resource_arns, {
    Logs    = ["${aws_cloudwatch_log_group.this.arn}:*"]
    Tracing = ["*"]
  })
  conditions = {
    EnvironmentKey = [{ test = "StringEquals", variable = "kms:EncryptionContext:LambdaFunctionName", values = [var.name] }]
    StatesRole     = [{ test = "StringEquals", variable = "iam:PassedToService", values = ["states.amazonaws.com"] }]
  }
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = var.name
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "permissions" {
  dynamic "statement" {
    for_each = var.permissions
    content {
      sid       = statement.key
      actions   = statement.value
      resources = local.resource_arns[statement.key]

      # Decrypting only this function's environment; passing the executions' role only
      # to Step Functions.
      dynamic "condition" {
        for_each = lookup(local.conditions, statement.key, [])
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.name}-permissions"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.permissions.json
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:Skein reaches only AWS APIs (DynamoDB, SQS, Step Functions) and an optional public LLM endpoint; a VPC would add NAT gateway cost and cold-start latency for no isolation gain.
  #checkov:skip=CKV_AWS_116:Invoked synchronously (API Gateway, Step Functions) or by SQS event source mappings whose queues have their own DLQs; a function DLQ only applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile, which cargo-lambda zips built in CI are not signed with; the zips' SHA-256 is pinned by source_code_hash instead.
  function_name                  = var.name
  description                    = var.description
  role                           = aws_iam_role.this.arn
  architectures                  = ["arm64"]
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  filename                       = var.zip_path
  source_code_hash               = filebase64sha256(var.zip_path)
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = var.kms_key_arn
  tags                           = var.tags

  environment {
    variables = var.environment
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  depends_on = [aws_iam_role_policy.this]
}
