variable "name_prefix" {
  description = "Prefix of the queues' names: <prefix>-steps, <prefix>-messages and their -dlq."
  type        = string
}

variable "step_worker_timeout" {
  description = "The step-worker's timeout in seconds; the step queue's visibility timeout is six times it, as AWS advises for Lambda event sources."
  type        = number
}

variable "message_router_timeout" {
  description = "The message-router's timeout in seconds; the messages queue's visibility timeout is six times it."
  type        = number
}

variable "step_max_receives" {
  description = "Receives of a step message the step-worker cannot handle before it fails the step (SKEIN_STEP_MAX_RECEIVES). The queue moves a message to its DLQ one receive later, so only bodies the worker cannot read end up there."
  type        = number
  default     = 5
}

variable "message_max_receives" {
  description = "Failed deliveries before the router keeps a message as a dead letter (SKEIN_MESSAGE_MAX_RECEIVES). The queue moves a message to its DLQ one receive later, so only bodies the router cannot read end up there."
  type        = number
  default     = 5
}

variable "execution_events_rule_arn" {
  description = "The EventBridge rule that sends Step Functions execution status changes to the step queue."
  type        = string
}

variable "tags" {
  description = "Tags for the queues."
  type        = map(string)
  default     = {}
}
