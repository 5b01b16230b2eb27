//! `quickfix events replay|export|tail`: filters from the command line, checked and turned
//! into an [`EventQuery`], and the command's run on the configured store and bus.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, TimeDelta, Utc};
use tokio_util::sync::CancellationToken;

use super::{Progress, ReplaySettings, ReplayTarget, replay, tail};
use crate::bus::{SnsPublisher, SqsQueue};
use crate::config::{EventFilterArgs, EventsCommand};
use crate::domain::{EventCursor, EventQuery, EventType, TicketRef};
use crate::store::Store;
use crate::store::event_log::ticket_key;

/// The window an export covers when it gives no `--since`.
const DEFAULT_EXPORT_WINDOW: TimeDelta = TimeDelta::hours(24);

fn time(flag: &str, raw: Option<&str>) -> anyhow::Result<Option<DateTime<Utc>>> {
    raw.map(|s| {
        DateTime::parse_from_rfc3339(s.trim())
            .map(|t| t.with_timezone(&Utc))
            .with_context(|| {
                format!("--{flag}: `{s}` is not an RFC 3339 time, e.g. 2026-01-17T12:00:00Z")
            })
    })
    .transpose()
}

/// The query `args` describe. A COMP-number is looked up in `store`.
///
/// # Errors
/// When a filter is malformed (the message names the flag), or names no ticket.
pub async fn query_from(args: &EventFilterArgs, store: &dyn Store) -> anyhow::Result<EventQuery> {
    let types = EventType::parse_distinct(args.types.iter().map(String::as_str))
        .map_err(|e| anyhow::anyhow!("--type: {e}"))?;
    let ticket = match &args.ticket {
        None => None,
        Some(raw) => {
            let by = TicketRef::parse(raw.trim()).map_err(|_| {
                anyhow::anyhow!("--ticket: `{raw}` is not a ticket id or COMP-number")
            })?;
            Some(
                ticket_key(store, by)
                    .await?
                    .with_context(|| format!("--ticket: no ticket {raw}"))?,
            )
        }
    };
    let from = time("since", args.since.as_deref())?;
    let to = time("until", args.until.as_deref())?;
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        bail!("--since must be before --until");
    }
    let after = args
        .after
        .as_deref()
        .map(|c| {
            c.trim()
                .parse::<EventCursor>()
                .map_err(|_| anyhow::anyhow!("--after: `{c}` is not a position a replay printed"))
        })
        .transpose()?;
    let nonblank = |flag: &str, v: &Option<String>| -> anyhow::Result<Option<String>> {
        match v.as_deref().map(str::trim) {
            Some("") => bail!("--{flag} must not be empty"),
            other => Ok(other.map(str::to_owned)),
        }
    };
    Ok(EventQuery {
        types,
        ticket,
        actor: nonblank("actor", &args.actor)?,
        correlation_id: nonblank("correlation-id", &args.correlation_id)?,
        from,
        to,
        after,
        limit: usize::MAX,
    })
}

/// Runs `command` on the event log of `store`; `topic` makes the topic target, `queue` a
/// queue target from its URL.
///
/// # Errors
/// Bad filters, an unreachable store or target; a stopped replay says how far it got.
pub async fn run(
    command: EventsCommand,
    store: Arc<dyn Store>,
    topic: impl AsyncFnOnce() -> anyhow::Result<SnsPublisher>,
    queue: impl AsyncFnOnce(&str) -> SqsQueue,
) -> anyhow::Result<()> {
    let log = store.event_log();
    match command {
        EventsCommand::Replay(args) => {
            let query = query_from(&args.filter, store.as_ref()).await?;
            if query.from.is_none() && query.ticket.is_none() && query.correlation_id.is_none() {
                bail!(
                    "a replay needs --since, --ticket or --correlation-id (it never replays the whole log by accident)"
                );
            }
            let target = args.target.as_str();
            let is_queue = target.starts_with("http://") || target.starts_with("https://");
            if !(is_queue || target == "topic" || target == "stdout") {
                bail!("--target: `{target}` is not `topic`, `stdout` or a queue URL");
            }
            let mut target = match target {
                // A dry run sends nothing, so it needs no topic.
                _ if args.dry_run => ReplayTarget::Lines(Box::new(std::io::sink())),
                "topic" => ReplayTarget::Topic(Arc::new(topic().await?)),
                "stdout" => ReplayTarget::Lines(Box::new(std::io::stdout())),
                url => ReplayTarget::Queue(Arc::new(queue(url).await)),
            };
            let settings = ReplaySettings {
                rate: args.rate.and_then(NonZeroU32::new),
                dry_run: args.dry_run,
            };
            let mut progress = Progress::on_stderr("replay");
            let report =
                replay(log.as_ref(), &query, &mut target, &settings, &mut progress).await?;
            if args.dry_run {
                println!(
                    "{} event(s) match; nothing was sent (--dry-run)",
                    report.matched
                );
            } else {
                eprintln!(
                    "replayed {} event(s) to {} in {:.1}s ({:.0}/s)",
                    report.sent,
                    target.describe(),
                    report.elapsed.as_secs_f64(),
                    report.rate()
                );
            }
        }
        EventsCommand::Export(filter) => {
            let mut query = query_from(&filter, store.as_ref()).await?;
            if query.from.is_none() && query.ticket.is_none() && query.correlation_id.is_none() {
                query.from = Some(query.to.unwrap_or_else(Utc::now) - DEFAULT_EXPORT_WINDOW);
            }
            let mut target = ReplayTarget::Lines(Box::new(std::io::stdout()));
            let mut progress = Progress::on_stderr("export");
            let report = replay(
                log.as_ref(),
                &query,
                &mut target,
                &ReplaySettings::default(),
                &mut progress,
            )
            .await?;
            eprintln!("exported {} event(s)", report.sent);
        }
        EventsCommand::Tail(args) => {
            let mut query = query_from(&args.filter, store.as_ref()).await?;
            let since = *query.from.get_or_insert_with(Utc::now);
            eprintln!("following events from {since}; stop with Ctrl-C");
            let shutdown = CancellationToken::new();
            crate::app::cancel_on_signal(shutdown.clone());
            let mut out = std::io::stdout();
            let written = tail(
                log.as_ref(),
                &query,
                &mut out,
                Duration::from_millis(args.poll_ms),
                shutdown,
            )
            .await
            .context("cannot write to standard output")?;
            eprintln!("followed {written} event(s)");
        }
    }
    Ok(())
}
