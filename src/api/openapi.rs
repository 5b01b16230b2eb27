//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{accounts, agents, complaints, error, events, notifications, ops, sla, users, views};

/// QuickFix's REST API.
#[derive(OpenApi)]
#[openapi(
    info(title = "QuickFix", description = "Helpdesk tickets routed to agents through events."),
    paths(
        accounts::register, accounts::login, accounts::change_password,
        accounts::sign_out_everywhere,
        users::create, users::update, users::list,
        complaints::create, complaints::list, complaints::show, complaints::history,
        complaints::change_status, complaints::assign,
        events::search, events::timeline,
        agents::create, agents::list, agents::set_presence,
        notifications::list, notifications::mark_read,
        sla::at_risk, sla::breached, sla::compliance, sla::policy,
        ops::healthz, ops::readyz, ops::metrics, ops::openapi, ops::asyncapi, ops::client_config,
    ),
    components(schemas(
        error::ErrorBody, error::ErrorDetail, views::TicketView, views::TicketAsOfView,
        views::TicketPage,
        views::HistoryView, views::UserView, views::AgentProfileView, views::SessionView,
        notifications::NotificationView, views::SlaView, views::TargetView, sla::DueList,
        sla::ComplianceReport, sla::PriorityCompliance, sla::TargetCompliance, sla::PolicyView,
        sla::TargetsView, sla::RuleView, users::UserPage, ops::ClientConfig,
        events::EventView, events::EventPage, events::EventTimeline,
    )),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
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
