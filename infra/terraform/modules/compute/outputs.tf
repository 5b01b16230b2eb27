output "cluster_name" {
  description = "The ECS cluster."
  value       = aws_ecs_cluster.quickfix.name
}

output "api_service_name" {
  description = "Scale the API with `aws ecs update-service --desired-count`."
  value       = aws_ecs_service.api.name
}

output "worker_service_name" {
  description = "Scale the worker with `aws ecs update-service --desired-count`."
  value       = aws_ecs_service.worker.name
}

output "log_group_name" {
  description = "CloudWatch Logs group of every task (streams quickfix/api/…, quickfix/worker/…, quickfix/admin/…)."
  value       = aws_cloudwatch_log_group.quickfix.name
}

output "admin_task_definition" {
  description = "Task definition family of the one-off `quickfix admin create` task."
  value       = aws_ecs_task_definition.admin.family
}

output "admin_create_command" {
  description = "Runs `quickfix admin create` once on Fargate and prints the task ARN. The password comes from the admin password secret, never from this command."
  value = join(" ", [
    "aws ecs run-task",
    "--region", data.aws_region.current.name,
    "--cluster", aws_ecs_cluster.quickfix.name,
    "--launch-type FARGATE --platform-version LATEST",
    "--task-definition", aws_ecs_task_definition.admin.family,
    "--started-by quickfix-admin-create",
    # Single-quoted for the shell; a quote inside a value is closed, escaped and reopened.
    "--network-configuration", "'${replace(local.admin_network, "'", "'\\''")}'",
    "--overrides", "'${replace(local.admin_overrides, "'", "'\\''")}'",
    "--query 'tasks[0].taskArn' --output text",
  ])
}
