//! The OpenAPI 3 document, generated from the handlers' `#[utoipa::path]` attributes and
//! the core types' schemas.

use std::sync::OnceLock;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A session token from /api/v1/auth/login (`wks_…`) or an API token from /api/v1/tokens (`wkt_…`).",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Anthropy Works API",
        description = "The operations center of a managed service provider. Every error answer has the body \
                       `{\"error\": {\"kind\": …}, \"message\": …, \"next_action\": …}`.",
    ),
    paths(
        api::healthz,
        api::readyz,
        api::version,
        api::openapi_json,
        api::login,
        api::logout,
        api::me,
        api::org_list,
        api::org_create,
        api::org_get,
        api::org_rename,
        api::org_archive,
        api::user_list,
        api::user_create,
        api::user_get,
        api::user_update,
        api::user_disable,
        api::user_enable,
        api::user_reset_password,
        api::token_list,
        api::token_create,
        api::token_revoke,
        api::audit_query,
        api::audit_verify,
    ),
    components(schemas(crate::error::ErrorBody, works_core::Role, works_core::Outcome, works_core::AuditQuery)),
    modifiers(&BearerAuth),
    tags(
        (name = "health", description = "Liveness, readiness and version"),
        (name = "auth", description = "Signing in and out"),
        (name = "organizations", description = "Customer organizations of the MSP"),
        (name = "users", description = "People who sign in"),
        (name = "tokens", description = "API tokens for automation"),
        (name = "audit", description = "The audit log and its hash chain"),
    )
)]
pub struct ApiDoc;

/// The document, built once.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::fleet_api::FleetDoc::openapi());
    doc.merge(crate::health_api::HealthDoc::openapi());
    doc.merge(crate::instance_api::InstanceDoc::openapi());
    doc.merge(crate::instance_ops_api::InstanceOpsDoc::openapi());
    doc.merge(crate::ssh_api::AccessDoc::openapi());
    doc.merge(crate::policy_api::PolicyDoc::openapi());
    doc.merge(crate::schedules_api::SchedulesDoc::openapi());
    doc.merge(crate::agent_api::AgentDoc::openapi());
    doc.merge(crate::alerts_api::AlertsDoc::openapi());
    doc.merge(crate::map_api::MapDoc::openapi());
    doc.merge(crate::status_api::StatusDoc::openapi());
    doc.merge(crate::layout_api::LayoutDoc::openapi());
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

pub(crate) fn document_json() -> String {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        document().to_pretty_json().unwrap_or_else(|e| {
            tracing::error!(error = %e, "could not write the OpenAPI document");
            "{}".to_owned()
        })
    })
    .clone()
}
