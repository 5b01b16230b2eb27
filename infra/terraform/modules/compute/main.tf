# The two QuickFix binaries as ECS Fargate services: quickfix-api (port 5001, behind a load
# balancer) and quickfix-worker, each with its own task role; MONGODB_URI and JWT_SECRET come
# from Secrets Manager through the execution role. A third task definition, admin, is never a
# service: it runs `quickfix admin create` once, on demand (the admin_create_command output).

locals {
  plain_env      = [for name, value in var.environment : { name = name, value = value }]
  log_group_name = coalesce(var.log_group_name, "/ecs/${var.name_prefix}")
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
  name              = local.log_group_name
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
    # 5001 is the public API, the only port the load balancer's target group registers (see
    # aws_ecs_service.api). 9090 serves /metrics (QUICKFIX_METRICS_ADDR) and is not registered
    # with the load balancer, so /metrics is not on the public listener: only clients inside the
    # VPC that the task's security group admits on 9090 (a Prometheus scraper) reach it.
    portMappings = [
      { containerPort = 5001, protocol = "tcp" },
      { containerPort = 9090, protocol = "tcp" },
    ]
    environment = concat(local.plain_env, [
      { name = "QUICKFIX_ADDR", value = "0.0.0.0:5001" },
      { name = "QUICKFIX_METRICS_ADDR", value = "0.0.0.0:9090" },
      # Behind the load balancer every request comes from the ALB; the client address for rate
      # limits is the right-most entry of the X-Forwarded-For header the ALB appends.
      { name = "QUICKFIX_TRUSTED_PROXY_HEADER", value = "x-forwarded-for" },
    ])
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
  # Only the API port is registered with the load balancer; the metrics port 9090 stays
  # reachable from inside the VPC only.
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

# `quickfix admin create`: a one-off task that creates the first admin account in the store.
# It needs only MONGODB_URI and the password, both injected by the execution role from Secrets
# Manager (the password never appears in the task's plain environment, in its command line, or
# in the output below). It calls no AWS API, so it runs without a task role. Creating an admin
# that already exists succeeds, so running it twice is harmless.
locals {
  admin_container = "admin"
  admin_command = concat(
    ["quickfix", "admin", "create", "--email", var.admin_email, "--name", var.admin_name],
    var.admin_promote ? ["--promote"] : [],
  )
  admin_overrides = jsonencode({
    containerOverrides = [{ name = local.admin_container, command = local.admin_command }]
  })
  admin_network = jsonencode({
    awsvpcConfiguration = {
      subnets        = var.subnet_ids
      securityGroups = var.security_group_ids
      assignPublicIp = "DISABLED"
    }
  })
}

resource "aws_ecs_task_definition" "admin" {
  family                   = "${var.name_prefix}-admin"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = var.execution_role_arn
  container_definitions = jsonencode([{
    name                   = local.admin_container
    image                  = var.image
    command                = local.admin_command
    essential              = true
    readonlyRootFilesystem = true
    environment            = local.plain_env
    secrets = [
      { name = "MONGODB_URI", valueFrom = var.mongodb_secret_arn },
      { name = "QUICKFIX_ADMIN_PASSWORD", valueFrom = var.admin_password_secret_arn },
    ]
    logConfiguration = { logDriver = "awslogs", options = local.log_options }
  }])
  tags = var.tags
}
