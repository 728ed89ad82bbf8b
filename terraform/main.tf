# Skein on AWS: the table, the queues, the functions (one per functions/ crate), the
# HTTPS API, the workflows' role and log group, the scheduler's tick, and alarms.
# The functions and what each may do are in functions.tf; the routes in routes.tf.

module "table" {
  source              = "./modules/table"
  name                = var.name_prefix
  kms_key_arn         = var.table_kms_key_arn
  deletion_protection = var.table_deletion_protection
}

module "queues" {
  source                    = "./modules/queues"
  name_prefix               = var.name_prefix
  step_worker_timeout       = var.step_worker_timeout
  message_router_timeout    = local.functions["message-router"].timeout
  step_max_receives         = var.step_max_receives
  message_max_receives      = var.message_max_receives
  execution_events_rule_arn = module.workflows.execution_ended_rule_arn
}

module "workflows" {
  source             = "./modules/workflows"
  name_prefix        = var.name_prefix
  step_queue_arn     = module.queues.step_queue_arn
  step_worker_arn    = local.step_worker_arn
  kms_key_arn        = aws_kms_key.platform.arn
  log_retention_days = var.log_retention_days
}

module "function" {
  source   = "./modules/function"
  for_each = local.functions

  name                 = "${var.name_prefix}-${each.key}"
  description          = each.value.description
  zip_path             = "${var.package_dir}/${each.key}/bootstrap.zip"
  memory_size          = each.value.memory_size
  timeout              = each.value.timeout
  reserved_concurrency = lookup(var.reserved_concurrency, each.key, -1)
  environment          = each.value.environment
  permissions          = each.value.permissions
  resource_arns        = local.resource_arns
  kms_key_arn          = aws_kms_key.platform.arn
  log_retention_days   = var.log_retention_days
}

# The SQS event sources: batches of up to 10, per-message failures reported back.
resource "aws_lambda_event_source_mapping" "steps" {
  function_name           = module.function["step-worker"].arn
  event_source_arn        = module.queues.step_queue_arn
  batch_size              = 10
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.queue_concurrency.steps
  }
}

resource "aws_lambda_event_source_mapping" "messages" {
  function_name                      = module.function["message-router"].arn
  event_source_arn                   = module.queues.message_queue_arn
  batch_size                         = 10
  maximum_batching_window_in_seconds = 0
  function_response_types            = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.queue_concurrency.messages
  }
}

module "http_api" {
  source        = "./modules/http_api"
  name          = var.name_prefix
  routes        = local.routes
  public_routes = local.public_routes
  functions = {
    for name, function in module.function : name => {
      arn        = function.arn
      invoke_arn = function.invoke_arn
    } if startswith(name, "api-")
  }
  authorizer = {
    arn        = module.function["authorizer"].arn
    invoke_arn = module.function["authorizer"].invoke_arn
  }
  authorizer_cache_seconds = var.authorizer_cache_seconds
  throttle_rate            = var.api_throttle.rate
  throttle_burst           = var.api_throttle.burst
  cors_allow_origins       = var.cors_allow_origins
  kms_key_arn              = aws_kms_key.platform.arn
  log_retention_days       = var.log_retention_days
}

module "schedules" {
  source                 = "./modules/schedules"
  name_prefix            = var.name_prefix
  scheduler_function_arn = module.function["scheduler"].arn
}
