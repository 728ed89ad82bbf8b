variable "region" {
  description = "The AWS region to deploy to."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of every resource's name (functions, table, queues, roles, and state machines: <prefix>-<tenant>_<workflow>-v<n>-<digest>), so several deployments can share an account and region."
  type        = string
  default     = "skein"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name_prefix))
    error_message = "name_prefix must be 2-31 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "package_dir" {
  description = "Where `make package` wrote the zips: <package_dir>/<function>/bootstrap.zip."
  type        = string
  default     = "../target/lambda"
}

variable "jwt_algorithm" {
  description = "How API tokens are signed: EdDSA or RS256. The private key goes only to api-agents, which serves /v1/auth/token; every other function gets the public key, so no other function can mint a token."
  type        = string
  default     = "EdDSA"

  validation {
    condition     = contains(["EdDSA", "RS256"], var.jwt_algorithm)
    error_message = "jwt_algorithm must be EdDSA or RS256 (HS256 would put the signing secret in every function)."
  }
}

variable "jwt_private_key" {
  description = "The PEM private key that signs tokens (`openssl genpkey -algorithm ed25519`). Only api-agents receives it, encrypted with the platform's KMS key."
  type        = string
  sensitive   = true

  validation {
    condition     = can(regex("-----BEGIN [A-Z ]*PRIVATE KEY-----", var.jwt_private_key))
    error_message = "jwt_private_key must be a PEM private key."
  }
}

variable "jwt_public_key" {
  description = "The PEM public key of jwt_private_key (`openssl pkey -in key.pem -pubout`): what every function but api-agents verifies tokens with."
  type        = string

  validation {
    condition     = can(regex("-----BEGIN PUBLIC KEY-----", var.jwt_public_key))
    error_message = "jwt_public_key must be a PEM public key."
  }
}

variable "jwt_issuer" {
  description = "The `iss` of the tokens the API issues and accepts."
  type        = string
  default     = "skein"
}

variable "jwt_audience" {
  description = "The `aud` of the tokens the API issues and accepts."
  type        = string
  default     = "skein-api"
}

variable "token_ttl_seconds" {
  description = "How long an issued token is valid (30 to 86400 seconds)."
  type        = number
  default     = 900

  validation {
    condition     = var.token_ttl_seconds >= 30 && var.token_ttl_seconds <= 86400
    error_message = "token_ttl_seconds must be between 30 and 86400."
  }
}

variable "rate_per_principal" {
  description = "Requests each caller may make, like 100/s, 600/m or 10000/h; \"off\" disables the limit."
  type        = string
  default     = "100/s"
}

variable "rate_per_tenant" {
  description = "Requests all callers of one tenant may make together, like 1000/s; \"off\" disables the limit."
  type        = string
  default     = "1000/s"
}

variable "rate_per_source" {
  description = "Requests without a token (and token requests) one source address may make, per API function instance, like 100/s; \"off\" disables it. /v1/health is never limited."
  type        = string
  default     = "100/s"
}

variable "quotas" {
  description = "Per-tenant quotas: runs running at once (0: none; more answer 429), items one map step may fan out over, and the shortest schedule interval (at least the scheduler's one-minute tick)."
  type = object({
    runs_in_flight    = optional(number, 1000)
    map_items         = optional(number, 10000)
    schedule_interval = optional(string, "1m")
  })
  default = {}
}

variable "http_allow" {
  description = "Private address ranges (comma-separated CIDRs) that http steps may reach; empty allows only public addresses. The Lambda Runtime API and the metadata service are never needed by a step."
  type        = string
  default     = ""
}

variable "llm" {
  description = "The endpoint of the llm builtin steps: provider `openai` (chat completions, which most model servers speak), `anthropic` (Messages) or `bedrock` (Converse, signed with the step-worker's role, which is granted bedrock:InvokeModel and InvokeModelWithResponseStream on exactly `model` and `models`, as foundation models and as this account's inference profiles; or give a Bedrock API key as api_key). `models` lists the other models steps may name (a cross-region inference profile with its model: `us.anthropic.x` and `anthropic.x`); steps naming any other are refused at registration (with openai or anthropic and no `models`, steps may name any). null turns the builtin off."
  type = object({
    provider = optional(string, "openai")
    base_url = string
    api_key  = optional(string)
    model    = optional(string, "gpt-4o-mini")
    models   = optional(list(string), [])
  })
  default   = null
  sensitive = true

  validation {
    condition     = var.llm == null ? true : contains(["openai", "anthropic", "bedrock"], var.llm.provider)
    error_message = "llm.provider is `openai`, `anthropic` or `bedrock`."
  }

  validation {
    condition     = var.llm == null ? true : (var.llm.provider == "bedrock" || var.llm.api_key != null)
    error_message = "llm.api_key is needed with `openai` and `anthropic`; only `bedrock` can sign with the step-worker's role."
  }
}

