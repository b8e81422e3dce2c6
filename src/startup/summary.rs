//! What `fidoflow serve` says once it listens, one readable line each: the configuration file,
//! the relying party, the data directory and store, the flows and pages, the admin API, the
//! FIDO metadata, and the address to open (with a warning when no origin names the port the
//! server listens on: pages opened there would be refused).

use std::path::Path;

use super::Application;
use crate::config::{Settings, StoreBackend};

impl Application {
    /// Logs the start-up summary (at INFO; the port warning at WARN). `file`: the configuration
    /// file read, if any.
    pub(super) fn log_summary(&self, file: Option<&Path>) {
        let s = self.engine.settings();
        match file {
            Some(file) => tracing::info!("configuration: {}", file.display()),
            None => tracing::info!("configuration: none: built-in defaults"),
        }
        let derived = if s.server.origins_derived {
            " (derived from server.bind)"
        } else {
            ""
        };
        tracing::info!(
            "relying party: id {}, origins {}{derived}",
            s.relying_party.id,
            s.relying_party.origins.join(", ")
        );
        tracing::info!("data directory: {}", s.server.data_dir.display());
        match &s.store.backend {
            StoreBackend::Sled => tracing::info!("store: sled, in the data directory"),
            StoreBackend::Postgres { .. } => tracing::info!(
                "store: PostgreSQL at {}",
                s.store.url_for_logs().unwrap_or_default()
            ),
        }
        let from = |dir: &Option<std::path::PathBuf>| match dir {
            Some(dir) => format!("from {}", dir.display()),
            None => "built in".to_string(),
        };
        tracing::info!(
            "flows ({}): {}",
            from(&s.server.flows_dir),
            self.flow_ids.join(", ")
        );
        tracing::info!("pages ({}): / and /helpdesk", from(&s.server.static_dir));
        tracing::info!("{}", admin_line(s, self.admin_port));
        match self.engine.metadata_in_use() {
            Some(m) => tracing::info!(
                "metadata: BLOB number {}, imported {}, next update {}{}",
                m.number,
                m.imported_at.format("%Y-%m-%d %H:%M UTC"),
                m.next_update,
                if m.stale { " (stale)" } else { "" }
            ),
            None => tracing::info!("metadata: none imported (fidoflow mds import FILE)"),
        }
        let (open, named) = open_url(&s.relying_party.origins, self.port);
        if !named {
            tracing::warn!(
                "server.bind listens on port {}, which none of relying_party.origins ({}) \
                 names: a page opened at this port is refused. Behind a proxy that is expected; \
                 otherwise set relying_party.origins / FIDOFLOW_ORIGINS (e.g. \
                 http://localhost:{}), or leave them unset to derive them from server.bind",
                self.port,
                s.relying_party.origins.join(", "),
                self.port
            );
        }
        if let Some(url) = open {
            tracing::info!("open {url}");
        }
    }
}

fn admin_line(s: &Settings, admin_port: Option<u16>) -> String {
    let tokens = s.admin.tokens.len();
    if tokens == 0 {
        return "admin API: off, no admin token is configured (set FIDOFLOW_ADMIN_TOKEN, or \
                [[admin.tokens]], to turn it on)"
            .to_string();
    }
    let at = match (s.admin.bind, admin_port) {
        (Some(bind), Some(port)) => format!("on the admin listener {}:{port}", bind.ip()),
        _ => "on the public listener".to_string(),
    };
    let plural = if tokens == 1 { "" } else { "s" };
    format!("admin API: on, {tokens} token{plural}, {at} (/rest/admin, /helpdesk)")
}

/// The origin to open: the first web origin whose port is `port`, else the first web origin;
/// and whether any origin names `port`.
fn open_url(origins: &[String], port: u16) -> (Option<String>, bool) {
    let web: Vec<(String, Option<u16>)> = origins
        .iter()
        .filter_map(|o| {
            url::Url::parse(o)
                .ok()
                .filter(|u| u.scheme().starts_with("http"))
        })
        .map(|u| (u.origin().ascii_serialization(), u.port_or_known_default()))
        .collect();
    match web.iter().find(|(_, p)| *p == Some(port)) {
        Some((url, _)) => (Some(url.clone()), true),
        None => (web.first().map(|(url, _)| url.clone()), false),
    }
}

#[cfg(test)]
mod tests {
    use super::open_url;

    #[test]
    fn the_url_to_open_is_the_origin_on_the_bind_port() {
        let origins = vec![
            "https://login.example.com".to_string(),
            "http://localhost:9090".to_string(),
        ];
        assert_eq!(
            open_url(&origins, 9090),
            (Some("http://localhost:9090".into()), true)
        );
        assert_eq!(
            open_url(&origins, 443),
            (Some("https://login.example.com".into()), true)
        );
        assert_eq!(
            open_url(&origins, 8080),
            (Some("https://login.example.com".into()), false)
        );
    }
}
