variable "topic_name" {
  description = "SNS topic for QuickFix events (quickfix provision: quickfix-events)."
  type        = string
  default     = "quickfix-events"
}

variable "queue_name" {
  description = "SQS queue the worker consumes (quickfix provision: quickfix-worker)."
  type        = string
  default     = "quickfix-worker"
}

variable "dead_letter_queue_name" {
  description = "Dead-letter queue of the worker queue (quickfix provision: quickfix-worker-dlq)."
  type        = string
  default     = "quickfix-worker-dlq"
}

variable "max_receive_count" {
  description = "Receives before a message moves to the dead-letter queue."
  type        = number
  default     = 5
}

variable "visibility_timeout_seconds" {
  description = "How long a received message stays hidden; the worker renews it while it works."
  type        = number
  default     = 30
}

variable "message_retention_seconds" {
  description = "How long the worker queue keeps a message (4 days)."
  type        = number
  default     = 345600
}

variable "dead_letter_retention_seconds" {
  description = "How long the dead-letter queue keeps a message (14 days, the SQS maximum)."
  type        = number
  default     = 1209600
}

variable "worker_event_types" {
  description = "The worker subscription's filter policy on the eventType message attribute."
  type        = list(string)
  default = [
    "ticket.created",
    "ticket.resolved",
    "agent.availability_changed",
    "ticket.assigned",
    "ticket.status_changed",
    "ticket.requeued",
    "ticket.escalated",
    "sla.breach",
    "ticket.replied",
    "ticket.note_added",
  ]
}

variable "log_group_names" {
  description = "CloudWatch Logs groups encrypted with this module's key (the compute module's log group, e.g. \"/ecs/quickfix-production\"); the key policy lets CloudWatch Logs use the key for these groups only."
  type        = list(string)
  validation {
    condition     = length(var.log_group_names) > 0
    error_message = "Name at least one log group (the ECS tasks' log group is encrypted with this key)."
  }
}

variable "alarm_actions" {
  description = "ARNs notified when an alarm fires (e.g. an on-call SNS topic)."
  type        = list(string)
  default     = []
}

variable "oldest_message_alarm_seconds" {
  description = "Alarm when the worker queue's oldest message is older than this."
  type        = number
  default     = 300
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
