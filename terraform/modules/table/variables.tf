variable "name" {
  description = "The table's name."
  type        = string
}

variable "kms_key_arn" {
  description = "A customer managed KMS key for the table; null uses the AWS managed key (aws/dynamodb)."
  type        = string
  default     = null
}

variable "deletion_protection" {
  description = "Refuse to delete the table (turn off before `terraform destroy`)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for the table."
  type        = map(string)
  default     = {}
}
