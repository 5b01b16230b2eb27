output "SNS_TOPIC_ARN" {
  description = "For quickfix-api and quickfix-worker."
  value       = module.messaging.topic_arn
}

output "SQS_QUEUE_URL" {
  description = "For quickfix-worker."
  value       = module.messaging.queue_url
}

output "SQS_DEAD_LETTER_QUEUE_URL" {
  description = "For quickfix-worker and `quickfix dlq`."
  value       = module.messaging.dead_letter_queue_url
}

output "mongodb_secret_arn" {
  description = "Put the MONGODB_URI in this secret; the tasks read it at start."
  value       = aws_secretsmanager_secret.mongodb_uri.arn
}

output "api_task_role_arn" {
  description = "Task role for quickfix-api."
  value       = module.iam.api_task_role_arn
}

output "worker_task_role_arn" {
  description = "Task role for quickfix-worker."
  value       = module.iam.worker_task_role_arn
}

output "execution_role_arn" {
  description = "Task execution role."
  value       = module.iam.execution_role_arn
}

output "jwt_secret_arn" {
  description = "Put JWT_SECRET in this secret: at least 32 random bytes, e.g. `openssl rand -base64 48`."
  value       = aws_secretsmanager_secret.jwt_secret.arn
}

output "cluster_name" {
  description = "The ECS cluster running both services."
  value       = module.compute.cluster_name
}

output "admin_password_secret_arn" {
  description = "Put the first admin's password in this secret before running admin_create_command."
  value       = aws_secretsmanager_secret.admin_password.arn
}

output "log_group_name" {
  description = "CloudWatch Logs group of every task (the admin task's streams start with quickfix/admin/)."
  value       = module.compute.log_group_name
}

output "admin_create_command" {
  description = "Creates the first admin: run it once (sh -c \"$(terraform output -raw admin_create_command)\"); it prints the task ARN."
  value       = module.compute.admin_create_command
}
