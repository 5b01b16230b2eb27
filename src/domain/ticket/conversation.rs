//! Writing to a ticket's conversation: who may reply or leave a note, and the event each
//! message publishes.

use chrono::{DateTime, Utc};

use super::{Envelope, Event, EventMetadata, Principal, Role, Status, Ticket};
use crate::domain::sla::{SlaPolicy, SlaTarget};
use crate::domain::{
    ConversationError, MAX_MESSAGES, Message, MessageAdded, MessageBody, MessageId, Visibility,
};

impl Ticket {
    /// Adds a public reply by `by`: the requester, the assigned agent or an admin. The ticket
    /// counts as changed (its requester and agent see it), and `ticket.replied` is published.
    /// A reply from the requester to a ticket waiting on them (`Pending`) takes it back to
    /// `InProgress`, its resolution clock running again (`ticket.status_changed` follows). A
    /// reply from the requester to a resolved ticket, within the policy's reopening window,
    /// reopens it (`ticket.status_changed` and `ticket.requeued`: the worker gives it back to
    /// its agent when they are online with a free slot, or to the backlog).
    ///
    /// # Errors
    /// [`ConversationError::Forbidden`] for anyone else, [`ConversationError::Closed`] on a
    /// closed ticket, [`ConversationError::TooLateToReopen`] for the requester's reply to a
    /// ticket resolved longer ago than the window, [`ConversationError::Full`] when the
    /// conversation is full.
    pub fn reply(
        &mut self,
        by: &Principal,
        body: MessageBody,
        policy: &SlaPolicy,
        now: DateTime<Utc>,
        meta: EventMetadata,
    ) -> Result<Vec<Envelope>, ConversationError> {
        let allowed = match by.role {
            Role::Admin => true,
            Role::Customer => by.id == self.requester,
            Role::Agent => self.assignee == Some(by.id),
        };
        if !allowed {
            return Err(ConversationError::Forbidden(
                "only the requester, the assigned agent or an admin may reply",
            ));
        }
        let reopens = self.status == Status::Resolved && by.id == self.requester;
        if reopens
            && self
                .resolved_at
                .is_some_and(|at| now - at > policy.reopen_within())
        {
            return Err(ConversationError::TooLateToReopen {
                days: policy.reopen_within().num_days(),
            });
        }
        let message = self.add_message(by, Visibility::Public, body, now)?;
        self.updated_at = now;
        // The reply clocks: the staff's reply answers, the customer's starts the next wait.
        if by.role == Role::Customer {
            let cycle = policy.clock(&self.terms, self.priority, SlaTarget::NextReply, now);
            self.sla.customer_replied(cycle);
        } else {
            self.sla.staff_replied(now);
        }
        self.touch_sla(now);
        let replied = self.message_event(Event::TicketReplied, message, now, meta.clone());
        let moved = if reopens {
            self.reopened_by_reply(by, policy, now, meta)
        } else {
            self.answered_by_customer(by, policy, now, meta)
                .into_iter()
                .collect()
        };
        Ok(std::iter::once(replied).chain(moved).collect())
    }

    /// Adds an internal note by `by`, an agent or an admin; `ticket.note_added` is published.
    /// A note is for the staff: it does not change what the requester sees of the ticket, not
    /// even when it last changed.
    ///
    /// # Errors
    /// [`ConversationError::Forbidden`] for a customer, [`ConversationError::Closed`] on a
    /// closed ticket, [`ConversationError::Full`] when the conversation is full.
    pub fn add_note(
        &mut self,
        by: &Principal,
        body: MessageBody,
        now: DateTime<Utc>,
        meta: EventMetadata,
    ) -> Result<Envelope, ConversationError> {
        if by.role == Role::Customer {
            return Err(ConversationError::Forbidden(
                "internal notes are for agents and admins",
            ));
        }
        let message = self.add_message(by, Visibility::Internal, body, now)?;
        Ok(self.message_event(Event::TicketNoteAdded, message, now, meta))
    }

    /// The messages someone of `role` may read, oldest first.
    pub fn thread_for(&self, role: Role) -> impl Iterator<Item = &Message> {
        self.messages.iter().filter(move |m| m.visible_to(role))
    }

    fn add_message(
        &mut self,
        by: &Principal,
        visibility: Visibility,
        body: MessageBody,
        now: DateTime<Utc>,
    ) -> Result<Message, ConversationError> {
        if self.status == Status::Closed {
            return Err(ConversationError::Closed);
        }
        if self.messages.len() >= MAX_MESSAGES {
            return Err(ConversationError::Full { max: MAX_MESSAGES });
        }
        let message = Message {
            id: MessageId::generate(),
            author: by.id,
            author_role: by.role,
            visibility,
            body,
            at: now,
        };
        self.messages.push(message.clone());
        Ok(message)
    }

    fn message_event(
        &self,
        kind: fn(MessageAdded) -> Event,
        message: Message,
        now: DateTime<Utc>,
        meta: EventMetadata,
    ) -> Envelope {
        Envelope::new(
            kind(MessageAdded {
                ticket_id: self.id,
                complaint_id: self.complaint_id,
                user_id: self.requester,
                title: self.title.as_str().to_owned(),
                status: self.status,
                assigned_to: self.assignee,
                message_id: message.id,
                author_id: message.author,
                author_role: message.author_role,
                body: message.body.as_str().to_owned(),
            }),
            meta,
            now,
        )
    }
}
