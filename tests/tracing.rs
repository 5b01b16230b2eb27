//! One trace from request to assignment: the API's span for the request that opens a ticket,
//! the `ticket.created` event, the worker's span handling it, the `ticket.assigned` event that
//! handler emits and the worker's span handling that one all share one trace id, on the
//! embedded bus and through SNS/SQS. In-process, an in-memory exporter stands in for the
//! collector; across processes (`quickfix api` and `quickfix worker` on the real services),
//! both export over OTLP/HTTP to a collector the test runs.

mod common;

#[path = "chaos/cluster.rs"]
#[allow(dead_code)]
mod cluster;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use quickfix::domain::{TicketId, TicketRef};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use common::{Backend, TestApp, eventually};

const WAIT: Duration = Duration::from_secs(60);

/// The trace a client started before calling QuickFix.
const CLIENT_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const CLIENT_SPAN: &str = "b7ad6b7169203331";

/// The process-wide exporter every span of this test binary goes to.
fn exporter() -> &'static InMemorySpanExporter {
    static TRACES: OnceLock<(InMemorySpanExporter, SdkTracerProvider)> = OnceLock::new();
    &TRACES
        .get_or_init(|| {
            let exporter = InMemorySpanExporter::default();
            let provider = SdkTracerProvider::builder()
                .with_simple_exporter(exporter.clone())
                .build();
            tracing_subscriber::registry()
                .with(quickfix::telemetry::trace::layer(&provider))
                .with(tracing_subscriber::EnvFilter::new("info"))
                .init();
            (exporter, provider)
        })
        .0
}

/// The finished spans of trace `trace`.
fn spans_of(trace: TraceId) -> Vec<SpanData> {
    exporter()
        .get_finished_spans()
        .expect("finished spans")
        .into_iter()
        .filter(|s| s.span_context.trace_id() == trace)
        .collect()
}

/// Waits for the finished span named `name` in trace `trace`.
async fn span_named(trace: TraceId, name: &str) -> SpanData {
    eventually(WAIT, || async {
        spans_of(trace).into_iter().find(|s| s.name == name)
    })
    .await
    .unwrap_or_else(|| {
        let names: Vec<_> = spans_of(trace).into_iter().map(|s| s.name).collect();
        panic!("no span `{name}` in trace {trace}; it holds {names:?}")
    })
}

/// Opens a ticket with request id `request_id` (inside the client's trace when `traceparent`
/// is given) and waits until a worker has assigned it.
async fn open_and_wait_assigned(app: &TestApp, request_id: &str, traceparent: Option<String>) {
    let customer = app.customer(1).await;
    let mut request = app
        .client
        .post(app.url("/api/complaints"))
        .bearer_auth(&customer.token)
        .json(&json!({
            "title": "Printer on fire",
            "description": "Smoke is coming out",
            "category": "Technical"
        }))
        .header("x-request-id", request_id);
    if let Some(value) = traceparent {
        request = request.header("traceparent", value);
    }
    let created = app.send(request).await.expect(201).body;
    let id = TicketId::parse(created["id"].as_str().unwrap()).unwrap();
    eventually(WAIT, || async {
        let ticket = app.store.find_ticket(TicketRef::Id(id)).await.unwrap()?;
        ticket.assignee.is_some().then_some(())
    })
    .await
    .expect("the ticket is assigned");
}

