//! Notifications: the people an event concerns get a document in their inbox (the durable
//! source of the live Socket.IO feed). Ids derive from the event, so redelivery adds nothing.

use serde_json::json;

use super::{Context, HandlerError, field, ticket_id, user_id};
use crate::domain::{
    Envelope, EventType, Notification, NotificationKind, Role, SlaTarget, Ticket, TicketRef, Tier,
    UserId,
};
use crate::store::StoreError;

pub(super) async fn handle(ctx: &Context, event: &Envelope) -> Result<(), HandlerError> {
    let out = if event.event_type == EventType::AgentAvailabilityChanged {
        to_admins(ctx, event).await?
    } else {
        let Some(ticket) = ctx
            .store
            .find_ticket(TicketRef::Id(ticket_id(event)?))
            .await?
        else {
            return Ok(());
        };
        match event.event_type {
            EventType::TicketEscalated | EventType::SlaBreach => {
                to_managers(ctx, event, &ticket).await?
            }
            _ => to_agent_and_requester(ctx, event, &ticket)?,
        }
    };
    ctx.store.insert_notifications(&out).await?;
    Ok(())
}

/// `agentAvailabilityChanged`, for every admin.
async fn to_admins(ctx: &Context, event: &Envelope) -> Result<Vec<Notification>, HandlerError> {
    let now = ctx.clock.now();
    let agent = user_id(event, "agentId")?;
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
    let availability = field(event, "availability").unwrap_or("changed");
    let message = format!("{name} is now {availability}");
    let data = json!({"agentId": agent.to_string(), "name": name, "availability": availability,
                      "presence": event.data["presence"], "freeSlots": event.data["freeSlots"]});
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
fn to_agent_and_requester(
    ctx: &Context,
    event: &Envelope,
    ticket: &Ticket,
) -> Result<Vec<Notification>, HandlerError> {
    let now = ctx.clock.now();
    let summary = ticket.summary();
    let number = ticket.complaint_id;
    let mut out = Vec::new();
    let requester_message = match event.event_type {
        EventType::TicketAssigned => {
            let agent = user_id(event, "assignedTo")?;
            // The store says who ever held the ticket; a message naming someone else would
            // send them the ticket's summary.
            if !ticket.was_assigned_to(agent) {
                tracing::warn!(event_id = %event.event_id, ticket_id = %ticket.id, agent_id = %agent,
                    "ignoring a ticket.assigned for an agent the ticket never had");
                metrics::counter!("quickfix_events_ignored_total", "event_type" => "ticket.assigned",
                    "why" => "the ticket was never assigned to that agent")
                .increment(1);
                return Ok(Vec::new());
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
        EventType::TicketStatusChanged => {
            format!("Your ticket {number} is now {}", field(event, "to")?)
        }
        EventType::TicketRequeued => {
            format!("Your ticket {number} is waiting for the next free agent")
        }
        _ => return Ok(out),
    };
    out.push(Notification::of(
        event,
        ticket.requester,
        NotificationKind::ComplaintUpdated,
        requester_message,
        summary,
        now,
    ));
    Ok(out)
}

/// `ticketEscalated` (when the rule notifies managers) and `slaBreached`, for every manager and
/// admin.
async fn to_managers(
    ctx: &Context,
    event: &Envelope,
    ticket: &Ticket,
) -> Result<Vec<Notification>, HandlerError> {
    let number = ticket.complaint_id;
    let title = ticket.title.as_str();
    let (kind, message) = if event.event_type == EventType::SlaBreach {
        let target: SlaTarget = field(event, "target")?
            .parse()
            .map_err(|e: crate::domain::ValidationError| HandlerError::Invalid(e.to_string()))?;
        (
            NotificationKind::SlaBreached,
            format!(
                "{number} \"{title}\" missed its {} target",
                target.describe()
            ),
        )
    } else {
        if event.data["notifyManagers"] != json!(true) {
            return Ok(Vec::new());
        }
        (
            NotificationKind::TicketEscalated,
            format!(
                "{number} \"{title}\" was escalated by rule `{}`",
                field(event, "rule")?
            ),
        )
    };
    let mut data = ticket.summary();
    data["event"] = event.data.clone();
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
