//! Logs (tracing), traces (OpenTelemetry, [`trace`]) and metrics (Prometheus).

pub mod trace;

use std::io::IsTerminal;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::LogFormat;

/// What [`init`] started; [`Telemetry::shutdown`] sends the spans still buffered.
#[derive(Debug, Default)]
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn exports_traces(&self) -> bool {
        self.traces.is_some()
    }

    /// Exports what is buffered and stops the exporter (at the end of the command).
    pub fn shutdown(self) {
        if let Some(provider) = self.traces
            && let Err(err) = provider.shutdown()
        {
            tracing::warn!(error = %err, "could not send the last trace spans");
        }
    }
}

/// Starts logging to standard error (standard output is for what a command prints, such as the
/// settings `provision` writes): `RUST_LOG` filters (default `info`); JSON unless a terminal is
/// attached or `format` says otherwise. Exports traces as `service` when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set ([`trace`]). Later calls only log.
///
/// # Errors
/// When trace export is asked for but its settings are invalid.
pub fn init(format: LogFormat, service: &str) -> anyhow::Result<Telemetry> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,tower_http=info,aws_config=warn,aws_smithy_runtime=warn")
    });
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs: Box<dyn Layer<Registry> + Send + Sync> = if json {
        logs.json().flatten_event(true).boxed()
    } else {
        logs.boxed()
    };
    let traces = if trace::export_requested() {
        Some(trace::otlp_provider(service)?)
    } else {
        None
    };
    let installed = tracing_subscriber::registry()
        .with(logs)
        .with(traces.as_ref().map(trace::layer))
        .with(filter)
        .try_init()
        .is_ok();
    if let Some(provider) = &traces
        && installed
    {
        tracing::info!(service, "exporting traces over OTLP");
        return Ok(Telemetry {
            traces: Some(provider.clone()),
        });
    }
    Ok(Telemetry::default())
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .install_recorder()
                .expect("BUG: a metrics recorder was installed elsewhere")
        })
        .clone()
}

/// Serves `/metrics` (Prometheus text) and `/healthz` on `addr` until `shutdown`: the worker's
/// window for operators, since it has no API of its own.
///
/// # Errors
/// If `addr` cannot be bound.
pub async fn serve_metrics(
    addr: std::net::SocketAddr,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<std::net::SocketAddr> {
    use axum::routing::get;
    let handle = metrics_handle();
    let app = axum::Router::new()
        .route("/metrics", get(move || std::future::ready(handle.render())))
        .route(
            "/healthz",
            get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned());
        if let Err(err) = serve.await {
            tracing::warn!(error = %err, "the metrics listener stopped");
        }
    });
    Ok(bound)
}