/// A client that traces: the API's request span continues the client's trace, and the worker's
/// spans continue the API's.
async fn a_ticket_is_one_trace_from_request_to_assignment(backend: Backend) {
    let _ = exporter();
    let Some(app) = common::spawn_app(backend).await else {
        return;
    };
    let shutdown = CancellationToken::new();
    app.spawn_worker(&shutdown);

    let client_trace = TraceId::from_hex(CLIENT_TRACE).unwrap();
    let client_span = SpanId::from_hex(CLIENT_SPAN).unwrap();
    let traceparent = format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01");
    open_and_wait_assigned(&app, "traced-client", Some(traceparent)).await;

    // The API's span continues the client's trace.
    let request = span_named(client_trace, "POST /api/complaints").await;
    assert_eq!(request.parent_span_id, client_span);

    // The worker's span for `ticket.created` is a child of the request span: the event carried
    // the request's trace context through the outbox and the bus.
    let created = span_named(client_trace, "handle ticket.created").await;
    assert_eq!(
        created.parent_span_id,
        request.span_context.span_id(),
        "the handler continues the request's span"
    );
    // The assignment it made is handled in the same trace, as a child of that handler.
    let assigned = span_named(client_trace, "handle ticket.assigned").await;
    assert_eq!(
        assigned.parent_span_id,
        created.span_context.span_id(),
        "the follow-up event continues the handler's span"
    );
    shutdown.cancel();
}

