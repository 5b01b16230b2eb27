output "topic_arn" {
  description = "SNS_TOPIC_ARN of both binaries."
  value       = aws_sns_topic.events.arn
}

output "queue_url" {
  description = "SQS_QUEUE_URL of the worker."
  value       = aws_sqs_queue.worker.id
}

output "queue_arn" {
  description = "The worker queue's ARN (for IAM)."
  value       = aws_sqs_queue.worker.arn
}

output "dead_letter_queue_url" {
  description = "SQS_DEAD_LETTER_QUEUE_URL of the worker and `quickfix dlq`."
  value       = aws_sqs_queue.dead_letters.id
}

output "dead_letter_queue_arn" {
  description = "The dead-letter queue's ARN (for IAM)."
  value       = aws_sqs_queue.dead_letters.arn
}

output "subscription_dead_letter_queue_url" {
  description = "Where SNS puts events it could not deliver to the worker queue."
  value       = aws_sqs_queue.subscription_dead_letters.id
}

output "kms_key_arn" {
  description = "The key that encrypts the topic, the queues, the secrets and the ECS log group (binaries need kms:GenerateDataKey/Decrypt)."
  value       = aws_kms_key.messaging.arn
}
