//! `ticket.replied` and `ticket.note_added`: the other side of a conversation hears of a new
//! message. A customer's reply goes to the ticket's agent, a staff reply to its requester, and a
//! note to its agent when someone else wrote it; a note never reaches the requester.

use serde_json::json;

use super::{Context, HandlerError};
use crate::domain::{
    Envelope, MessageAdded, Notification, NotificationKind, TicketRef, UserId, Visibility,
};

pub(super) async fn handle(
    ctx: &Context,
    event: &Envelope,
    added: &MessageAdded,
) -> Result<(), HandlerError> {
    let Some(ticket) = ctx
        .store
        .find_ticket(TicketRef::Id(added.ticket_id))
        .await?
    else {
        return Ok(());
    };
    // The store says what was written, by whom and for whom; the event only names it.
    let Some(message) = ticket.messages.iter().find(|m| m.id == added.message_id) else {
        tracing::warn!(event_id = %event.event_id, ticket_id = %ticket.id,
            message_id = %added.message_id, "ignoring an event for a message the ticket does not have");
        return Ok(());
    };
    let number = ticket.complaint_id;
    let title = ticket.title.as_str();
    let (recipient, kind, text): (Option<UserId>, _, _) = match message.visibility {
        Visibility::Public if message.author == ticket.requester => (
            ticket.assignee,
            NotificationKind::TicketReplied,
            format!("{number} \"{title}\": the customer replied"),
        ),
        Visibility::Public => (
            Some(ticket.requester),
            NotificationKind::TicketReplied,
            format!("New reply on your ticket {number}"),
        ),
        Visibility::Internal => (
            ticket
                .assignee
                .filter(|agent| *agent != message.author && *agent != ticket.requester),
            NotificationKind::NoteAdded,
            format!("{number} \"{title}\": a colleague left a note"),
        ),
    };
    let Some(recipient) = recipient else {
        return Ok(());
    };
    let mut data = ticket.summary();
    data["message"] = json!({
        "id": message.id, "authorId": message.author, "authorRole": message.author_role,
        "visibility": message.visibility, "body": message.body.as_str(), "at": message.at,
    });
    let notification = Notification::of(event, recipient, kind, text, data, ctx.clock.now());
    ctx.store.insert_notifications(&[notification]).await?;
    Ok(())
}
