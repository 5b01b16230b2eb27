variable "name_prefix" {
  description = "Prefix of the cluster, services and log group, e.g. \"quickfix-production\"."
  type        = string
}

variable "image" {
  description = "The QuickFix container image (the Dockerfile builds one image with both binaries)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets the tasks run in (they reach AWS APIs and MongoDB from there)."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the tasks: admit port 5001 from the load balancer, and the metrics ports (9090 API, 9091 worker) only from the Prometheus scraper inside the VPC. The one-off admin task uses them too (it needs MongoDB and Secrets Manager)."
  type        = list(string)
}

variable "api_target_group_arn" {
  description = "Load balancer target group for the API (port 5001); null to run without one."
  type        = string
  default     = null
}

variable "api_task_role_arn" {
  description = "From modules/iam."
  type        = string
}

variable "worker_task_role_arn" {
  description = "From modules/iam."
  type        = string
}

variable "execution_role_arn" {
  description = "From modules/iam."
  type        = string
}

variable "kms_key_arn" {
  description = "Key for the log group."
  type        = string
}

variable "mongodb_secret_arn" {
  description = "Secrets Manager secret with MONGODB_URI."
  type        = string
}

variable "jwt_secret_arn" {
  description = "Secrets Manager secret with JWT_SECRET (the API signs tokens with it)."
  type        = string
}

variable "environment" {
  description = "Plain settings of both binaries: SNS_TOPIC_ARN, SQS_QUEUE_URL, SQS_DEAD_LETTER_QUEUE_URL, AWS_REGION, QUICKFIX_SLA_FILE…"
  type        = map(string)
}

variable "api_count" {
  description = "API tasks (each relays live notifications to its own sockets)."
  type        = number
  default     = 2
}

variable "worker_count" {
  description = "Worker tasks (any number: claims and escalations are atomic)."
  type        = number
  default     = 2
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}

variable "log_group_name" {
  description = "CloudWatch Logs group of all tasks; null for \"/ecs/<name_prefix>\". The KMS key policy must let CloudWatch Logs use the key for this group (modules/messaging, log_group_names)."
  type        = string
  default     = null
}

variable "admin_password_secret_arn" {
  description = "Secrets Manager secret holding the first admin's password (QUICKFIX_ADMIN_PASSWORD of the admin task)."
  type        = string
}

variable "admin_email" {
  description = "Sign-in email of the first admin, created by the admin_create_command output."
  type        = string
  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+$", var.admin_email))
    error_message = "admin_email must be an email address."
  }
}

variable "admin_name" {
  description = "Display name of the first admin."
  type        = string
  default     = "Administrator"
}

variable "admin_promote" {
  description = "Pass --promote to `quickfix admin create` (make an existing account with admin_email an admin)."
  type        = bool
  default     = false
}
