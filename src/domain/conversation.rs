//! A ticket's conversation: public replies between the customer and the staff, and internal
//! notes the staff leave for each other. A note is never shown to a customer.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::bounded_text;
use super::named::{named_enum, text_serde};
use super::{Role, UserId, ValidationError};

named_enum!(
    /// Who may read a message.
    Visibility, "visibility" {
        /// A reply: the requester and the staff.
        Public = "public",
        /// A note: the staff only.
        Internal = "internal",
    }
);

/// A message's id: a time-ordered UUID (v7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(Uuid);

impl MessageId {
    /// A fresh id, later than every id made before it in this process.
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }

    /// Parses the hyphenated form.
    ///
    /// # Errors
    /// If `s` is not a UUID.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        Uuid::parse_str(s)
            .map(Self)
            .map_err(|_| ValidationError::new("messageId", "is not a message id"))
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.as_hyphenated().fmt(f)
    }
}

text_serde!(MessageId, MessageId::parse, {
    "type": "string", "format": "uuid", "description": "A message's id"
});

/// A message's text: plain text, 1 to 5,000 characters after trimming, no control characters
/// but line breaks and tabs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageBody(String);

impl MessageBody {
    /// Longest message accepted.
    pub const MAX_CHARS: usize = 5000;

    /// Validates the text of field `field`.
    ///
    /// # Errors
    /// If it is empty, longer than 5,000 characters, or holds control characters.
    pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationError> {
        bounded_text(field, raw, 1, Self::MAX_CHARS).map(Self)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One message of a ticket's conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its id.
    pub id: MessageId,
    /// Who wrote it.
    pub author: UserId,
    /// The author's role when they wrote it.
    pub author_role: Role,
    /// A reply or a note.
    pub visibility: Visibility,
    /// The text.
    pub body: MessageBody,
    /// When it was written.
    pub at: DateTime<Utc>,
}

impl Message {
    /// Whether someone of `role` may read it: notes are for the staff.
    pub fn visible_to(&self, role: Role) -> bool {
        self.visibility == Visibility::Public || role != Role::Customer
    }
}

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversationError {
    /// The person may not write this kind of message on this ticket.
    #[error("{0}")]
    Forbidden(&'static str),
    /// A closed ticket takes no more messages.
    #[error("a closed ticket takes no replies or notes")]
    Closed,
    /// The requester replied to a ticket resolved too long ago to reopen it.
    #[error("the ticket was resolved more than {days} days ago; open a new ticket")]
    TooLateToReopen {
        /// The reopening window, in days.
        days: i64,
    },
    /// The conversation holds as many messages as a ticket keeps.
    #[error("the conversation is full ({max} messages); open a new ticket")]
    Full {
        /// The most messages a ticket keeps.
        max: usize,
    },
}

/// The most messages one ticket keeps (its conversation lives in the ticket's document).
pub const MAX_MESSAGES: usize = 200;
