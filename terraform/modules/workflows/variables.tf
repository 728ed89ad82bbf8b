variable "name_prefix" {
  description = "Prefix of the role, log group and rule names."
  type        = string
}

variable "step_queue_arn" {
  description = "The step queue: standard workflows send each step there with a task token, and execution status changes go there."
  type        = string
}

variable "step_worker_arn" {
  description = "The step-worker function, which express workflows invoke for each step."
  type        = string
}

variable "kms_key_arn" {
  description = "The KMS key that encrypts the execution log group."
  type        = string
}

variable "log_retention_days" {
  description = "How long CloudWatch Logs keeps execution logs."
  type        = number
}

variable "tags" {
  description = "Tags for the workflow resources."
  type        = map(string)
  default     = {}
}
