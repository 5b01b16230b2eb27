output "api_task_role_arn" {
  description = "Task role of quickfix-api."
  value       = aws_iam_role.api.arn
}

output "worker_task_role_arn" {
  description = "Task role of quickfix-worker."
  value       = aws_iam_role.worker.arn
}

output "execution_role_arn" {
  description = "Task execution role (image pull, logs, the secrets)."
  value       = aws_iam_role.execution.arn
}
