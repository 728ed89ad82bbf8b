variable "name" {
  description = "The HTTP API's name."
  type        = string
}

variable "routes" {
  description = "Route keys (\"METHOD /path\", as the OpenAPI document lists them) to the API function serving each."
  type        = map(string)
}

variable "public_routes" {
  description = "Route keys that take no token (health, info, JWKS, the token exchange): the API functions still check everything else themselves."
  type        = set(string)
}

variable "functions" {
  description = "The API functions by name: their ARN and invoke ARN."
  type = map(object({
    arn        = string
    invoke_arn = string
  }))
}

variable "authorizer" {
  description = "The Lambda authorizer function: its ARN and invoke ARN."
  type = object({
    arn        = string
    invoke_arn = string
  })
}

variable "authorizer_cache_seconds" {
  description = "How long API Gateway caches an authorizer decision per token."
  type        = number
  default     = 300
}

variable "throttle_rate" {
  description = "Steady requests per second across the API before API Gateway answers 429."
  type        = number
  default     = 1000
}

variable "throttle_burst" {
  description = "Burst of requests above the steady rate API Gateway accepts."
  type        = number
  default     = 2000
}

variable "cors_allow_origins" {
  description = "Origins browsers may call the API from; empty disables CORS."
  type        = list(string)
  default     = []
}

variable "kms_key_arn" {
  description = "The KMS key that encrypts the access log group."
  type        = string
}

variable "log_retention_days" {
  description = "How long CloudWatch Logs keeps access logs."
  type        = number
}

variable "tags" {
  description = "Tags for the API's resources."
  type        = map(string)
  default     = {}
}
