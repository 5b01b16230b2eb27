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
