//! The operator commands: `provision`, `dlq`, `events` and `admin`.

use std::sync::Arc;

use anyhow::Context;

use super::mongo_store;
use super::worker::dead_letter_queue;
use crate::admin::AdminOutcome;
use crate::bus::{SnsPublisher, SqsQueue, aws_config, provision};
use crate::config::{
    ADMIN_PASSWORD_ENV, AdminArgs, AdminCommand, DlqArgs, DlqCommand, EventsArgs, ProvisionArgs,
};
use crate::store::Store;
use crate::worker;

/// `quickfix provision`: creates the topology and prints the settings for `.env`.
///
/// # Errors
/// When the endpoint refuses a step.
pub async fn run_provision(args: ProvisionArgs) -> anyhow::Result<()> {
    let spec = args.spec();
    let config = aws_config(&args.aws.options()).await;
    let topology = provision(&config, &spec)
        .await
        .context("Failed to provision the SNS/SQS topology (is AWS_ENDPOINT_URL reachable?)")?;
    println!("# QuickFix messaging topology");
    println!("SNS_TOPIC_ARN={}", topology.topic_arn);
    println!("SQS_QUEUE_URL={}", topology.queue_url);
    println!(
        "SQS_DEAD_LETTER_QUEUE_URL={}",
        topology.dead_letter_queue_url
    );
    if let Some(endpoint) = &args.aws.aws_endpoint_url {
        println!("AWS_ENDPOINT_URL={endpoint}");
    }
    Ok(())
}

/// `quickfix dlq list|redrive`.
///
/// # Errors
/// When a queue cannot be reached or has no dead-letter queue.
pub async fn run_dlq(args: DlqArgs) -> anyhow::Result<()> {
    let queue_url = args
        .queue
        .sqs_queue_url
        .clone()
        .context("SQS_QUEUE_URL is required for `quickfix dlq`")?;
    let aws = aws_config(&args.aws.options()).await;
    let queue = SqsQueue::new(&aws, &queue_url);
    let dlq = dead_letter_queue(&args.queue, &queue, &aws)
        .await?
        .context("the worker queue has no dead-letter queue (set SQS_DEAD_LETTER_QUEUE_URL)")?;
    match args.action {
        DlqCommand::List { max } => {
            let letters = worker::dead_letters::list(dlq.as_ref(), max).await?;
            println!(
                "{:<38} {:<28} {:<38} {:>8}  reason",
                "message", "event type", "ticket", "receives"
            );
            for l in &letters {
                println!(
                    "{:<38} {:<28} {:<38} {:>8}  {}",
                    l.message_id,
                    l.event_type.as_deref().unwrap_or("-"),
                    l.ticket_id.as_deref().unwrap_or("-"),
                    l.receive_count,
                    l.reason.as_deref().unwrap_or("exceeded maxReceiveCount"),
                );
            }
            println!("{} message(s) in the dead-letter queue", letters.len());
        }
        DlqCommand::Redrive => {
            let moved = worker::dead_letters::redrive(dlq.as_ref(), &queue).await?;
            println!("moved {moved} message(s) back to the worker queue");
        }
    }
    Ok(())
}

/// `quickfix events replay|export|tail` on the MongoDB store at `MONGODB_URI`; a replay to the
/// topic publishes to `SNS_TOPIC_ARN`.
///
/// # Errors
/// Bad filters, an unreachable store or target, or a replay that stopped (with how far it got).
pub async fn run_events(args: EventsArgs) -> anyhow::Result<()> {
    let store: Arc<dyn Store> = Arc::new(mongo_store(&args.mongo).await?);
    let aws = args.aws.options();
    let topic_arn = args.topic.sns_topic_arn;
    crate::replay::cli::run(
        args.action,
        store,
        async || {
            let arn = topic_arn.context("SNS_TOPIC_ARN is required to replay to the topic")?;
            Ok(SnsPublisher::new(&aws_config(&aws).await, arn))
        },
        async |url: &str| SqsQueue::new(&aws_config(&aws).await, url),
    )
    .await
}

/// `quickfix admin create`: creates an admin on the MongoDB store at `MONGODB_URI`, with the
/// password from `QUICKFIX_ADMIN_PASSWORD` or the first line of standard input.
///
/// # Errors
/// When the store cannot be reached, the password is missing or invalid, or the email belongs
/// to an account that is not an admin (without `--promote`).
pub async fn run_admin(args: AdminArgs) -> anyhow::Result<()> {
    let AdminCommand::Create(create) = args.action;
    let password = match std::env::var(ADMIN_PASSWORD_ENV) {
        Ok(p) if !p.is_empty() => p,
        _ => read_password_line().context(
            "Failed to read the admin password from standard input (or set QUICKFIX_ADMIN_PASSWORD)",
        )?,
    };
    let store = mongo_store(&args.mongo).await?;
    let outcome = crate::admin::create_admin(
        &store,
        &create.name,
        &create.email,
        &password,
        create.promote,
        chrono::Utc::now(),
    )
    .await?;
    match outcome {
        AdminOutcome::Created => println!("created admin {}", create.email.trim().to_lowercase()),
        AdminOutcome::AlreadyExists => println!(
            "admin {} already exists; nothing changed",
            create.email.trim().to_lowercase()
        ),
        AdminOutcome::Promoted => {
            println!("promoted {} to admin", create.email.trim().to_lowercase());
        }
    }
    Ok(())
}

/// One line of standard input without its line ending; prompts when it is a terminal.
fn read_password_line() -> std::io::Result<String> {
    use std::io::{BufRead, IsTerminal, Write};
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("admin password: ");
        std::io::stderr().flush()?;
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
