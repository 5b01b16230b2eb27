//! Notifications: the people an event concerns get a document in their inbox (the durable
//! source of the live Socket.IO feed). Ids derive from the event, so redelivery adds nothing.

use serde_json::json;

use super::{Context, HandlerError};
use crate::domain::{
    AgentAvailabilityChanged, Envelope, Event, Notification, NotificationKind, Role, Ticket,
    TicketRef, Tier, UserId,
};
use crate::store::StoreError;

pub(super) async fn handle(ctx: &Context, event: &Envelope) -> Result<(), HandlerError> {
    let out = if let Event::AgentAvailabilityChanged(changed) = &event.event {
        to_admins(ctx, event, changed).await?
    } else {
        let Some(id) = event.event.ticket_id() else {
            return Ok(());
        };
        let Some(ticket) = ctx.store.find_ticket(TicketRef::Id(id)).await? else {
            return Ok(());
        };
        match &event.event {
            Event::TicketEscalated(escalated) if escalated.notify_managers => {
                let message = format!(
                    "{} \"{}\" was escalated by rule `{}`",
                    ticket.complaint_id,
                    ticket.title.as_str(),
                    escalated.rule
                );
                to_managers(
                    ctx,
                    event,
                    &ticket,
                    NotificationKind::TicketEscalated,
                    message,
                )
                .await?
            }
            Event::TicketEscalated(_) => Vec::new(),
            Event::SlaBreach(breach) => {
                let message = format!(
                    "{} \"{}\" missed its {} target",
                    ticket.complaint_id,
                    ticket.title.as_str(),
                    breach.target.describe()
                );
                to_managers(ctx, event, &ticket, NotificationKind::SlaBreached, message).await?
            }
            _ => to_agent_and_requester(ctx, event, &ticket),
        }
    };
    ctx.store.insert_notifications(&out).await?;
    Ok(())
}

/// `agentAvailabilityChanged`, for every admin.
async fn to_admins(
    ctx: &Context,
    event: &Envelope,
    changed: &AgentAvailabilityChanged,
) -> Result<Vec<Notification>, HandlerError> {
    let now = ctx.clock.now();
    let agent = changed.agent_id;
    // The name comes from the store: a message cannot put words in an agent's mouth.
    let Some(stored) = ctx
        .store
        .find_user(agent)
        .await?
        .filter(|u| u.agent.is_some())
    else {
        return Ok(Vec::new());
    };
    let name = stored.name.as_str();
    let availability = changed.availability;
    let message = format!("{name} is now {availability}");
    let data = json!({"agentId": agent.to_string(), "name": name, "availability": availability,
                      "presence": changed.presence, "freeSlots": changed.free_slots});
    Ok(ctx
        .store
        .list_users(Role::Admin)
        .await?
        .into_iter()
        .map(|admin| {
            Notification::of(
                event,
                admin.id,
                NotificationKind::AgentAvailabilityChanged,
                message.clone(),
                data.clone(),
                now,
            )
        })
        .collect())
}

/// `ticketAssigned` for the agent who got the ticket, and `complaintUpdated` for its requester.
fn to_agent_and_requester(ctx: &Context, event: &Envelope, ticket: &Ticket) -> Vec<Notification> {
    let now = ctx.clock.now();
    let summary = ticket.summary();
    let number = ticket.complaint_id;
    let mut out = Vec::new();
    let requester_message = match &event.event {
        Event::TicketAssigned(assigned) => {
            let agent = assigned.assigned_to;
            // The store says who ever held the ticket; a message naming someone else would
            // send them the ticket's summary.
            if !ticket.was_assigned_to(agent) {
                tracing::warn!(event_id = %event.event_id, ticket_id = %ticket.id, agent_id = %agent,
                    "ignoring a ticket.assigned for an agent the ticket never had");
                metrics::counter!("quickfix_events_ignored_total", "event_type" => "ticket.assigned",
                    "why" => "the ticket was never assigned to that agent")
                .increment(1);
                return Vec::new();
            }
            out.push(Notification::of(
                event,
                agent,
                NotificationKind::TicketAssigned,
                format!("{number} \"{}\" was assigned to you", ticket.title.as_str()),
                summary.clone(),
                now,
            ));
            format!("Your ticket {number} was assigned to an agent")
        }
        // The change's note says why (e.g. resolved after waiting on the customer).
        Event::TicketStatusChanged(changed) => match &changed.message {
            Some(why) => format!("Your ticket {number} is now {}: {why}", changed.to),
            None => format!("Your ticket {number} is now {}", changed.to),
        },
        Event::TicketRequeued(_) => {
            format!("Your ticket {number} is waiting for the next free agent")
        }
        _ => return out,
    };
    out.push(Notification::of(
        event,
        ticket.requester,
        NotificationKind::ComplaintUpdated,
        requester_message,
        summary,
        now,
    ));
    out
}

/// `ticketEscalated` (when the rule notifies managers) and `slaBreached`, for every manager and
/// admin.
async fn to_managers(
    ctx: &Context,
    event: &Envelope,
    ticket: &Ticket,
    kind: NotificationKind,
    message: String,
) -> Result<Vec<Notification>, HandlerError> {
    let mut data = ticket.summary();
    data["event"] = event.data();
    let now = ctx.clock.now();
    Ok(managers_and_admins(ctx)
        .await?
        .into_iter()
        .map(|id| Notification::of(event, id, kind, message.clone(), data.clone(), now))
        .collect())
}

/// Every agent of the manager tier and every admin.
async fn managers_and_admins(ctx: &Context) -> Result<Vec<UserId>, StoreError> {
    let managers = ctx
        .store
        .list_users(Role::Agent)
        .await?
        .into_iter()
        .filter(|u| u.agent.as_ref().is_some_and(|a| a.tier == Tier::Manager));
    let admins = ctx.store.list_users(Role::Admin).await?;
    Ok(managers.chain(admins).map(|u| u.id).collect())
}
