//! The Loginapp shape: the browser-facing REST API of `/rest/public` and `/rest/protected`,
//! modelled on Airlock IAM's Loginapp REST API. Handlers (`authentication.rs`, `signup.rs`,
//! `self_service.rs`, each annotated with its OpenAPI operation) extract, call one engine use case
//! of `engine::flows` off the async threads through `handlers.rs`, and render its typed outcome
//! as a JSON:API document (`render.rs`). Imports `engine` and the shared `api` plumbing only.

mod account;
mod authentication;
mod handlers;
mod render;
mod self_service;
mod sessions;
mod signup;

pub use render::credential_attributes;

use actix_web::web::{self, ServiceConfig};

use super::middleware::method_not_allowed;
use super::openapi;
use super::routes::{op, Table};
use account as m;
use authentication as a;
use self_service as h;
use sessions as n;
use signup as u;

fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

/// The Loginapp routes: public authentication, sign-up and protected self-service.
pub fn routes(cfg: &mut ServiceConfig) {
    for table in tables() {
        table.register(cfg);
    }
}

/// The routes, a table per scope, each documented by its handler's `#[utoipa::path]`.
pub fn tables() -> Vec<Table> {
    let authentication = Table::scope("/rest/public/authentication", resource)
        .shared(openapi::authentication_operation)
        .at("/password/check", [op!(post, a::password_check)])
        .at("/session", [op!(get, a::session_info)])
        .at("/logout", [op!(post, a::logout)])
        .at("/flow", [op!(delete, a::end_authentication_flow)])
        .at(
            "/fido/challenge/retrieve",
            [op!(post, a::authentication_challenge)],
        )
        .at(
            "/fido/assertion-response/check",
            [op!(post, a::assertion_response)],
        )
        .at("/fido/abort", [op!(post, a::abort_authentication)])
        .at(
            "/applications/{id}/access",
            [op!(post, a::application_access)],
        );
    let signup = Table::scope("/rest/public/user-self-registration", resource)
        .shared(openapi::signup_operation)
        .at("/user-data/continue", [op!(post, u::signup_user_data)])
        .at(
            "/fido/registration/challenge/retrieve",
            [op!(post, u::signup_registration_challenge)],
        )
        .at(
            "/fido/registration/attestation-response/check",
            [op!(post, u::signup_attestation_response)],
        )
        .at("/{id}/select", [op!(post, u::signup_select)]);
    let self_service = Table::scope("/rest/protected/self-service", resource)
        .shared(openapi::self_service_operation)
        .at("/flows", [op!(get, h::list_flows)])
        .at("/flow", [op!(delete, h::end_self_service_flow)])
        .at("/flows/{id}/select", [op!(post, h::select_flow)])
        .at(
            "/fido/registration/challenge/retrieve",
            [op!(post, h::registration_challenge)],
        )
        .at(
            "/fido/registration/attestation-response/check",
            [op!(post, h::attestation_response)],
        )
        .at("/fido/abort", [op!(post, h::abort_self_service)])
        .at("/fido/credential/select", [op!(post, h::credential_select)])
        .at(
            "/fido/display-name/change",
            [op!(post, h::display_name_change)],
        )
        .at(
            "/fido/approval/challenge/retrieve",
            [op!(post, h::approval_challenge)],
        )
        .at(
            "/fido/approval/assertion-response/check",
            [op!(post, h::approval_response)],
        )
        .at(
            "/fido/credentials",
            [
                op!(get, h::my_credentials),
                op!(post, h::my_credentials_by_post),
            ],
        )
        .at("/user", [op!(get, m::my_account)])
        .at(
            "/user/display-name/change",
            [op!(post, m::user_display_name_change)],
        )
        .at(
            "/password/current/check",
            [op!(post, m::current_password_check)],
        )
        .at("/password/new/set", [op!(post, m::new_password)])
        .at("/security-events", [op!(get, m::my_security_events)])
        .at("/sessions", [op!(get, n::my_sessions)])
        .at("/session/select", [op!(post, n::session_select)]);
    vec![authentication, signup, self_service]
}
