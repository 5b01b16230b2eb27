//! Dead-letter queue operations behind `quickfix dlq list` and `quickfix dlq redrive`.

use std::time::Duration;

use crate::bus::{BusError, Queue};

/// One message in the dead-letter queue.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// The queue's message id.
    pub message_id: String,
    /// `eventType` attribute.
    pub event_type: Option<String>,
    /// `data.ticketId` of the body, when it is an event.
    pub ticket_id: Option<String>,
    /// Why the worker dead-lettered it (absent when SQS moved it after maxReceiveCount).
    pub reason: Option<String>,
    /// Receives so far.
    pub receive_count: u32,
}

/// Lists up to `max` dead letters without removing them (they are hidden while listing and
/// made visible again at the end).
///
/// # Errors
/// When the dead-letter queue cannot be reached.
pub async fn list(dlq: &dyn Queue, max: usize) -> Result<Vec<DeadLetter>, BusError> {
    let mut found = Vec::new();
    let mut receipts = Vec::new();
    while found.len() < max {
        let batch = dlq.receive(10, Duration::from_secs(1)).await?;
        if batch.is_empty() {
            break;
        }
        for d in batch {
            let body: serde_json::Value = serde_json::from_str(&d.body).unwrap_or_default();
            found.push(DeadLetter {
                message_id: d.message_id.clone(),
                event_type: d.event_type.clone(),
                ticket_id: body["data"]["ticketId"].as_str().map(str::to_owned),
                reason: d.attribute("reason").map(str::to_owned),
                receive_count: d.receive_count,
            });
            receipts.push(d.receipt);
        }
    }
    for receipt in receipts {
        dlq.change_visibility(&receipt, Duration::ZERO).await?;
    }
    Ok(found)
}

/// Moves every dead letter back to `to` (without its dead-letter reason); returns how many.
///
/// # Errors
/// When either queue cannot be reached; what was moved before stays moved.
pub async fn redrive(dlq: &dyn Queue, to: &dyn Queue) -> Result<usize, BusError> {
    let mut moved = 0;
    loop {
        let batch = dlq.receive(10, Duration::from_secs(1)).await?;
        if batch.is_empty() {
            return Ok(moved);
        }
        for d in batch {
            let attributes: Vec<(String, String)> = d
                .attributes
                .iter()
                .filter(|(k, _)| k != "reason")
                .cloned()
                .collect();
            to.send(&d.body, &attributes).await?;
            dlq.delete(std::slice::from_ref(&d.receipt)).await?;
            moved += 1;
        }
    }
}
