//! The OpenAPI document. Its paths come from the routers themselves (each resource's
//! `OpenApiRouter` registers a handler and its `#[utoipa::path]` entry in one `routes!` call),
//! so a route cannot be served without being documented or documented without being served.
//! [`ApiDoc`] is the frame they are merged into; [`describe`] then adds what the middleware and
//! the extractors answer on every route, and the configured categories.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr};
use utoipa::{Modify, OpenApi};

use super::error;
use super::schema::{self, CATEGORY};
use crate::domain::{Categories, SlaPolicy};

/// QuickFix's REST API: the frame of the document the routers fill in.
#[derive(OpenApi)]
#[openapi(
    info(title = "QuickFix", description = "Helpdesk tickets routed to agents through events."),
    components(schemas(error::ErrorBody, error::ErrorDetail, error::ErrorDetails)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Completes the document the routers produced: the `Category` schema lists `categories`, the
/// `Plan` and `Region` schemas the SLA policy's plans and regions, and
/// every operation gets the answers that come from outside its handler, unless it documents
/// them itself:
/// - 429 and 503 on every route (the per-client rate limit, load shedding, the request
///   timeout, and a store that does not answer);
/// - 401 where a bearer token is required (the `Auth` extractor);
/// - 400, 413, 415 and 422 where a JSON body is read (the `ApiJson` extractor and the body
///   limit);
/// - 400 and 422 where query parameters or headers are read.
pub fn describe(doc: &mut Document, categories: &Categories, sla: &SlaPolicy) {
    let components = doc.components.get_or_insert_with(Default::default);
    let mut plan = schema::configured_or_null(sla.plans());
    plan.description = Some("One of the SLA policy's plans (`GET /api/sla/policy` lists them), or `null` for the default targets.".into());
    components
        .schemas
        .insert(schema::PLAN.to_owned(), plan.into());
    let mut region = schema::configured_or_null(sla.regions());
    region.description = Some("One of the SLA policy's regions (`GET /api/sla/policy` lists them), or `null` for the default calendar.".into());
    components
        .schemas
        .insert(schema::REGION.to_owned(), region.into());
    components.schemas.insert(
        CATEGORY.to_owned(),
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(categories.names()))
            .description(Some(
                "One of the configured ticket categories (`GET /api/config` lists them).",
            ))
            .into(),
    );
    for item in doc.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.post,
            &mut item.patch,
            &mut item.put,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            add_common_answers(operation);
        }
    }
}

fn add_common_answers(operation: &mut Operation) {
    let secured = operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    let has_body = operation.request_body.is_some();
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let reads_input = parameters
        .iter()
        .any(|p| matches!(p.parameter_in, ParameterIn::Query | ParameterIn::Header));
    let mut answers: Vec<(&str, Response)> = vec![
        (
            "429",
            error_answer(
                "Over a rate limit (this client address's, or this account's failed sign-ins); \
                 retry after `Retry-After` seconds.",
                Some("Retry-After"),
            ),
        ),
        (
            "503",
            error_answer(
                "The server is at capacity, the request took too long, or the database does \
                 not answer; retry after `Retry-After` seconds.",
                Some("Retry-After"),
            ),
        ),
    ];
    if secured {
        answers.push((
            "401",
            error_answer(
                "No valid bearer token: missing, malformed, expired, or of a session that ended.",
                Some("WWW-Authenticate"),
            ),
        ));
    }
    if has_body {
        answers.extend([
            ("400", error_answer("The body is not valid JSON.", None)),
            (
                "413",
                error_answer(
                    "The body is larger than the configured limit (`QUICKFIX_BODY_LIMIT_BYTES`).",
                    None,
                ),
            ),
            (
                "415",
                error_answer(
                    "The body is not declared as `Content-Type: application/json`.",
                    None,
                ),
            ),
        ]);
    }
    if has_body || reads_input {
        answers.push((
            "422",
            error_answer(
                "A field, parameter or header is missing or invalid; `details.field` names it.",
                None,
            ),
        ));
    }
    if reads_input {
        answers.push((
            "400",
            error_answer(
                "The query string cannot be read (e.g. a parameter given twice).",
                None,
            ),
        ));
    }
    for (status, answer) in answers {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert(RefOr::T(answer));
    }
}

/// An error answer with `description`, the `ErrorBody` shape, and `header` when it always
/// carries one.
fn error_answer(description: &str, header: Option<&str>) -> Response {
    let mut answer = ResponseBuilder::new().description(description).content(
        "application/json",
        Content::new(Some(Ref::from_schema_name("ErrorBody"))),
    );
    if let Some(name) = header {
        let schema = if name == "Retry-After" {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .description(Some("Seconds to wait."))
        } else {
            ObjectBuilder::new().schema_type(Type::String)
        };
        answer = answer.header(name, HeaderBuilder::new().schema(schema).build());
    }
    answer.build()
}
