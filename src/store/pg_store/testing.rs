//! A PostgreSQL server for tests, and a fresh database on it for each test.
//!
//! The server: `FIDOFLOW_TEST_DATABASE_URL` when set (a URL of a role that may create databases,
//! e.g. the cluster `.ci/run` starts), else a throwaway cluster this process starts once:
//! `initdb` in a temporary directory (as the `postgres` user when the tests run as root, which
//! `initdb` refuses to be), `postgres` on a free loopback port with `fsync=off`, and a watchdog
//! shell that stops it and removes the directory when the test process is gone. The binaries
//! are found on `PATH` or under `/usr/lib/postgresql/*/bin` (Debian's `postgresql` package).
//! When none can be found or started, the caller panics with what is missing: a PostgreSQL
//! test never passes by skipping.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The URL of a fresh, empty database on the test server, made for the caller alone and kept
/// until the test server stops.
pub fn fresh_database_url() -> String {
    fresh_database().1
}

/// A fresh, empty database on the test server: its name and URL.
fn fresh_database() -> (String, String) {
    let name = format!("t_{}", crate::domain::hex(&rand::random::<[u8; 8]>()));
    admin_sql(&format!("CREATE DATABASE {name}"));
    let url = with_database(server_url(), &name);
    (name, url)
}

/// [`fresh_database_url`] for a database that lives as long as the directory `owner` (a test's
/// data directory): once `owner` is gone, the next call drops the database. A full run makes
/// hundreds of databases of about 8 MB each; dropping the finished ones keeps the test server's
/// disk use to those of the tests still running.
pub fn database_for(owner: &Path) -> String {
    static OWNED: std::sync::Mutex<Vec<(PathBuf, String)>> = std::sync::Mutex::new(Vec::new());
    let finished: Vec<String> = {
        let mut owned = OWNED.lock().unwrap_or_else(|e| e.into_inner());
        let (done, live) = std::mem::take(&mut *owned)
            .into_iter()
            .partition(|(dir, _)| !dir.exists());
        *owned = live;
        done.into_iter().map(|(_, name)| name).collect()
    };
    for name in finished {
        // FORCE ends the connections a stopped server's pool may still hold (PostgreSQL 13+).
        admin_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
    let (name, url) = fresh_database();
    OWNED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((owner.to_path_buf(), name));
    url
}

/// Runs `sql` on the test server's admin database (from any thread, inside a runtime or not).
pub fn admin_sql(sql: &str) {
    let (url, sql) = (server_url().to_string(), sql.to_string());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the test database");
        runtime.block_on(async move {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("the test PostgreSQL at {url}: {e}"));
            tokio::spawn(connection);
            client
                .batch_execute(&sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        })
    })
    .join()
    .expect("the admin statement ran");
}

/// `url` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("FIDOFLOW_TEST_DATABASE_URL is a URL");
    parsed.set_path(&format!("/{name}"));
    parsed.to_string()
}

/// The test server's admin URL (started on first use).
pub fn server_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| match std::env::var("FIDOFLOW_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => start_cluster(),
    })
}

fn binary(name: &str) -> PathBuf {
    if let Ok(path) = std::env::var("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join(name).is_file() {
                return dir.join(name);
            }
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| {
            dir.flatten()
                .map(|e| e.path().join("bin").join(name))
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions
        .into_iter()
        .rev()
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the PostgreSQL tests need `{name}` (Debian: apt-get install postgresql), or \
             FIDOFLOW_TEST_DATABASE_URL naming a server to use"
            )
        })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Runs `program args` as the `postgres` user when this process is root, else as itself.
fn as_server_user(program: &Path) -> Command {
    if rustix::process::geteuid().is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn start_cluster() -> String {
    let initdb = binary("initdb");
    let postgres = binary("postgres");
    let dir = std::env::temp_dir().join(format!(
        "fidoflow-pg-{}-{}",
        std::process::id(),
        crate::domain::hex(&rand::random::<[u8; 4]>())
    ));
    std::fs::create_dir_all(&dir).expect("the test cluster's directory");
    if rustix::process::geteuid().is_root() {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .expect("chown");
        assert!(status.success(), "chown postgres {}", dir.display());
    }
    let data = dir.join("data");
    let out = as_server_user(&initdb)
        .arg("-D")
        .arg(&data)
        .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
        .output()
        .expect("initdb runs");
    assert!(
        out.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = free_port();
    // The watchdog: postgres runs while this test process does, then is stopped and its
    // directory removed.
    let script = format!(
        "'{postgres}' -D '{data}' -p {port} -k '{dir}' -c listen_addresses=127.0.0.1 \
         -c fsync=off -c full_page_writes=off -c max_connections=400 -c max_wal_size=256MB \
         >'{dir}/log' 2>&1 & pg=$!; \
         while [ -d /proc/{me} ] && kill -0 $pg 2>/dev/null; do sleep 1; done; \
         kill -INT $pg 2>/dev/null; wait $pg; rm -rf '{dir}'",
        postgres = postgres.display(),
        data = data.display(),
        dir = dir.display(),
        me = std::process::id(),
    );
    let mut watchdog = as_server_user(Path::new("/bin/sh"));
    watchdog
        .args(["-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = watchdog.spawn().expect("the test cluster starts");
    // Reaped when the watchdog ends (after the test process: never, in practice).
    std::thread::spawn(move || child.wait());
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = Command::new(binary("pg_isready"))
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ready {
            return url;
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
            panic!("the test PostgreSQL cluster did not start within 60 s:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A store on a fresh database, with a temporary data directory for its audit signing key
/// (kept as long as the store is used).
#[cfg(test)]
pub fn store() -> (super::PgStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let options = super::PgOptions {
        url: database_for(dir.path()),
        pool_size: 8,
        connect_timeout: Duration::from_secs(10),
    };
    let store = super::PgStore::connect(&options, dir.path()).expect("the test database");
    (store, dir)
}
