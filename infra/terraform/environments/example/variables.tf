variable "environment" {
  description = "Environment name, part of resource names and tags (e.g. staging, production)."
  type        = string
  default     = "staging"
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-west-1"
}

variable "alarm_actions" {
  description = "ARNs notified when a QuickFix alarm fires."
  type        = list(string)
  default     = []
}

variable "image" {
  description = "The QuickFix container image, e.g. <account>.dkr.ecr.<region>.amazonaws.com/quickfix:1.0.0."
  type        = string
  default     = "quickfix:latest"
}

variable "subnet_ids" {
  description = "Private subnets for the tasks."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups for the tasks."
  type        = list(string)
  default     = []
}

variable "api_target_group_arn" {
  description = "Load balancer target group of the API (port 5001, health check GET /healthz)."
  type        = string
  default     = null
}

variable "admin_email" {
  description = "Sign-in email of the first admin (the admin_create_command output creates it)."
  type        = string
}

variable "admin_name" {
  description = "Display name of the first admin."
  type        = string
  default     = "Administrator"
}

variable "admin_promote" {
  description = "Make an existing account with admin_email an admin (it keeps its password) instead of refusing."
  type        = bool
  default     = false
}
