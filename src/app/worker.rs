//! `quickfix worker`: the consumer, the sweeps and the escalation scan, with the outbox relay
//! for the follow-up events they write.

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::tasks::Tasks;
use super::{cancel_on_signal, mongo_store, sla_policy};
use crate::bus::{Publisher, Queue, SnsPublisher, SqsQueue, aws_config};
use crate::config::{QueueArgs, WorkerArgs, WorkerTuning};
use crate::domain::{Clock, PriorityRules, SlaPolicy, SystemClock};
use crate::outbox::OutboxRelay;
use crate::store::Store;
use crate::telemetry;
use crate::worker::{self, Worker};

/// The handlers' context from the worker's tuning.
///
/// # Errors
/// When the prioritisation rules do not parse.
pub fn worker_context(
    args: &WorkerTuning,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    sla: Arc<SlaPolicy>,
    outbox: Arc<Notify>,
) -> anyhow::Result<worker::Context> {
    Ok(worker::Context {
        store,
        clock,
        rules: PriorityRules::parse(&args.priority_rules)
            .context("QUICKFIX_PRIORITY_RULES is invalid")?,
        sla,
        outbox,
        requeue_on_offline: args.requeue_on_offline,
    })
}

/// Starts the consumer, the sweep and the escalation scan; all stop at `shutdown` (the consumer
/// after finishing the messages in hand).
pub fn spawn_worker(
    ctx: worker::Context,
    queue: Arc<dyn Queue>,
    dead_letters: Option<Arc<dyn Queue>>,
    args: &WorkerTuning,
    shutdown: CancellationToken,
) -> Tasks {
    let mut tasks = Tasks::new();
    tasks.spawn(
        "slot sweep",
        worker::run_sweeps(
            ctx.clone(),
            args.sweep_interval(),
            args.hold_grace(),
            shutdown.clone(),
        ),
    );
    tasks.spawn(
        "escalation scan",
        worker::run_escalations(ctx.clone(), args.escalation_interval(), shutdown.clone()),
    );
    tasks.spawn(
        "consumer",
        Worker::new(queue, dead_letters, ctx, args.consumer()).run(shutdown),
    );
    tasks
}

/// `quickfix worker`: the consumer on MongoDB and SQS, with its own outbox relay for the
/// follow-up events it writes.
///
/// # Errors
/// When a required setting is missing or a backend cannot be reached at start.
pub async fn run_worker(args: WorkerArgs) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    cancel_on_signal(shutdown.clone());
    let queue_url = args
        .queue
        .sqs_queue_url
        .clone()
        .context("SQS_QUEUE_URL is required for `quickfix worker`")?;
    let topic_arn = args.topic.sns_topic_arn.clone().context(
        "SNS_TOPIC_ARN is required for `quickfix worker` (it publishes follow-up events)",
    )?;
    let store: Arc<dyn Store> = Arc::new(mongo_store(&args.mongo).await?);
    let aws = aws_config(&args.aws.options()).await;
    let queue = Arc::new(SqsQueue::new(&aws, &queue_url));
    let dead_letters = dead_letter_queue(&args.queue, queue.as_ref(), &aws).await?;
    let publisher: Arc<dyn Publisher> = Arc::new(SnsPublisher::new(&aws, &topic_arn));

    let wake = Arc::new(Notify::new());
    let relay_shutdown = CancellationToken::new();
    let relay = OutboxRelay::new(store.clone(), publisher, wake.clone(), args.outbox.relay());
    let mut relaying = Tasks::new();
    relaying.spawn("outbox relay", relay.run(relay_shutdown.clone()));

    let metrics_addr = telemetry::serve_metrics(args.metrics_addr, shutdown.clone())
        .await
        .with_context(|| {
            format!(
                "Failed to listen on {} (WORKER_METRICS_ADDR)",
                args.metrics_addr
            )
        })?;
    info!(addr = %metrics_addr, "worker metrics on http://{metrics_addr}/metrics");
    let ctx = worker_context(
        &args.tuning,
        store,
        Arc::new(SystemClock),
        sla_policy(&args.sla)?,
        wake,
    )?;
    let tasks = spawn_worker(ctx, queue, dead_letters, &args.tuning, shutdown.clone());
    info!(queue = %queue_url, "QuickFix worker started");
    shutdown.cancelled().await;
    let grace = std::time::Duration::from_secs(args.shutdown_grace_seconds);
    if !tasks.stop_within(grace).await.is_empty() {
        warn!("in-flight messages return to the queue after their visibility timeout");
    }
    // Publish what the last handlers wrote, then stop.
    relay_shutdown.cancel();
    relaying.stop_within(grace).await;
    info!("QuickFix worker stopped");
    Ok(())
}

/// The dead-letter queue: `SQS_DEAD_LETTER_QUEUE_URL`, else the worker queue's redrive policy.
/// Says loudly when the worker queue has no redrive policy.
pub(super) async fn dead_letter_queue(
    queues: &QueueArgs,
    queue: &SqsQueue,
    aws: &aws_config::SdkConfig,
) -> anyhow::Result<Option<Arc<dyn Queue>>> {
    let redrive = queue
        .dead_letter_queue()
        .await
        .context("Failed to read the worker queue's redrive policy (SQS_QUEUE_URL)")?;
    match &redrive {
        Some(dlq) => info!(
            max_receive_count = dlq.max_receive_count,
            "worker queue redrives to its dead-letter queue"
        ),
        None => warn!(
            "THE WORKER QUEUE HAS NO REDRIVE POLICY: a message that keeps failing is retried forever; \
             give it a dead-letter queue (quickfix provision and infra/ do)"
        ),
    }
    Ok(match &queues.sqs_dead_letter_queue_url {
        Some(url) => Some(Arc::new(SqsQueue::new(aws, url))),
        None => redrive.map(|d| d.queue),
    })
}
