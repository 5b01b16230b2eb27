# QuickFix messaging: the event topic, the worker queue with its dead-letter queue, the filtered
# raw-delivery subscription, a dead-letter queue for SNS delivery failures, encryption with a
# customer-managed KMS key, TLS-only policies, and alarms. The names and numbers match
# `quickfix provision` (TopologySpec::default in src/bus/provision.rs); tests/infra.rs fails if
# they drift.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  # Built from names, not from the resources: the key policy cannot refer to the topic (which
  # is encrypted with the key) nor to the log groups (declared by the compute module, which
  # takes the key) without a dependency cycle.
  topic_arn      = "arn:aws:sns:${local.region}:${local.account_id}:${var.topic_name}"
  log_group_arns = [for name in var.log_group_names : "arn:aws:logs:${local.region}:${local.account_id}:log-group:${name}"]
}

resource "aws_kms_key" "messaging" {
  description             = "QuickFix: SNS topic, SQS queues, secrets and ECS logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = var.tags
}

resource "aws_kms_alias" "messaging" {
  name          = "alias/${var.topic_name}"
  target_key_id = aws_kms_key.messaging.key_id
}

data "aws_iam_policy_document" "kms" {
  # A key policy's "*" resource means this key and nothing else.
  #checkov:skip=CKV_AWS_111:Key policies apply to their own key only.
  #checkov:skip=CKV_AWS_356:Key policies apply to their own key only.
  #checkov:skip=CKV_AWS_109:Key policies apply to their own key only; the account root administers it.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${local.account_id}:root"]
    }
  }
  # SNS uses the key to deliver to the encrypted queues, only on behalf of this account's
  # events topic (no other topic can make SNS use it: confused-deputy protection).
  statement {
    sid       = "SnsDeliversToEncryptedQueues"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.topic_arn]
    }
  }
  # CloudWatch alarms of this account may publish to a topic encrypted with this key.
  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
  # CloudWatch Logs encrypts the ECS log group with this key; the encryption context names the
  # log group, so the grant covers those log groups and nothing else.
  statement {
    sid = "CloudWatchLogsEncryptsLogGroups"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = local.log_group_arns
    }
  }
}

resource "aws_sns_topic" "events" {
  name              = var.topic_name
  kms_master_key_id = aws_kms_key.messaging.arn
  tags              = var.tags
}

resource "aws_sns_topic_policy" "events" {
  arn    = aws_sns_topic.events.arn
  policy = data.aws_iam_policy_document.topic.json
}

data "aws_iam_policy_document" "topic" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.events.arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
  statement {
    sid       = "OwnerAccountOnly"
    actions   = ["sns:Publish", "sns:Subscribe", "sns:GetTopicAttributes"]
    resources = [aws_sns_topic.events.arn]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${local.account_id}:root"]
    }
  }
}

resource "aws_sqs_queue" "dead_letters" {
  name                      = var.dead_letter_queue_name
  message_retention_seconds = var.dead_letter_retention_seconds
  kms_master_key_id         = aws_kms_key.messaging.arn
  tags                      = var.tags
}

resource "aws_sqs_queue" "worker" {
  name                       = var.queue_name
  visibility_timeout_seconds = var.visibility_timeout_seconds
  message_retention_seconds  = var.message_retention_seconds
  receive_wait_time_seconds  = 20
  kms_master_key_id          = aws_kms_key.messaging.arn
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letters.arn
    maxReceiveCount     = var.max_receive_count
  })
  tags = var.tags
}

resource "aws_sqs_queue_redrive_allow_policy" "dead_letters" {
  queue_url = aws_sqs_queue.dead_letters.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.worker.arn]
  })
}

# SNS deliveries that fail (e.g. the worker queue's key is unusable) land here instead of
# being dropped.
resource "aws_sqs_queue" "subscription_dead_letters" {
  name                      = "${var.queue_name}-subscription-dlq"
  message_retention_seconds = var.dead_letter_retention_seconds
  kms_master_key_id         = aws_kms_key.messaging.arn
  tags                      = var.tags
}

resource "aws_sqs_queue_policy" "worker" {
  queue_url = aws_sqs_queue.worker.id
  policy    = data.aws_iam_policy_document.from_topic["worker"].json
}

resource "aws_sqs_queue_policy" "subscription_dead_letters" {
  queue_url = aws_sqs_queue.subscription_dead_letters.id
  policy    = data.aws_iam_policy_document.from_topic["subscription_dead_letters"].json
}

resource "aws_sqs_queue_policy" "dead_letters" {
  queue_url = aws_sqs_queue.dead_letters.id
  policy    = data.aws_iam_policy_document.tls_only["dead_letters"].json
}

locals {
  # Static keys, so the policies can be planned before the queues exist.
  queue_arns = {
    worker                    = aws_sqs_queue.worker.arn
    dead_letters              = aws_sqs_queue.dead_letters.arn
    subscription_dead_letters = aws_sqs_queue.subscription_dead_letters.arn
  }
}

# A queue the topic may send to, over TLS only.
data "aws_iam_policy_document" "from_topic" {
  for_each                = toset(["worker", "subscription_dead_letters"])
  source_policy_documents = [data.aws_iam_policy_document.tls_only[each.key].json]
  statement {
    sid       = "TopicSends"
    actions   = ["sqs:SendMessage"]
    resources = [local.queue_arns[each.key]]
    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_sns_topic.events.arn]
    }
  }
}

data "aws_iam_policy_document" "tls_only" {
  for_each = toset(["worker", "dead_letters", "subscription_dead_letters"])
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [local.queue_arns[each.key]]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sns_topic_subscription" "worker" {
  topic_arn            = aws_sns_topic.events.arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.worker.arn
  raw_message_delivery = true
  filter_policy_scope  = "MessageAttributes"
  filter_policy        = jsonencode({ eventType = var.worker_event_types })
  redrive_policy       = jsonencode({ deadLetterTargetArn = aws_sqs_queue.subscription_dead_letters.arn })
}

locals {
  # Each dead-letter queue alarms as soon as it holds anything.
  dead_letter_alarms = {
    "${var.dead_letter_queue_name}-not-empty" = {
      queue       = aws_sqs_queue.dead_letters.name
      description = "Messages the worker gave up on are waiting in ${var.dead_letter_queue_name}: see the runbook (README, Operations)."
    }
    "${var.queue_name}-subscription-dlq-not-empty" = {
      queue       = aws_sqs_queue.subscription_dead_letters.name
      description = "SNS could not deliver events to ${var.queue_name}: check the queue policy and the KMS key."
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "dead_letters_not_empty" {
  for_each            = local.dead_letter_alarms
  alarm_name          = each.key
  alarm_description   = each.value.description
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value.queue }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "worker_falling_behind" {
  alarm_name          = "${var.queue_name}-oldest-message-age"
  alarm_description   = "The oldest message in ${var.queue_name} is older than ${var.oldest_message_alarm_seconds} s: the worker is down or too slow; scale it out."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.worker.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.oldest_message_alarm_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}
