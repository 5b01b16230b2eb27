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
