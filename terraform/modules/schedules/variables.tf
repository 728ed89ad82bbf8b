variable "name_prefix" {
  description = "Prefix of the schedule group and role names."
  type        = string
}

variable "scheduler_function_arn" {
  description = "The scheduler function the tick invokes."
  type        = string
}

variable "tags" {
  description = "Tags for the schedule group and role."
  type        = map(string)
  default     = {}
}
