variable "name_prefix" {
  description = "Prefix of the role names, e.g. \"quickfix-production\"."
  type        = string
}

variable "topic_arn" {
  description = "The events topic (both binaries publish)."
  type        = string
}

variable "queue_arn" {
  description = "The worker queue (the worker receives, deletes, changes visibility)."
  type        = string
}

variable "dead_letter_queue_arn" {
  description = "The worker queue's dead-letter queue (the worker sends poison messages)."
  type        = string
}

variable "kms_key_arn" {
  description = "The key encrypting the topic and queues."
  type        = string
}

variable "mongodb_secret_arn" {
  description = "Secrets Manager secret holding MONGODB_URI (read by the task execution role)."
  type        = string
}

variable "jwt_secret_arn" {
  description = "Secrets Manager secret holding JWT_SECRET (read by the task execution role)."
  type        = string
}

variable "admin_password_secret_arn" {
  description = "Secrets Manager secret holding the first admin's password (read by the task execution role for the admin task)."
  type        = string
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
