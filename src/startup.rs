//! Builds the application from settings: data directory, store, flows, trust anchors, the
//! session cookie key, the engine and the HTTP listeners (port 0 in tests). The composition
//! root of the server: it may use every module, and only `main` uses it (the cookie's name
//! comes from `api`, the trust anchors from `engine`, the session store's time from the clock).

use std::io::Write as _;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use actix_session::config::{BrowserSession, CookieContentSecurity, TtlExtensionPolicy};
use actix_session::SessionMiddleware;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use anyhow::{bail, Context};

use crate::api;
use crate::clock::Clock;
use crate::config::StoreBackend;
use crate::config::{AttestationPolicyKind, LogFormat, Settings};
use crate::engine::{trust_anchors, Challenges, Engine, EvidenceKey, SERVER_DATA_KEY_FILE};
use crate::flow::definitions::{Conveyance, Step};
use crate::flow::Registry;
use crate::store::{
    PgOptions, PgSessionStore, PgStore, Sessions, SledSessionStore, SledStore, Storage, StoreFaults,
};

mod summary;

/// How long a graceful shutdown waits for requests in flight before it drops them.
pub const SHUTDOWN_TIMEOUT_SECS: u64 = 10;

/// The settings of this process: the file named by `FIDOFLOW_CONFIG`, else `./fidoflow.toml`
/// when there is one, over the built-in defaults, then the `FIDOFLOW_*` environment.
pub fn settings() -> anyhow::Result<Settings> {
    let env: std::collections::HashMap<String, String> = std::env::vars().collect();
    Ok(Settings::load(config_file().as_deref(), &env)?)
}

/// The configuration file [`settings`] reads: `FIDOFLOW_CONFIG`, else `./fidoflow.toml` when
/// there is one.
fn config_file() -> Option<std::path::PathBuf> {
    std::env::var_os("FIDOFLOW_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            let default = std::path::PathBuf::from("fidoflow.toml");
            default.exists().then_some(default)
        })
}

/// `fidoflow serve`: the settings, the log (`log.format`, `RUST_LOG`), the server; on SIGTERM
/// or SIGINT, a graceful shutdown (no new connections, requests in flight finish within
/// [`SHUTDOWN_TIMEOUT_SECS`]), the store flushed, and `Ok` (exit status 0).
pub fn serve() -> anyhow::Result<()> {
    let settings = settings()?;
    // Dropped when `serve` returns: the lines still queued are written out then.
    let _log = init_log(settings.log.format);
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings, Clock::system())?;
        // Taken before anyone learns the port, so no early signal finds the default action.
        let stop = stop_signals().context("cannot listen for SIGTERM and SIGINT")?;
        // Tools find the port in this line (the text, and `port` in both formats).
        tracing::info!(port = app.port(), "fidoflow listening");
        app.log_summary(config_file().as_deref());
        app.run_until(stop).await
    })
}

/// The process's log subscriber: text or JSON lines on stdout, filtered by `RUST_LOG` (default
/// `info`). Each request's lines carry its `request_id` (the span `rest_rules` opens).
///
/// Lines are formatted on the thread that logs them and written by one writer thread
/// (`tracing-appender`), which writes whatever has queued up in one `write` and flushes when the
/// queue is empty: under load many lines share a system call, and an idle server's lines still
/// go out at once. A crash loses at most the lines still queued; the returned guard writes them
/// out when dropped.
fn init_log(format: LogFormat) -> tracing_appender::non_blocking::WorkerGuard {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| "info".into());
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stdout(),
        ));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    guard
}

/// A built server, bound and ready to run.
pub struct Application {
    port: u16,
    admin_port: Option<u16>,
    server: Server,
    admin_server: Option<Server>,
    engine: Engine,
    faults: StoreFaults,
    /// The applications and flows loaded, for the start-up summary.
    flow_ids: Vec<String>,
}

impl Application {
    pub fn build(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        Self::build_with_challenges(settings, clock, Challenges::random())
    }

