# An example environment: QuickFix's messaging and IAM in one AWS account and region.
#   terraform init && terraform apply -var environment=staging -var region=eu-west-1
# The outputs are the settings the binaries need (see the README, Deployment).

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

module "messaging" {
  source        = "../../modules/messaging"
  alarm_actions = var.alarm_actions
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

module "iam" {
  source                = "../../modules/iam"
  name_prefix           = "quickfix-${var.environment}"
  topic_arn             = module.messaging.topic_arn
  queue_arn             = module.messaging.queue_arn
  dead_letter_queue_arn = module.messaging.dead_letter_queue_arn
  kms_key_arn           = module.messaging.kms_key_arn
  mongodb_secret_arn    = aws_secretsmanager_secret.mongodb_uri.arn
  jwt_secret_arn        = aws_secretsmanager_secret.jwt_secret.arn
}

module "compute" {
  source               = "../../modules/compute"
  name_prefix          = "quickfix-${var.environment}"
  image                = var.image
  subnet_ids           = var.subnet_ids
  security_group_ids   = var.security_group_ids
  api_target_group_arn = var.api_target_group_arn
  api_task_role_arn    = module.iam.api_task_role_arn
  worker_task_role_arn = module.iam.worker_task_role_arn
  execution_role_arn   = module.iam.execution_role_arn
  kms_key_arn          = module.messaging.kms_key_arn
  mongodb_secret_arn   = aws_secretsmanager_secret.mongodb_uri.arn
  jwt_secret_arn       = aws_secretsmanager_secret.jwt_secret.arn
  environment = {
    SNS_TOPIC_ARN             = module.messaging.topic_arn
    SQS_QUEUE_URL             = module.messaging.queue_url
    SQS_DEAD_LETTER_QUEUE_URL = module.messaging.dead_letter_queue_url
    AWS_REGION                = var.region
    LOG_FORMAT                = "json"
  }
}