variable "llm_prices" {
  description = "What LLM tokens cost, over the built-in defaults for common models: JSON of model prefix to USD per million tokens, e.g. {\"my-model\": {\"input\": 0.5, \"output\": 1.5, \"cached_input\": 0.05}}. Prices the usage ledger and budgets in US dollars."
  type        = string
  default     = "{}"

  validation {
    condition     = can(jsondecode(var.llm_prices))
    error_message = "llm_prices must be a JSON object."
  }
}

variable "step_worker_timeout" {
  description = "The step-worker's timeout in seconds: also the lease of a started step and a sixth of the step queue's visibility timeout."
  type        = number
  default     = 300

  validation {
    condition     = var.step_worker_timeout >= 60 && var.step_worker_timeout <= 900
    error_message = "step_worker_timeout must be between 60 and 900 seconds."
  }
}

variable "step_worker_memory" {
  description = "The step-worker's memory in MB."
  type        = number
  default     = 512
}

variable "inline_seconds" {
  description = "How long one step-worker invocation goes on running the steps of a chain before handing them to the step queue; at most half the step-worker's timeout."
  type        = number
  default     = 60
}

variable "step_max_receives" {
  description = "Receives of a step message the step-worker cannot handle (the store or Step Functions unavailable) before it fails the step; the step DLQ takes a message one receive later, so only unreadable bodies end up there."
  type        = number
  default     = 5
}

variable "message_max_receives" {
  description = "Failed deliveries of a message before it becomes a dead letter."
  type        = number
  default     = 5
}

variable "queue_concurrency" {
  description = "Most concurrent step-worker and message-router invocations the SQS event sources start: what protects DynamoDB and agents' endpoints from a burst."
  type = object({
    steps    = number
    messages = number
  })
  default = {
    steps    = 50
    messages = 20
  }
}

variable "reserved_concurrency" {
  description = "Concurrency reserved (and capped) per function name, e.g. { scheduler = 2 }. Accounts with a low concurrency quota cannot reserve any; unlisted functions stay unreserved."
  type        = map(number)
  default     = {}
}

variable "api_throttle" {
  description = "API Gateway's steady rate (requests/s) and burst across the whole API."
  type = object({
    rate  = number
    burst = number
  })
  default = {
    rate  = 1000
    burst = 2000
  }
}

variable "authorizer_cache_seconds" {
  description = "How long API Gateway caches an authorizer decision for a token (0 to 3600)."
  type        = number
  default     = 300
}

variable "cors_allow_origins" {
  description = "Origins browsers may call the API from, e.g. [\"https://app.example.com\"]; empty disables CORS."
  type        = list(string)
  default     = []
}

variable "log_retention_days" {
  description = "How long CloudWatch Logs keeps function, access and execution logs."
  type        = number
  default     = 365
}

variable "table_kms_key_arn" {
  description = "A customer managed KMS key for the DynamoDB table; null uses the AWS managed key."
  type        = string
  default     = null
}

variable "table_deletion_protection" {
  description = "Refuse to delete the table; turn off before `terraform destroy`."
  type        = bool
  default     = true
}

variable "alarm_actions" {
  description = "Where alarms notify, e.g. an SNS topic's ARN. Empty: alarms change state without notifying."
  type        = list(string)
  default     = []
}

variable "step_failure_rate_percent" {
  description = "Alarm when more than this share of step attempts fails for good over 5 minutes (with at least 10 attempts ended)."
  type        = number
  default     = 10

  validation {
    condition     = var.step_failure_rate_percent > 0 && var.step_failure_rate_percent <= 100
    error_message = "step_failure_rate_percent is a percentage: above 0, at most 100."
  }
}

variable "step_queue_max_age_seconds" {
  description = "Alarm when the oldest step message has waited longer than this: step-workers are failing, throttled or stopped."
  type        = number
  default     = 1800

  validation {
    condition     = var.step_queue_max_age_seconds >= 60
    error_message = "step_queue_max_age_seconds must be at least 60."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