    /// `build`, with the challenges taken from `challenges` (tests that replay recorded
    /// responses queue the challenges those answer).
    pub fn build_with_challenges(
        settings: Settings,
        clock: Clock,
        challenges: Challenges,
    ) -> anyhow::Result<Self> {
        let data_dir = settings.server.data_dir.clone();
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("server.data_dir: cannot create {}", data_dir.display()))?;
        let registry = Registry::load_or_shipped(settings.server.flows_dir.as_deref())?;
        check_attestation_policy(&settings, &registry)?;
        let flow_ids: Vec<String> = registry
            .applications()
            .map(|a| a.id.to_string())
            .chain(registry.flows().map(|f| f.id.to_string()))
            .collect();
        let trust = trust_anchors(&settings)?;
        let OpenedStore {
            store,
            sessions,
            faults,
        } = open_store(&settings, &clock)?;
        let key = cookie_key(&settings, &data_dir)?;
        let engine = Engine::new(settings.clone(), registry, store, clock, trust, challenges)?;
        engine.set_evidence_key(evidence_key(&settings, &data_dir)?);
        engine.set_uaf_server_data_key(secret_file(
            &data_dir.join(SERVER_DATA_KEY_FILE),
            "UAF server-data key",
        )?);

        let public = TcpListener::bind(settings.server.bind)
            .with_context(|| format!("server.bind: cannot listen on {}", settings.server.bind))?;
        let port = public.local_addr()?.port();
        let admin_listener = match settings.admin.bind {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .with_context(|| format!("admin.bind: cannot listen on {addr}"))?,
            ),
            None => None,
        };
        let admin_port = match &admin_listener {
            Some(l) => Some(l.local_addr()?.port()),
            None => None,
        };
        let admin_inline = admin_listener.is_none();

        let idle = actix_web::cookie::time::Duration::seconds(
            settings.session.idle_timeout.as_secs() as i64,
        );
        let secure = !settings.session.insecure_cookies;
        let static_dir = settings.server.static_dir.clone();
        let data = web::Data::new(engine.clone());
        let cookie_key = web::Data::new(api::middleware::SessionCookieKey(key.clone()));
        let server = {
            let data = data.clone();
            HttpServer::new(move || {
                let session = SessionMiddleware::builder(sessions.clone(), key.clone())
                    .cookie_name(api::SESSION_COOKIE.into())
                    .cookie_secure(secure)
                    .cookie_http_only(true)
                    .cookie_same_site(SameSite::Strict)
                    .cookie_path("/".into())
                    .cookie_domain(None)
                    .cookie_content_security(CookieContentSecurity::Private)
                    .session_lifecycle(
                        BrowserSession::default()
                            .state_ttl(idle)
                            .state_ttl_extension_policy(TtlExtensionPolicy::OnEveryRequest),
                    )
                    .build();
                let mut app = App::new()
                    .app_data(data.clone())
                    .app_data(cookie_key.clone())
                    .configure(api::public_routes)
                    .configure(|cfg| api::page_routes(cfg, static_dir.as_deref()));
                if admin_inline {
                    app = app.configure(|cfg| api::admin_routes(cfg, false));
                }
                app = app.configure(api::tenant_routes);
                app.default_service(web::to(api::middleware::not_found))
                    .wrap(session)
                    .wrap(from_fn(api::middleware::read_small_bodies))
                    .wrap(from_fn(api::middleware::durable_answers))
                    .wrap(from_fn(api::middleware::session_guard))
                    .wrap(from_fn(api::middleware::rest_rules))
                    .wrap(from_fn(api::middleware::normalize_path))
                    .wrap(from_fn(api::middleware::access_log))
            })
        };
        // Signals are `run_until`'s: actix's own would stop SIGINT without grace, and
        // each listener would take them alone.
        let server = server
            .disable_signals()
            .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS);
        let server = match &settings.server.tls {
            Some(files) => server
                .on_connect(crate::tls::on_connect)
                .listen_rustls_0_23(public, crate::tls::server_config(files)?)?,
            None => server.listen(public)?,
        }
        .run();
        let admin_server = match admin_listener {
            Some(listener) => {
                let data = data.clone();
                Some(
                    HttpServer::new(move || {
                        App::new()
                            .app_data(data.clone())
                            .configure(|cfg| api::admin_routes(cfg, true))
                            .default_service(web::to(api::middleware::not_found))
                            .wrap(from_fn(api::middleware::rest_rules))
                            .wrap(from_fn(api::middleware::normalize_path))
                            .wrap(from_fn(api::middleware::access_log))
                    })
                    .disable_signals()
                    .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
                    .listen(listener)?
                    .run(),
                )
            }
            None => None,
        };
        Ok(Self {
            port,
            admin_port,
            server,
            admin_server,
            engine,
            faults,
            flow_ids,
        })
    }

    /// The store's fault injection, for tests that need a store that stopped taking writes
    /// (see [`StoreFaults`]).
    #[doc(hidden)]
    pub fn store_faults(&self) -> StoreFaults {
        self.faults.clone()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn admin_port(&self) -> Option<u16> {
        self.admin_port
    }

    /// Handles to stop the listeners.
    pub fn handles(&self) -> Vec<ServerHandle> {
        let mut handles = vec![self.server.handle()];
        handles.extend(self.admin_server.as_ref().map(Server::handle));
        handles
    }

    /// Serves until `stop` ([`stop_signals`]: SIGTERM or SIGINT) gives the reason, then shuts
    /// down gracefully: the listeners close, requests in flight get [`SHUTDOWN_TIMEOUT_SECS`]
    /// to finish, and the store is flushed.
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = &'static str> + 'static,
    ) -> anyhow::Result<()> {
        let handles = self.handles();
        actix_web::rt::spawn(async move {
            let signal = stop.await;
            tracing::info!(
                signal,
                timeout_secs = SHUTDOWN_TIMEOUT_SECS,
                "shutting down: finishing the requests in flight"
            );
            for handle in handles {
                handle.stop(true).await;
            }
        });
        self.run_until_stopped().await?;
        tracing::info!("fidoflow stopped");
        Ok(())
    }

    /// Serves until stopped (by [`Application::handles`]), purging expired sessions and
    /// ceremonies and trimming the audit log to its retention every minute
    /// (`server.purge_interval`); then flushes the store.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let engine = self.engine.clone();
        let last = self.engine.clone();
        let interval = engine.settings().server.purge_interval;
        let follower = engine.clone();
        let purge = Box::pin(async move {
            loop {
                actix_web::rt::time::sleep(interval).await;
                let engine = engine.clone();
                match web::block(move || engine.purge_expired()).await {
                    Ok(Ok(n)) if n > 0 => tracing::debug!(purged = n, "expired state purged"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "purge failed"),
                    _ => {}
                }
            }
        });
        // Servers sharing a store take up each other's metadata imports and tenant changes.
        let follow = Box::pin(async move {
            if !follower.shares_its_store() {
                return std::future::pending::<()>().await;
            }
            loop {
                actix_web::rt::time::sleep(crate::engine::FOLLOW_INTERVAL).await;
                let engine = follower.clone();
                if let Ok(Err(e)) = web::block(move || engine.follow_shared_store()).await {
                    tracing::warn!(error = %e, "looking for other servers' changes failed");
                }
            }
        });
        let background = Box::pin(futures_util::future::join(purge, follow));
        let serve = Box::pin(async move {
            match self.admin_server {
                Some(admin) => futures_util::future::try_join(self.server, admin)
                    .await
                    .map(|_| ()),
                None => self.server.await,
            }
        });
        // The purge loop ends with the server: nothing outlives it to hold the store open.
        let result = match futures_util::future::select(serve, background).await {
            futures_util::future::Either::Left((result, _)) => result,
            futures_util::future::Either::Right(_) => unreachable!("the purge loop never ends"),
        };
        let flushed = match web::block(move || last.flush()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(std::io::Error::other(format!(
                "the store's last flush failed: {e}"
            ))),
            Err(e) => Err(std::io::Error::other(format!(
                "the store's last flush did not run: {e}"
            ))),
        };
        result.and(flushed)
    }
}

