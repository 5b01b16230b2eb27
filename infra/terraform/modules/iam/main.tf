# One least-privilege role per QuickFix binary, assumed by its ECS tasks, plus the execution
# role that pulls images, writes logs and reads the secrets at task start (MONGODB_URI,
# JWT_SECRET, and the first admin's password for the one-off admin task).

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "api" {
  name               = "${var.name_prefix}-api"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

resource "aws_iam_role" "worker" {
  name               = "${var.name_prefix}-worker"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

resource "aws_iam_role" "execution" {
  name               = "${var.name_prefix}-task-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

# The API publishes events (the outbox relay) and checks the topic for readiness.
data "aws_iam_policy_document" "api" {
  statement {
    sid       = "PublishEvents"
    actions   = ["sns:Publish", "sns:GetTopicAttributes"]
    resources = [var.topic_arn]
  }
  statement {
    sid       = "EncryptEvents"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

# The worker consumes its queue, dead-letters poison messages, and publishes follow-up events.
data "aws_iam_policy_document" "worker" {
  statement {
    sid = "ConsumeWorkerQueue"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
    ]
    resources = [var.queue_arn]
  }
  statement {
    sid       = "DeadLetterPoison"
    actions   = ["sqs:SendMessage", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"]
    resources = [var.dead_letter_queue_arn]
  }
  statement {
    sid       = "PublishFollowUps"
    actions   = ["sns:Publish"]
    resources = [var.topic_arn]
  }
  statement {
    sid       = "UseMessagingKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "DecryptSecrets"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
  statement {
    sid       = "ReadSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.mongodb_secret_arn, var.jwt_secret_arn, var.admin_password_secret_arn]
  }
}

resource "aws_iam_role_policy" "api" {
  name   = "quickfix-api"
  role   = aws_iam_role.api.id
  policy = data.aws_iam_policy_document.api.json
}

resource "aws_iam_role_policy" "worker" {
  name   = "quickfix-worker"
  role   = aws_iam_role.worker.id
  policy = data.aws_iam_policy_document.worker.json
}

resource "aws_iam_role_policy" "execution" {
  name   = "read-quickfix-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}
