//! `quickfix api` and `quickfix dev`: the API on the configured backends, or everything in one
//! process on embedded ones.

use std::sync::Arc;

use anyhow::Context;
use secrecy::SecretString;
use tracing::{info, warn};

use super::worker::{spawn_worker, worker_context};
use super::{
    AccessSettings, AppConfig, Server, cancel_on_signal, categories, mongo_store, sla_policy,
};
use crate::auth::TokenKeys;
use crate::bus::{MemoryTopic, MemoryTopology, Publisher, SnsPublisher, TopologySpec, aws_config};
use crate::config::{ApiArgs, BusKind, DevArgs, ServeArgs, StoreKind};
use crate::demo;
use crate::domain::{Clock, SystemClock};
use crate::store::{MemoryStore, Store};

/// What the API serves, on `store` and `publisher`, from its settings.
fn app_config(
    serve: &ServeArgs,
    secret: &SecretString,
    store: Arc<dyn Store>,
    publisher: Arc<dyn Publisher>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<AppConfig> {
    let tokens = &serve.tokens;
    Ok(AppConfig {
        store,
        publisher,
        clock,
        tokens: TokenKeys::with_names(
            secret,
            tokens.ttl(),
            &tokens.jwt_issuer,
            &tokens.jwt_audience,
        ),
        categories: categories(&serve.categories)?,
        sla: sla_policy(&serve.sla)?,
        relay: serve.outbox.relay(),
        limits: serve.limits.api_limits(),
        access: AccessSettings::from_args(serve),
        metrics_addr: serve.metrics_addr,
        shutdown_grace: serve.shutdown_grace(),
    })
}

/// `quickfix api`: the API on the configured adapters.
///
/// # Errors
/// When a required setting is missing or a backend cannot be reached at start.
pub async fn run_api(args: ApiArgs) -> anyhow::Result<()> {
    // Every unsafe setting is refused before anything starts.
    let secret = args.serve.tokens.checked_secret()?;
    let store_kind = args.store_kind()?;
    let bus_kind = args.bus_kind()?;
    let store: Arc<dyn Store> = match store_kind {
        StoreKind::Mongodb => {
            let store = mongo_store(&args.mongo).await?;
            info!(database = %args.mongo.mongodb_database, "store: MongoDB");
            Arc::new(store)
        }
        StoreKind::Memory => {
            warn!("--store memory: tickets are kept in memory and lost at exit");
            Arc::new(MemoryStore::with_event_retention(
                args.mongo.event_log_retention(),
            ))
        }
    };
    let publisher: Arc<dyn Publisher> = match (bus_kind, &args.topic.sns_topic_arn) {
        (BusKind::Sns, Some(arn)) => {
            let config = aws_config(&args.aws.options()).await;
            info!(topic = %arn, "publisher: SNS");
            Arc::new(SnsPublisher::new(&config, arn))
        }
        _ => {
            warn!("--bus memory: events go to an in-process topic that no worker reads");
            MemoryTopic::new()
        }
    };
    let config = app_config(
        &args.serve,
        &secret,
        store,
        publisher,
        Arc::new(SystemClock),
    )?;
    let server = Server::start(config, args.serve.addr).await?;
    // Signals stop the server cleanly from before anyone can learn that it listens.
    cancel_on_signal(server.shutdown_token());
    info!(addr = %server.addr(), "QuickFix API listening");
    server.wait().await;
    info!("QuickFix API stopped");
    Ok(())
}

/// `quickfix dev`: everything in one process on embedded backends, with demo accounts.
///
/// # Errors
/// When the address cannot be bound.
pub async fn run_dev(args: DevArgs) -> anyhow::Result<()> {
    let serve = &args.serve;
    let secret = serve.tokens.jwt_secret.clone().unwrap_or_else(|| {
        SecretString::from(format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        ))
    });
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let topology = MemoryTopology::provision(&TopologySpec {
        visibility_timeout: std::time::Duration::from_secs(args.worker.visibility_timeout_seconds),
        ..TopologySpec::default()
    });
    let config = app_config(
        serve,
        &secret,
        store.clone(),
        topology.topic.clone(),
        clock.clone(),
    )?;
    let accounts = demo::seed(
        store.as_ref(),
        &config.categories,
        clock.as_ref(),
        &args.demo_password,
    )
    .await
    .context("Failed to create the demo accounts")?;
    let sla = config.sla.clone();
    if !serve.addr.ip().is_loopback() {
        warn!(
            addr = %serve.addr,
            "`quickfix dev` is reachable from other machines with demo accounts and their \
             password; it is a demo, not a deployment (use `quickfix api`)"
        );
    }
    let server = Server::start(config, serve.addr).await?;
    cancel_on_signal(server.shutdown_token());
    // The worker shares the API's store and outbox: its follow-up events go out through the
    // same relay, to the same in-process topic.
    let ctx = worker_context(
        &args.worker,
        store,
        clock,
        sla,
        server.state().outbox.clone(),
    )?;
    let workers = spawn_worker(
        ctx,
        topology.queue,
        Some(topology.dead_letter_queue),
        &args.worker,
        server.shutdown_token(),
    );
    println!(
        "{}",
        demo::banner(server.addr(), &accounts, &args.demo_password)
    );
    // The worker stops first, so that the server's last outbox pass publishes its follow-ups.
    server.shutdown_token().cancelled().await;
    workers.stop_within(args.serve.shutdown_grace()).await;
    server.stop().await;
    Ok(())
}
