//! The AsyncAPI 3 document of QuickFix's topic: the channel (the SNS topic), the `eventType`
//! message attribute every subscription filters on, the worker queue's subscription and filter
//! policy, and one message per event type whose payload schema (the envelope around the typed
//! payload) is generated from the Rust types of the catalog. Served at `/asyncapi.json` and
//! kept in `docs/asyncapi.json`.

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::TopologySpec;
use crate::bus::REPLAYED_ATTRIBUTE;
use crate::domain::{EventMetadata, EventType, WORKER_EVENT_TYPES, payload_schema};
use crate::telemetry::trace::TRACEPARENT;

/// Where the generated schemas live in the document.
const SCHEMAS: &str = "#/components/schemas/";

/// The document, for the default topology names (`QUICKFIX_TOPIC_NAME` and friends rename them).
pub fn document() -> Value {
    let topology = TopologySpec::default();
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = SCHEMAS.trim_start_matches('#').into();
    let mut generator = settings.into_generator();
    let metadata = generator.subschema_for::<EventMetadata>();
    let mut messages = Map::new();
    let mut schemas = Map::new();
    for event_type in EventType::ALL {
        let name = event_type.as_str();
        let envelope = format!("{name}.envelope");
        schemas.insert(
            envelope.clone(),
            json!({
                "type": "object",
                "description": format!("The envelope of `{name}`: {}", event_type.summary()),
                "required": ["eventId", "eventType", "version", "timestamp", "data", "metadata"],
                "properties": {
                    "eventId": {"type": "string", "format": "uuid",
                                "description": "Unique per event; consumers use it to spot duplicates (a replay keeps it)."},
                    "eventType": {"const": name},
                    "version": {"const": event_type.version()},
                    "timestamp": {"type": "string", "format": "date-time"},
                    "data": payload_schema(event_type, &mut generator),
                    "metadata": metadata,
                },
            }),
        );
        messages.insert(
            name.to_owned(),
            json!({
                "name": name,
                "title": name,
                "summary": event_type.summary(),
                "contentType": "application/json",
                "headers": {"$ref": format!("{SCHEMAS}message-attributes.{name}")},
                "payload": {"$ref": format!("{SCHEMAS}{envelope}")},
            }),
        );
        schemas.insert(
            format!("message-attributes.{name}"),
            json!({
                "type": "object",
                "description": "SNS message attributes (String): subscriptions filter on `eventType`; `traceparent` carries the W3C trace context when traces are exported; `replayed` is `true` on an event published again from the event log (same `eventId`).",
                "required": ["eventType"],
                "properties": {
                    "eventType": {"const": name},
                    TRACEPARENT: {"type": "string",
                                  "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"},
                    REPLAYED_ATTRIBUTE: {"const": "true"},
                },
            }),
        );
    }
    schemas.extend(generator.take_definitions(true));
    let message_refs = |types: &[EventType]| -> Vec<Value> {
        types
            .iter()
            .map(|t| json!({"$ref": format!("#/channels/events/messages/{}", t.as_str())}))
            .collect()
    };
    let channel_messages: Map<String, Value> = EventType::ALL
        .iter()
        .map(|t| {
            (
                t.as_str().to_owned(),
                json!({"$ref": format!("#/components/messages/{}", t.as_str())}),
            )
        })
        .collect();
    let worker_types: Vec<&str> = WORKER_EVENT_TYPES.iter().map(|t| t.as_str()).collect();
    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "QuickFix events",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every change QuickFix makes is published once to one SNS topic as a JSON envelope (raw message delivery), with its `eventType` as a message attribute. Delivery is at least once: consumers recognise a repeat by `eventId`. The API and the worker publish; the worker queue receives the types its filter policy names.",
        },
        "defaultContentType": "application/json",
        "channels": {
            "events": {
                "address": topology.topic_name,
                "title": "The events topic",
                "description": "The SNS topic every QuickFix process publishes to (`SNS_TOPIC_ARN`).",
                "messages": channel_messages,
                "bindings": {"sns": {"name": topology.topic_name, "bindingVersion": "0.1.0"}},
            }
        },
        "operations": {
            "publishEvent": {
                "action": "send",
                "title": "Publish an event",
                "summary": "The outbox relay of every API and worker process publishes each stored event once (a duplicate only after a crash between publish and clear).",
                "channel": {"$ref": "#/channels/events"},
                "messages": message_refs(&EventType::ALL),
            },
            "routeTickets": {
                "action": "receive",
                "title": "The worker queue",
                "summary": "The worker's SQS queue, subscribed with a filter policy on `eventType`; failures go to its dead-letter queue.",
                "channel": {"$ref": "#/channels/events"},
                "messages": message_refs(&WORKER_EVENT_TYPES),
                "bindings": {"sns": {
                    "consumers": [{
                        "protocol": "sqs",
                        "endpoint": {"name": topology.queue_name},
                        "filterPolicy": {"eventType": worker_types},
                        "filterPolicyScope": "MessageAttributes",
                        "rawMessageDelivery": true,
                    }],
                    "bindingVersion": "0.1.0",
                }},
            },
        },
        "components": {
            "messages": messages,
            "schemas": schemas,
        },
    })
}

/// The document as `docs/asyncapi.json` holds it: pretty-printed, with a final newline.
pub fn document_text() -> String {
    let mut text = serde_json::to_string_pretty(&document()).expect("BUG: the document is JSON");
    text.push('\n');
    text
}
