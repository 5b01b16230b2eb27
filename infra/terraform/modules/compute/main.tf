# The two QuickFix binaries as ECS Fargate services: quickfix-api (port 5001, behind a load
# balancer) and quickfix-worker, each with its own task role; MONGODB_URI and JWT_SECRET come
# from Secrets Manager through the execution role.

locals {
  plain_env = [for name, value in var.environment : { name = name, value = value }]
  log_options = {
    "awslogs-group"         = aws_cloudwatch_log_group.quickfix.name
    "awslogs-region"        = data.aws_region.current.name
    "awslogs-stream-prefix" = "quickfix"
  }
}

data "aws_region" "current" {}

resource "aws_ecs_cluster" "quickfix" {
  name = var.name_prefix
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
  tags = var.tags
}

resource "aws_cloudwatch_log_group" "quickfix" {
  name              = "/ecs/${var.name_prefix}"
  retention_in_days = 365
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_ecs_task_definition" "api" {
  family                   = "${var.name_prefix}-api"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 512
  memory                   = 1024
  task_role_arn            = var.api_task_role_arn
  execution_role_arn       = var.execution_role_arn
  container_definitions = jsonencode([{
    name                   = "api"
    image                  = var.image
    command                = ["quickfix", "api"]
    essential              = true
    readonlyRootFilesystem = true
    portMappings           = [{ containerPort = 5001, protocol = "tcp" }]
    environment            = concat(local.plain_env, [{ name = "QUICKFIX_ADDR", value = "0.0.0.0:5001" }])
    secrets = [
      { name = "MONGODB_URI", valueFrom = var.mongodb_secret_arn },
      { name = "JWT_SECRET", valueFrom = var.jwt_secret_arn },
    ]
    logConfiguration = { logDriver = "awslogs", options = local.log_options }
  }])
  tags = var.tags
}

resource "aws_ecs_task_definition" "worker" {
  family                   = "${var.name_prefix}-worker"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 512
  memory                   = 1024
  task_role_arn            = var.worker_task_role_arn
  execution_role_arn       = var.execution_role_arn
  container_definitions = jsonencode([{
    name                   = "worker"
    image                  = var.image
    command                = ["quickfix-worker"]
    essential              = true
    readonlyRootFilesystem = true
    stopTimeout            = 60
    environment            = concat(local.plain_env, [{ name = "WORKER_METRICS_ADDR", value = "0.0.0.0:9091" }])
    secrets                = [{ name = "MONGODB_URI", valueFrom = var.mongodb_secret_arn }]
    logConfiguration       = { logDriver = "awslogs", options = local.log_options }
  }])
  tags = var.tags
}

resource "aws_ecs_service" "api" {
  name             = "${var.name_prefix}-api"
  cluster          = aws_ecs_cluster.quickfix.id
  task_definition  = aws_ecs_task_definition.api.arn
  desired_count    = var.api_count
  launch_type      = "FARGATE"
  platform_version = "LATEST"
  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = var.security_group_ids
    assign_public_ip = false
  }
  dynamic "load_balancer" {
    for_each = var.api_target_group_arn == null ? [] : [var.api_target_group_arn]
    content {
      target_group_arn = load_balancer.value
      container_name   = "api"
      container_port   = 5001
    }
  }
  tags = var.tags
}

resource "aws_ecs_service" "worker" {
  name             = "${var.name_prefix}-worker"
  cluster          = aws_ecs_cluster.quickfix.id
  task_definition  = aws_ecs_task_definition.worker.arn
  desired_count    = var.worker_count
  launch_type      = "FARGATE"
  platform_version = "LATEST"
  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = var.security_group_ids
    assign_public_ip = false
  }
  tags = var.tags
}
