//! What every Loginapp handler does: load the session's state, call one engine function off the
//! async threads, store the state and render the outcome. The handlers themselves are in
//! `authentication.rs`, `signup.rs` and `self_service.rs`.

use actix_session::Session;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::api::document::{respond, Answer};
use crate::api::error::ApiError;
use crate::api::extract::{load_session, request_ctx, store_session};
use crate::api::middleware::durable_before_answer;
use crate::engine::{deferred, Engine, EngineResult, RequestCtx, SessionData};

pub type Reply = Result<HttpResponse, ApiError>;

/// Runs one session-bound engine call on the blocking pool (the `session_guard` middleware has
/// already made sure no other request of this session runs) and renders its outcome. Its
/// durable writes are on disk before the answer leaves (`durable_answers`), with the session's.
pub async fn run<T, F, R>(
    req: HttpRequest,
    engine: web::Data<Engine>,
    session: Session,
    call: F,
    render: R,
) -> Reply
where
    T: Send + 'static,
    F: FnOnce(&Engine, &mut SessionData, &RequestCtx) -> EngineResult<T> + Send + 'static,
    R: FnOnce(T) -> Answer,
{
    let mut data = load_session(&session);
    engine.begin(&mut data);
    let cx = request_ctx(&req, &engine);
    let engine = engine.get_ref().clone();
    let ((data, result), pending) = web::block(move || {
        deferred(|| {
            let mut data = data;
            let result = call(&engine, &mut data, &cx);
            (data, result)
        })
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    durable_before_answer(&req, pending);
    store_session(&session, &data)?;
    Ok(respond(render(result?)))
}
