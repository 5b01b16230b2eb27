# An example environment: QuickFix's messaging, IAM and ECS services in one AWS account and
# region.
#   terraform init && terraform apply -var environment=staging -var admin_email=you@example.com
# The outputs are the settings the binaries need and the command that creates the first admin
# (infra/README.md, "From `terraform apply` to a signed-in admin").

terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = {
      application = "quickfix"
      environment = var.environment
    }
  }
}

locals {
  name_prefix = "quickfix-${var.environment}"
  # Named here and passed to both modules: compute creates the log group, messaging's key
  # policy lets CloudWatch Logs encrypt exactly this group.
  log_group_name = "/ecs/${local.name_prefix}"
}

module "messaging" {
  source          = "../../modules/messaging"
  alarm_actions   = var.alarm_actions
  log_group_names = [local.log_group_name]
}

resource "aws_secretsmanager_secret" "mongodb_uri" {
  #checkov:skip=CKV2_AWS_57:MongoDB connection strings are rotated with the database, outside AWS.
  name        = "quickfix/${var.environment}/mongodb-uri"
  description = "MONGODB_URI of quickfix-api and quickfix-worker"
  kms_key_id  = module.messaging.kms_key_arn
}

resource "aws_secretsmanager_secret" "jwt_secret" {
  #checkov:skip=CKV2_AWS_57:Rotating the signing secret signs every user out; rotate it deliberately.
  name        = "quickfix/${var.environment}/jwt-secret"
  description = "JWT_SECRET of quickfix-api"
  kms_key_id  = module.messaging.kms_key_arn
}

resource "aws_secretsmanager_secret" "admin_password" {
  #checkov:skip=CKV2_AWS_57:Read once by the one-off admin task; the admin changes the password after signing in.
  name        = "quickfix/${var.environment}/admin-password"
  description = "QUICKFIX_ADMIN_PASSWORD of the one-off `quickfix admin create` task"
  kms_key_id  = module.messaging.kms_key_arn
}

module "iam" {
  source                    = "../../modules/iam"
  name_prefix               = local.name_prefix
  topic_arn                 = module.messaging.topic_arn
  queue_arn                 = module.messaging.queue_arn
  dead_letter_queue_arn     = module.messaging.dead_letter_queue_arn
  kms_key_arn               = module.messaging.kms_key_arn
  mongodb_secret_arn        = aws_secretsmanager_secret.mongodb_uri.arn
  jwt_secret_arn            = aws_secretsmanager_secret.jwt_secret.arn
  admin_password_secret_arn = aws_secretsmanager_secret.admin_password.arn
}

module "compute" {
  source                    = "../../modules/compute"
  name_prefix               = local.name_prefix
  log_group_name            = local.log_group_name
  image                     = var.image
  subnet_ids                = var.subnet_ids
  security_group_ids        = var.security_group_ids
  api_target_group_arn      = var.api_target_group_arn
  api_task_role_arn         = module.iam.api_task_role_arn
  worker_task_role_arn      = module.iam.worker_task_role_arn
  execution_role_arn        = module.iam.execution_role_arn
  kms_key_arn               = module.messaging.kms_key_arn
  mongodb_secret_arn        = aws_secretsmanager_secret.mongodb_uri.arn
  jwt_secret_arn            = aws_secretsmanager_secret.jwt_secret.arn
  admin_password_secret_arn = aws_secretsmanager_secret.admin_password.arn
  admin_email               = var.admin_email
  admin_name                = var.admin_name
  admin_promote             = var.admin_promote
  environment = {
    SNS_TOPIC_ARN             = module.messaging.topic_arn
    SQS_QUEUE_URL             = module.messaging.queue_url
    SQS_DEAD_LETTER_QUEUE_URL = module.messaging.dead_letter_queue_url
    AWS_REGION                = var.region
    LOG_FORMAT                = "json"
  }
}