/// Takes over SIGTERM and SIGINT (Ctrl-C) from now on (in the running actix system); the
/// future resolves to the name of the first that comes.
pub fn stop_signals() -> std::io::Result<impl std::future::Future<Output = &'static str>> {
    use actix_web::rt::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        let (term, int) = (Box::pin(term.recv()), Box::pin(int.recv()));
        match futures_util::future::select(term, int).await {
            futures_util::future::Either::Left(_) => "SIGTERM",
            futures_util::future::Either::Right(_) => "SIGINT",
        }
    })
}

/// `require-trusted`, an AAGUID allow-list or a minimum certification level count only
/// attestations that chained to a trust anchor, so they can never be satisfied by a step that
/// asks for `attestation: "none"` (or `"indirect"`, which lets the client strip it).
fn check_attestation_policy(settings: &Settings, registry: &Registry) -> anyhow::Result<()> {
    let attestation = &settings.attestation;
    let key = if attestation.policy == AttestationPolicyKind::RequireTrusted {
        "attestation.policy: \"require-trusted\""
    } else if !attestation.aaguid_allow_list.is_empty() {
        "attestation.aaguid_allow_list"
    } else if attestation.minimum_certification_level.is_some() {
        "attestation.minimum_certification_level"
    } else {
        return Ok(());
    };
    for flow in registry.flows() {
        for step in &flow.steps {
            if let Step::FidoRegistration { attestation, .. } = step {
                if matches!(attestation, Conveyance::None | Conveyance::Indirect) {
                    bail!(
                        "{key} can never be satisfied by flow `{}`, whose registration step asks \
                         for attestation \"{}\"; set it to \"direct\" or \"enterprise\"",
                        flow.id,
                        attestation.as_str()
                    );
                }
            }
        }
    }
    Ok(())
}