/// Without a client trace, the API starts one; the worker's spans join it.
async fn the_api_starts_a_trace_the_worker_joins(backend: Backend) {
    let _ = exporter();
    let Some(app) = common::spawn_app(backend).await else {
        return;
    };
    let shutdown = CancellationToken::new();
    app.spawn_worker(&shutdown);
    let request_id = format!("untraced-{}", uuid::Uuid::new_v4());
    open_and_wait_assigned(&app, &request_id, None).await;

    // The worker's span for this ticket's creation (its correlation id is the request id).
    let created = eventually(WAIT, || async {
        exporter()
            .get_finished_spans()
            .unwrap()
            .into_iter()
            .find(|s| {
                s.name == "handle ticket.created"
                    && s.attributes.iter().any(|kv| {
                        kv.key.as_str() == "correlation_id" && kv.value.as_str() == request_id
                    })
            })
    })
    .await
    .expect("the worker's span for the ticket's creation");
    let trace = created.span_context.trace_id();
    let request = span_named(trace, "POST /api/complaints").await;
    assert_eq!(
        request.parent_span_id,
        SpanId::INVALID,
        "the request starts the trace"
    );
    assert_eq!(created.parent_span_id, request.span_context.span_id());
    let assigned = span_named(trace, "handle ticket.assigned").await;
    assert_eq!(assigned.parent_span_id, created.span_context.span_id());
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_a_ticket_is_one_trace_from_request_to_assignment() {
    a_ticket_is_one_trace_from_request_to_assignment(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_a_ticket_is_one_trace_from_request_to_assignment() {
    a_ticket_is_one_trace_from_request_to_assignment(Backend::Real).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_the_api_starts_a_trace_the_worker_joins() {
    the_api_starts_a_trace_the_worker_joins(Backend::Embedded).await;
}

/// What an OTLP/HTTP (JSON) collector received: one export request body per element.
type Exports = Arc<std::sync::Mutex<Vec<serde_json::Value>>>;

/// Serves `POST /v1/traces` (OTLP/HTTP JSON) on a free port; returns its base URL.
async fn start_collector(exports: Exports) -> String {
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| async move {
            if let Ok(request) = serde_json::from_slice(&body) {
                exports.lock().unwrap().push(request);
            }
            axum::Json(json!({}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// One exported span: its service, name, trace, id and parent (hex).
#[derive(Debug, Clone)]
struct Exported {
    service: String,
    name: String,
    trace: String,
    id: String,
    parent: String,
}

fn exported_spans(exports: &Exports) -> Vec<Exported> {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_lowercase();
    let mut spans = Vec::new();
    for request in exports.lock().unwrap().iter() {
        for resource in request["resourceSpans"].as_array().into_iter().flatten() {
            let service = resource["resource"]["attributes"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|a| a["key"] == "service.name")
                .map(|a| text(&a["value"]["stringValue"]))
                .unwrap_or_default();
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                for span in scope["spans"].as_array().into_iter().flatten() {
                    spans.push(Exported {
                        service: service.clone(),
                        name: span["name"].as_str().unwrap_or_default().to_owned(),
                        trace: text(&span["traceId"]),
                        id: text(&span["spanId"]),
                        parent: text(&span["parentSpanId"]),
                    });
                }
            }
        }
    }
    spans
}

/// The API and the worker as separate processes, exporting over OTLP: the worker's spans for
/// the ticket continue the API's request span, which continues the client's trace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_and_worker_processes_export_one_trace_over_otlp() {
    let (Some(mongo_uri), Some(endpoint)) = (common::mongo_uri(), common::aws_endpoint()) else {
        return;
    };
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let database = format!("qf_trace_{tag}");
    let store = quickfix::MongoStore::connect(&mongo_uri, &database, Default::default())
        .await
        .expect("connect to the test MongoDB");
    common::seed(&store).await;
    let topology = common::aws_topology(
        &endpoint,
        &common::unique_spec(quickfix::domain::WORKER_EVENT_TYPES.to_vec()),
    )
    .await;
    let exports = Exports::default();
    let collector = start_collector(exports.clone()).await;
    let settings = cluster::Settings {
        mongo_uri,
        database,
        endpoint,
        topic_arn: topology.topic_arn.clone(),
        queue_url: topology.queue_url.clone(),
        jwt_secret: format!("trace-{}{}", tag, uuid::Uuid::new_v4().simple()),
        lease_seconds: 30,
        log_dir: std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("trace-{tag}")),
        extra_env: [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            // One sweep, at start: a periodic one could drain the new ticket from the backlog
            // before its `ticket.created` arrives, and assign it in the sweep's own trace.
            ("WORKER_SWEEP_INTERVAL_SECONDS", "3600"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
    };
    let deployment = cluster::Cluster::new(settings, vec![common::process::free_port()]);
    deployment.start_api("api", 0);
    deployment.start_worker("worker");
    tokio::join!(
        deployment.wait_api_ready("api", 0),
        deployment.wait_worker_ready("worker")
    );

    // The demo agents come online at seed; their events could assign the ticket first, in
    // their own trace. Let the worker handle all three before the traced request.
    let seed_handled = eventually(WAIT, || async {
        let handled = exported_spans(&exports)
            .into_iter()
            .filter(|s| {
                s.service == "quickfix-worker" && s.name == "handle agent.availability_changed"
            })
            .count();
        (handled >= 3).then_some(())
    })
    .await;
    assert!(
        seed_handled.is_some(),
        "the worker handles the seed's agent events"
    );

    let client = reqwest::Client::new();
    let base = deployment.api_base(0);
    let signed_in: serde_json::Value = client
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"email": "customer1@quickfix.dev", "password": common::PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let created = client
        .post(format!("{base}/api/complaints"))
        .bearer_auth(signed_in["token"].as_str().expect("signed in"))
        .header("traceparent", format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"))
        .json(&json!({
            "title": "Printer on fire",
            "description": "Smoke is coming out",
            "category": "Technical"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    let find = |service: &str, name: &str| {
        exported_spans(&exports)
            .into_iter()
            .find(|s| s.trace == CLIENT_TRACE && s.service == service && s.name == name)
    };
    let spans = eventually(WAIT, || async {
        Some((
            find("quickfix-api", "POST /api/complaints")?,
            find("quickfix-worker", "handle ticket.created")?,
            find("quickfix-worker", "handle ticket.assigned")?,
        ))
    })
    .await;
    let Some((request, created, assigned)) = spans else {
        let seen: Vec<_> = exported_spans(&exports)
            .into_iter()
            .map(|s| format!("{} {} {}", s.service, s.name, s.trace))
            .collect();
        panic!("the trace never held the API's and the worker's spans; exported: {seen:?}");
    };
    assert_eq!(request.parent, CLIENT_SPAN);
    assert_eq!(
        created.parent, request.id,
        "the worker continues the API's span"
    );
    assert_eq!(
        assigned.parent, created.id,
        "and the events it emits continue it"
    );
}
