//! The Loginapp shape: the browser-facing REST API of `/rest/public` and `/rest/protected`,
//! modelled on Airlock IAM's Loginapp REST API. Handlers (`handlers.rs`) extract, call one
//! engine use case of `engine::flows` off the async threads, and render its typed outcome as a
//! JSON:API document (`render.rs`). Imports `engine` and the shared `api` plumbing only.

pub mod handlers;
mod render;

pub use render::credential_attributes;

use actix_web::web::{self, ServiceConfig};

use super::middleware::method_not_allowed;
use handlers as h;

fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

/// The Loginapp routes: public authentication, sign-up and protected self-service.
pub fn routes(cfg: &mut ServiceConfig) {
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
