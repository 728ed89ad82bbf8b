# The functions, one per functions/ crate, and what each may do. The permissions are
# skein_lambda::deploy::functions(): each key is a resource (a statement Sid) and its
# actions those the function's code calls on it, no more. tests/tests/deploy_consistency.rs
# fails when this and the code disagree.

locals {
  # The actions, as the adapters list them next to their calls (skein_aws::iam).
  actions = {
    dynamodb         = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"]
    sqs_send         = ["sqs:SendMessage"]
    sqs_depth        = ["sqs:GetQueueAttributes"]
    sqs_event_source = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    states_register  = ["states:CreateStateMachine", "states:DescribeStateMachine", "states:PublishStateMachineVersion"]
    states_probe     = ["states:DescribeStateMachine"]
    states_start     = ["states:StartExecution"]
    states_stop      = ["states:StopExecution"]
    task_tokens      = ["states:SendTaskSuccess", "states:SendTaskFailure"]
    pass_role        = ["iam:PassRole"]
    log_delivery     = ["logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"]
    logs             = ["logs:CreateLogStream", "logs:PutLogEvents"]
    tracing          = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    environment_key  = ["kms:Decrypt"]
    bedrock_invoke   = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
  }

  # The provider and the models are no secrets (only llm.api_key is), and the step-worker's
  # permissions, which its policy's statements iterate over, depend on them.
  llm_provider = nonsensitive(var.llm == null ? "" : var.llm.provider)
  # The models llm steps may name besides the default (skein_agents::LlmSettings::models).
  # With Bedrock, the deployment's model and llm.models: also all its role may invoke.
  llm_models = nonsensitive(var.llm == null ? [] : (var.llm.provider == "bedrock" ? distinct(concat([var.llm.model], var.llm.models)) : var.llm.models))

  step_worker_arn = "arn:${data.aws_partition.current.partition}:lambda:${local.region}:${local.account}:function:${var.name_prefix}-step-worker"
  states_arn      = "arn:${data.aws_partition.current.partition}:states:${local.region}:${local.account}"

  # What each permission key names. Logs and Tracing are added by the function module.
  resource_arns = {
    Table              = [module.table.arn, "${module.table.arn}/index/*"]
    StepQueue          = [module.queues.step_queue_arn]
    StepQueueSource    = [module.queues.step_queue_arn]
    MessageQueue       = [module.queues.message_queue_arn]
    MessageQueueSource = [module.queues.message_queue_arn]
    StateMachines      = ["${local.states_arn}:stateMachine:${var.name_prefix}-*"]
    Executions         = ["${local.states_arn}:execution:${var.name_prefix}-*:*"]
    TaskTokens         = ["*"]
    StatesRole         = [module.workflows.role_arn]
    LogDelivery        = ["*"]
    EnvironmentKey     = [aws_kms_key.platform.arn]
    # A foundation model in any region (where a cross-region inference profile routes),
    # and an inference profile of this account in its region.
    Models = flatten([for model in local.llm_models : [
      "arn:${data.aws_partition.current.partition}:bedrock:*::foundation-model/${model}",
      "arn:${data.aws_partition.current.partition}:bedrock:${local.region}:${local.account}:inference-profile/${model}",
    ]])
  }

  # What the API's functions read at start to verify tokens: the public key only
  # (skein_lambda::AuthSettings::VERIFIER_VARIABLES). The private key is added for
  # api-agents alone, which issues them (ISSUER_VARIABLES). The step-worker, the
  # message-router and the scheduler serve no API and get none of these.
  auth_environment = {
    SKEIN_JWT_ALG           = var.jwt_algorithm
    SKEIN_JWT_PUBLIC_KEY    = var.jwt_public_key
    SKEIN_JWT_ISSUER        = var.jwt_issuer
    SKEIN_JWT_AUDIENCE      = var.jwt_audience
    SKEIN_TOKEN_TTL_SECONDS = tostring(var.token_ttl_seconds)
  }

  # What the platform functions read at start (skein_lambda::PlatformSettings::VARIABLES).
  platform_environment = {
    SKEIN_NAME_PREFIX             = var.name_prefix
    SKEIN_TABLE                   = module.table.name
    SKEIN_STEP_QUEUE_URL          = module.queues.step_queue_url
    SKEIN_STATES_ROLE_ARN         = module.workflows.role_arn
    SKEIN_STATES_LOG_GROUP_ARN    = module.workflows.log_group_arn
    SKEIN_WORKER_FUNCTION         = "${var.name_prefix}-step-worker"
    SKEIN_STEP_LEASE_SECONDS      = tostring(var.step_worker_timeout)
    SKEIN_INLINE_SECONDS          = tostring(min(var.inline_seconds, floor(var.step_worker_timeout / 2)))
    SKEIN_STEP_MAX_RECEIVES       = tostring(var.step_max_receives)
    SKEIN_MESSAGE_QUEUE_URL       = module.queues.message_queue_url
    SKEIN_MESSAGE_MAX_RECEIVES    = tostring(var.message_max_receives)
    SKEIN_RATE_PRINCIPAL          = var.rate_per_principal
    SKEIN_RATE_TENANT             = var.rate_per_tenant
    SKEIN_RATE_SOURCE             = var.rate_per_source
    SKEIN_QUOTA_RUNS_IN_FLIGHT    = tostring(var.quotas.runs_in_flight)
    SKEIN_QUOTA_MAP_ITEMS         = tostring(var.quotas.map_items)
    SKEIN_QUOTA_SCHEDULE_INTERVAL = var.quotas.schedule_interval
    SKEIN_LLM_PRICES              = var.llm_prices
  }

  # What the functions that serve the API read: the platform's settings and the tokens'.
  api_environment = merge(local.auth_environment, local.platform_environment)

  # What the builtin agents read (skein_lambda::PlatformSettings::BUILTIN_VARIABLES): only
  # the step-worker, which runs them, and api-workflows, which checks their configs, get
  # these, so no other function holds the LLM API key.
  builtin_environment = merge({
    SKEIN_HTTP_ALLOW = var.http_allow
    }, var.llm == null ? {} : {
    SKEIN_LLM_PROVIDER = var.llm.provider
    SKEIN_LLM_BASE_URL = var.llm.base_url
    SKEIN_LLM_API_KEY  = var.llm.api_key == null ? "" : var.llm.api_key
    SKEIN_LLM_MODEL    = var.llm.model
    SKEIN_LLM_MODELS   = join(",", local.llm_models)
  })

  runtime_permissions = {
    Logs           = local.actions.logs
    Tracing        = local.actions.tracing
    EnvironmentKey = local.actions.environment_key
  }
  finishing_steps = {
    TaskTokens = local.actions.task_tokens
    StepQueue  = local.actions.sqs_send
  }
  # The step-worker's llm steps, signed with its role, when the provider is Bedrock.
  bedrock_permissions = local.llm_provider == "bedrock" ? { Models = local.actions.bedrock_invoke } : {}

  functions = {
    "api-agents" = {
      description = "Skein API: agents, clients, tokens and system routes"
      memory_size = 256
      timeout     = 29
      environment = merge(local.api_environment, {
        SKEIN_JWT_PRIVATE_KEY = var.jwt_private_key
      })
      # The table; and, for the admins' deep health check, the messages queue's depth and
      # a describe of a machine name that is never created.
      permissions = merge(local.runtime_permissions, {
        Table         = local.actions.dynamodb
        MessageQueue  = local.actions.sqs_depth
        StateMachines = local.actions.states_probe
      })
    }
    "api-tasks" = {
      description = "Skein API: tasks, claims, completions"
      memory_size = 256
      timeout     = 29
      environment = local.api_environment
      permissions = merge(local.runtime_permissions, local.finishing_steps, {
        Table = local.actions.dynamodb
      })
    }
    "api-workflows" = {
      description = "Skein API: workflow definitions and versions; registers their state machines"
      memory_size = 256
      timeout     = 29
      environment = merge(local.api_environment, local.builtin_environment)
      permissions = merge(local.runtime_permissions, {
        Table         = local.actions.dynamodb
        StateMachines = local.actions.states_register
        StatesRole    = local.actions.pass_role
        LogDelivery   = local.actions.log_delivery
      })
    }
    "api-runs" = {
      description = "Skein API: runs, cancellation and approvals"
      memory_size = 256
      timeout     = 29
      environment = local.api_environment
      permissions = merge(local.runtime_permissions, local.finishing_steps, {
        Table         = local.actions.dynamodb
        StateMachines = local.actions.states_start
        Executions    = local.actions.states_stop
      })
    }
    "api-run-events" = {
      description = "Skein API: a run's live events, streamed from a function URL"
      memory_size = 256
      # A stream lasts until the run ends or this timeout; watchers resume with Last-Event-ID.
      timeout     = 900
      environment = local.api_environment
      permissions = merge(local.runtime_permissions, {
        Table = local.actions.dynamodb
      })
    }
    "api-messages" = {
      description = "Skein API: messages, broadcasts, inboxes and dead letters"
      memory_size = 256
      timeout     = 29
      environment = local.api_environment
      permissions = merge(local.runtime_permissions, {
        Table        = local.actions.dynamodb
        MessageQueue = local.actions.sqs_send
      })
    }
    "authorizer" = {
      description = "Skein API's Lambda authorizer: verifies bearer tokens"
      memory_size = 128
      timeout     = 5
      environment = local.auth_environment
      permissions = local.runtime_permissions
    }
    "step-worker" = {
      description = "Skein: runs workflow steps from the step queue and for express workflows"
      memory_size = var.step_worker_memory
      timeout     = var.step_worker_timeout
      environment = merge(local.platform_environment, local.builtin_environment)
      permissions = merge(local.runtime_permissions, local.finishing_steps, local.bedrock_permissions, {
        Table           = local.actions.dynamodb
        StepQueueSource = local.actions.sqs_event_source
        MessageQueue    = local.actions.sqs_send
      })
    }
    "message-router" = {
      description = "Skein: routes messages from the messages queue into inboxes"
      memory_size = 256
      timeout     = 30
      environment = local.platform_environment
      permissions = merge(local.runtime_permissions, local.finishing_steps, {
        Table              = local.actions.dynamodb
        MessageQueueSource = local.actions.sqs_event_source
      })
    }
    "scheduler" = {
      description = "Skein: the one-minute tick (schedules, approval and task timeouts) and scheduled runs"
      memory_size = 256
      timeout     = 60
      environment = local.platform_environment
      permissions = merge(local.runtime_permissions, local.finishing_steps, {
        Table         = local.actions.dynamodb
        StateMachines = local.actions.states_start
      })
    }
  }
}
