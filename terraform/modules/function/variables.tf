variable "name" {
  description = "The function's name in AWS, e.g. skein-api-agents."
  type        = string
}

variable "description" {
  description = "What the function does, shown in the Lambda console."
  type        = string
}

variable "zip_path" {
  description = "The function's arm64 zip from `make package`: target/lambda/<crate>/bootstrap.zip."
  type        = string
}

variable "memory_size" {
  description = "Memory in MB; CPU scales with it."
  type        = number
  default     = 256
}

variable "timeout" {
  description = "Longest invocation, in seconds."
  type        = number
  default     = 29

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900
    error_message = "timeout must be between 1 and 900 seconds."
  }
}

variable "reserved_concurrency" {
  description = "Concurrent executions reserved (and capped) for this function; -1 leaves it unreserved."
  type        = number
  default     = -1
}

variable "environment" {
  description = "Environment variables the function reads at start (SKEIN_*)."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "The KMS key that encrypts the environment and the log group."
  type        = string
}

variable "log_retention_days" {
  description = "How long CloudWatch Logs keeps the function's logs."
  type        = number
}

variable "permissions" {
  description = "Actions the function's code calls, keyed by resource (the statement Sid): Table, StepQueue, ... Must match skein_lambda::deploy::functions()."
  type        = map(list(string))
}

variable "resource_arns" {
  description = "The ARNs of each resource key the permissions name. Logs and Tracing are the module's own."
  type        = map(list(string))
}

variable "tags" {
  description = "Tags for every resource of the function."
  type        = map(string)
  default     = {}
}