/// The session cookie key: 64 random bytes in `session.key` in the data directory, created on
/// first start with mode 0600, so sessions survive a restart.
/// The key that encrypts session cookies: `session.key`, which every node of a cluster shares,
/// else `session.key` in the data directory, made on first start.
fn cookie_key(settings: &Settings, data_dir: &Path) -> anyhow::Result<Key> {
    if let Some(key) = &settings.session.key {
        return Ok(Key::from(key.as_bytes()));
    }
    let bytes: [u8; 64] = secret_file(&data_dir.join("session.key"), "session key")?;
    Ok(Key::from(&bytes))
}

/// The store the configuration names, with its session store and fault injection.
pub struct OpenedStore {
    pub store: Arc<dyn Storage>,
    pub sessions: Sessions,
    /// Fault injection of the sled store (a PostgreSQL store's handle injects nothing).
    pub faults: StoreFaults,
}

/// Opens the configured store: sled in the data directory, or PostgreSQL at `store.url`
/// (migrated to this build's schema first, one node at a time).
pub fn open_store(settings: &Settings, clock: &Clock) -> anyhow::Result<OpenedStore> {
    let data_dir = &settings.server.data_dir;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("server.data_dir: cannot create {}", data_dir.display()))?;
    let now = {
        let clock = clock.clone();
        Arc::new(move || clock.now())
    };
    match &settings.store.backend {
        StoreBackend::Sled => {
            let store = SledStore::open(data_dir).with_context(|| {
                format!(
                    "server.data_dir: cannot open the store in {}; if another fidoflow is \
                     running there, stop it first",
                    data_dir.display()
                )
            })?;
            Ok(OpenedStore {
                faults: store.faults(),
                sessions: Sessions::Sled(Box::new(SledSessionStore::new(store.clone(), now))),
                store: Arc::new(store),
            })
        }
        StoreBackend::Postgres { url } => {
            let options = PgOptions {
                url: url.clone(),
                pool_size: settings.store.pool_size,
                connect_timeout: settings.store.connect_timeout,
            };
            let shown = settings.store.url_for_logs().unwrap_or_default();
            let store = PgStore::connect(&options, data_dir)
                .with_context(|| format!("store.url: cannot use the database at {shown}"))?;
            tracing::info!(url = %shown, pool_size = options.pool_size, "store: PostgreSQL");
            Ok(OpenedStore {
                faults: StoreFaults::default(),
                sessions: Sessions::Postgres(PgSessionStore::new(store.clone(), now)),
                store: Arc::new(store),
            })
        }
    }
}

/// The key that signs transaction evidence: `evidence.signing_key`, else
/// `evidence-signing-key.pem` in the data directory, made on first start with mode 0600.
fn evidence_key(settings: &Settings, data_dir: &Path) -> anyhow::Result<EvidenceKey> {
    if let Some(path) = &settings.evidence.signing_key {
        let pem = std::fs::read_to_string(path)
            .with_context(|| format!("evidence.signing_key: cannot read {}", path.display()))?;
        return EvidenceKey::from_pem(&pem)
            .map_err(|e| anyhow::anyhow!("evidence.signing_key: {}: {e}", path.display()));
    }
    let path = data_dir.join(EVIDENCE_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(pem) => {
            return EvidenceKey::from_pem(&pem)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    let (key, pem) = EvidenceKey::generate();
    write_private(&path, pem.as_bytes())?;
    tracing::info!(file = %path.display(), "made the evidence signing key");
    Ok(key)
}

/// The evidence signing key's file in the data directory when none is configured.
pub const EVIDENCE_KEY_FILE: &str = "evidence-signing-key.pem";

/// An `N`-byte secret kept in `path` (mode 0600), made on first start: the session cookie key,
/// and the key that MACs UAF `serverData`. Every node of a cluster needs the same file.
fn secret_file<const N: usize>(path: &Path, what: &str) -> anyhow::Result<[u8; N]> {
    match std::fs::read(path) {
        Ok(bytes) => {
            return <[u8; N]>::try_from(bytes.as_slice())
                .map_err(|_| anyhow::anyhow!("{}: the {what} must hold {N} bytes", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    let mut bytes = [0u8; N];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    write_private(path, &bytes)?;
    Ok(bytes)
}

/// Creates `path` (it must not exist) with mode 0600 and `bytes`, flushed to disk.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}
