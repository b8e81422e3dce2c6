//! The HTTP edge: the route table, the session cookie's name, JSON:API documents, extractors
//! and the one error mapping. Handlers extract, call one engine function and wrap the result; no
//! business decisions here. Imports only `engine` (and the types it hands out, such as the
//! fields of its `SessionData`); never `store`, `fido`, `flow`, `config` or `startup`.

pub mod admin;
pub mod authfi;
pub mod backend;
pub mod conformance;
pub mod document;
pub mod error;
pub mod extract;
pub mod handlers;
pub mod middleware;
pub mod pages;

use actix_web::web::{self, ServiceConfig};

use handlers as h;
use middleware::method_not_allowed;

/// The name of the session cookie (set by the session middleware `startup` builds, read by the
/// one-request-per-session guard).
pub const SESSION_COOKIE: &str = "FIDOFLOW_SESSION";

fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

/// The browser pages and their assets.
pub fn page_routes(cfg: &mut ServiceConfig, static_dir: &std::path::Path) {
    cfg.service(web::resource("/").route(web::get().to(pages::portal)))
        .service(web::resource("/helpdesk").route(web::get().to(pages::helpdesk)))
        .service(pages::assets(static_dir));
}

/// Routes of the public listener: the browser-facing REST API (and, unless `admin.bind` puts
/// it elsewhere, the admin API).
pub fn public_routes(cfg: &mut ServiceConfig) {
    cfg.service(
        web::scope("/rest/public/authentication")
            .service(resource("/password/check").route(web::post().to(h::password_check)))
            .service(resource("/session").route(web::get().to(h::session_info)))
            .service(resource("/logout").route(web::post().to(h::logout)))
            .service(resource("/flow").route(web::delete().to(h::end_authentication_flow)))
            .service(
                resource("/fido/challenge/retrieve")
                    .route(web::post().to(h::authentication_challenge)),
            )
            .service(
                resource("/fido/assertion-response/check")
                    .route(web::post().to(h::assertion_response)),
            )
            .service(resource("/fido/abort").route(web::post().to(h::abort_authentication)))
            .service(
                resource("/applications/{id}/access").route(web::post().to(h::application_access)),
            ),
    )
    .service(
        web::scope("/rest/public/user-self-registration")
            .service(resource("/user-data/continue").route(web::post().to(h::signup_user_data)))
            .service(
                resource("/fido/registration/challenge/retrieve")
                    .route(web::post().to(h::signup_registration_challenge)),
            )
            .service(
                resource("/fido/registration/attestation-response/check")
                    .route(web::post().to(h::signup_attestation_response)),
            )
            .service(resource("/{id}/select").route(web::post().to(h::signup_select))),
    )
    .service(
        web::scope("/rest/protected/self-service")
            .service(resource("/flows").route(web::get().to(h::list_flows)))
            .service(resource("/flow").route(web::delete().to(h::end_self_service_flow)))
            .service(resource("/flows/{id}/select").route(web::post().to(h::select_flow)))
            .service(
                resource("/fido/registration/challenge/retrieve")
                    .route(web::post().to(h::registration_challenge)),
            )
            .service(
                resource("/fido/registration/attestation-response/check")
                    .route(web::post().to(h::attestation_response)),
            )
            .service(resource("/fido/abort").route(web::post().to(h::abort_self_service)))
            .service(
                resource("/fido/credential/select").route(web::post().to(h::credential_select)),
            )
            .service(
                resource("/fido/display-name/change").route(web::post().to(h::display_name_change)),
            )
            .service(
                resource("/fido/approval/challenge/retrieve")
                    .route(web::post().to(h::approval_challenge)),
            )
            .service(
                resource("/fido/approval/assertion-response/check")
                    .route(web::post().to(h::approval_response)),
            )
            .service(
                resource("/fido/credentials")
                    .route(web::get().to(h::my_credentials))
                    .route(web::post().to(h::my_credentials)),
            ),
    );
}

/// Routes of the relying-party backend APIs, under each tenant's access path: the AuthFi shape
/// and the FIDO conformance API. Registered after every fixed route, so a first path segment the
/// server uses itself is never taken for an access path.
pub fn tenant_routes(cfg: &mut ServiceConfig) {
    authfi::routes(cfg);
    conformance::routes(cfg);
}

/// Routes of the administration API (see `admin/`).
pub fn admin_routes(cfg: &mut ServiceConfig) {
    admin::routes(cfg);
}
