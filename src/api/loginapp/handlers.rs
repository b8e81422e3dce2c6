//! What every Loginapp handler does: load the session's state, call one engine function off the
//! async threads, store the state and render the outcome. The handlers themselves are in
//! `authentication.rs`, `signup.rs` and `self_service.rs`.

use actix_session::Session;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::api::document::{respond, Answer};
use crate::api::error::ApiError;
use crate::api::extract::{load_session, request_ctx, store_session};
use crate::api::middleware::durable_before_answer;
use crate::engine::{deferred, Engine, EngineResult, Pending, RequestCtx, SessionData};

pub type Reply = Result<HttpResponse, ApiError>;

/// Runs one session-bound engine call (the `session_guard` middleware has already made sure no
/// other request of this session runs) and renders its outcome. The call runs right here on the
/// async worker: it is in-memory work and one signature check, and its durable writes do not
/// wait for the disk inside it — the answer does, once (`durable_answers`), with the session's.
pub async fn run<T, F, R>(
    req: HttpRequest,
    engine: web::Data<Engine>,
    session: Session,
    call: F,
    render: R,
) -> Reply
where
    F: FnOnce(&Engine, &mut SessionData, &RequestCtx) -> EngineResult<T>,
    R: FnOnce(T) -> Answer,
{
    let (mut data, cx) = start(&req, &engine, &session);
    let (result, pending) = deferred(|| call(&engine, &mut data, &cx));
    finish(&req, &session, &data, pending)?;
    Ok(respond(render(result?)))
}

/// [`run`] for a call that waits for a password hash (tens of milliseconds on a hashing
/// thread): it runs on the blocking pool, so the async worker serves other requests meanwhile.
pub async fn run_blocking<T, F, R>(
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
    let (data, cx) = start(&req, &engine, &session);
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
    finish(&req, &session, &data, pending)?;
    Ok(respond(render(result?)))
}

/// The session's state (with a new engine session when it has none) and the request's context.
fn start(req: &HttpRequest, engine: &Engine, session: &Session) -> (SessionData, RequestCtx) {
    let mut data = load_session(session);
    engine.begin(&mut data);
    (data, request_ctx(req, engine))
}

/// Stores the session's state and hands the call's durable writes to `durable_answers`.
fn finish(
    req: &HttpRequest,
    session: &Session,
    data: &SessionData,
    pending: Pending,
) -> Result<(), ApiError> {
    durable_before_answer(req, pending);
    store_session(session, data)
}
