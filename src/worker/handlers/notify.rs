//! Notifications: the people an event concerns get a document in their inbox (the durable
//! source of the live Socket.IO feed). Ids derive from the event, so redelivery adds nothing.

use serde_json::json;

use super::{Context, HandlerError, field, ticket_id, user_id};
use crate::domain::{Envelope, EventType, Notification, NotificationKind, Role, TicketRef};

pub(super) async fn handle(ctx: &Context, event: &Envelope) -> Result<(), HandlerError> {
    let now = ctx.clock.now();
    let mut out = Vec::new();
    if event.event_type == EventType::AgentAvailabilityChanged {
        let agent = user_id(event, "agentId")?;
        let name = field(event, "name").unwrap_or("An agent");
        let availability = field(event, "availability").unwrap_or("changed");
        for admin in ctx.store.list_users(Role::Admin).await? {
            let message = format!("{name} is now {availability}");
            let data = json!({"agentId": agent.to_string(), "name": name, "availability": availability,
                              "presence": event.data["presence"], "freeSlots": event.data["freeSlots"]});
            out.push(Notification::of(
                event,
                admin.id,
                NotificationKind::AgentAvailabilityChanged,
                message,
                data,
                now,
            ));
        }
    } else {
        let Some(ticket) = ctx
            .store
            .find_ticket(TicketRef::Id(ticket_id(event)?))
            .await?
        else {
            return Ok(());
        };
        let summary = ticket.summary();
        let number = ticket.complaint_id;
        let requester_message = match event.event_type {
            EventType::TicketAssigned => {
                let agent = user_id(event, "assignedTo")?;
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
            _ => return Ok(()),
        };
        out.push(Notification::of(
            event,
            ticket.requester,
            NotificationKind::ComplaintUpdated,
            requester_message,
            summary,
            now,
        ));
    }
    ctx.store.insert_notifications(&out).await?;
    Ok(())
}
