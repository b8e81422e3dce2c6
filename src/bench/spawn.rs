//! `--spawn`: this very binary started as the server, on a temporary data directory, port 0,
//! rate limits off, with a tenant (for the relying-party scenarios) and an admin token (for
//! password-fido). Its port is read from its `fidoflow listening` log line.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use super::args::BenchArgs;
use super::authn::{b64url, random_bytes};

/// The tenant the spawned server is configured with.
pub const TENANT_PATH: &str = "YmVuY2g";
/// How long the server may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How many of the server's last log lines are kept, to show when it fails.
const TAIL: usize = 20;

/// A running server; dropping it stops it and removes its data directory.
pub struct Spawned {
    child: Child,
    pub pid: u32,
    pub base: String,
    pub api_key: String,
    pub admin_token: String,
    tail: Arc<Mutex<VecDeque<String>>>,
    _dir: tempfile::TempDir,
}

impl Spawned {
    /// The server's last log lines.
    pub fn log_tail(&self) -> Vec<String> {
        self.tail
            .lock()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether the server is still running (`Err`: how it ended).
    pub fn check_alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("the spawned server exited ({status})")),
            Err(e) => Err(format!("waiting for the spawned server: {e}")),
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The directory given, else `./NAME`, else the source tree's (a build from this checkout).
/// A directory given with `option`, which must exist; `None` when none is given (the server
/// then uses the flows or pages built into it).
fn directory(given: &Option<PathBuf>, option: &str) -> Result<Option<PathBuf>, String> {
    match given {
        Some(dir) if dir.is_dir() => Ok(Some(dir.clone())),
        Some(dir) => Err(format!("{option} {}: not a directory", dir.display())),
        None => Ok(None),
    }
}

/// The port of a `fidoflow listening` line: `port=N` (text logs) or `"port":N` (JSON logs).
pub fn listening_port(line: &str) -> Option<u16> {
    if !line.contains("fidoflow listening") {
        return None;
    }
    let digits = |rest: &str| -> Option<u16> {
        let rest = rest.trim_start();
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        rest[..end].parse().ok()
    };
    if let Some(i) = line.find("port=") {
        return digits(&line[i + 5..]);
    }
    if let Some(i) = line.find("\"port\":") {
        return digits(&line[i + 7..]);
    }
    None
}

/// Reads one pipe of the server line by line: lines go to `lines` until the receiver is gone,
/// the last few are kept in `tail`, and the pipe is drained to its end so the server never
/// blocks on a full pipe.
fn drain(
    pipe: impl Read + Send + 'static,
    lines: mpsc::Sender<String>,
    tail: Arc<Mutex<VecDeque<String>>>,
) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        let mut forward = true;
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let line = String::from_utf8_lossy(&buf).trim_end().to_owned();
            if forward {
                forward = lines.send(line.clone()).is_ok();
            }
            if let Ok(mut t) = tail.lock() {
                if t.len() == TAIL {
                    t.pop_front();
                }
                t.push_back(line);
            }
        }
    });
}

pub fn spawn(args: &BenchArgs) -> Result<Spawned, String> {
    let exe = std::env::current_exe().map_err(|e| format!("finding this binary: {e}"))?;
    let flows = directory(&args.flows_dir, "--flows-dir")?;
    let statics = directory(&args.static_dir, "--static-dir")?;
    let origin =
        url::Url::parse(&args.origin).map_err(|e| format!("--origin {:?}: {e}", args.origin))?;
    let rp_id = origin
        .host_str()
        .ok_or_else(|| format!("--origin {:?} has no host", args.origin))?
        .to_owned();
    let dir = tempfile::Builder::new()
        .prefix("fidoflow-bench-")
        .tempdir()
        .map_err(|e| format!("making a temporary directory: {e}"))?;
    let api_key = format!("bench-key-{}", b64url(&random_bytes::<24>()));
    let admin_token = format!("bench-admin-{}", b64url(&random_bytes::<24>()));
    let key_hash = ring::digest::digest(&ring::digest::SHA256, api_key.as_bytes());
    let config = format!(
        "[[tenants]]\nid = \"bench\"\naccess_path = \"{TENANT_PATH}\"\nrp_id = {rp}\n\
         rp_name = \"fidoflow bench\"\norigins = [{origin}]\n\
         api_keys = [{{ name = \"bench\", sha256 = \"{hash}\" }}]\n",
        rp = toml_string(&rp_id),
        origin = toml_string(origin.as_str().trim_end_matches('/')),
        hash = hex(key_hash.as_ref()),
    );
    let config_path = dir.path().join("bench.toml");
    std::fs::write(&config_path, config)
        .map_err(|e| format!("writing {}: {e}", config_path.display()))?;

    let mut command = Command::new(&exe);
    // The bench's own FIDOFLOW_* variables are not the server's: the server refuses unknown
    // ones and would take known ones over the file.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("FIDOFLOW_") {
            command.env_remove(name);
        }
    }
    command
        .env("FIDOFLOW_CONFIG", &config_path)
        .env("FIDOFLOW_BIND", "127.0.0.1:0")
        .env("FIDOFLOW_DATA_DIR", dir.path().join("data"))
        .env("FIDOFLOW_RATE_LIMITS", "off")
        .env("FIDOFLOW_RP_ID", &rp_id)
        .env("FIDOFLOW_ORIGINS", origin.as_str().trim_end_matches('/'))
        .env("FIDOFLOW_ADMIN_TOKEN", &admin_token)
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(url) = &args.store_url {
        command.env("FIDOFLOW_STORE_URL", url);
    }
    if let Some(dir) = &flows {
        command.env("FIDOFLOW_FLOWS_DIR", dir);
    }
    if let Some(dir) = &statics {
        command.env("FIDOFLOW_STATIC_DIR", dir);
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("starting {}: {e}", exe.display()))?;
    let pid = child.id();
    let tail = Arc::new(Mutex::new(VecDeque::with_capacity(TAIL)));
    let (tx, rx) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        drain(out, tx.clone(), tail.clone());
    }
    if let Some(err) = child.stderr.take() {
        drain(err, tx, tail.clone());
    }
    let mut spawned = Spawned {
        child,
        pid,
        base: String::new(),
        api_key,
        admin_token,
        tail,
        _dir: dir,
    };
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => {
                if let Some(port) = listening_port(&line) {
                    spawned.base = format!("http://127.0.0.1:{port}");
                    return Ok(spawned);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // Both pipes closed: the server is gone; give it a moment to be reaped.
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        if let Err(e) = spawned.check_alive() {
            return Err(format!(
                "{e} before listening; its last lines:\n{}",
                spawned.log_tail().join("\n")
            ));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the spawned server did not log `fidoflow listening` within {} s; its last lines:\n{}",
                START_TIMEOUT.as_secs(),
                spawned.log_tail().join("\n")
            ));
        }
    }
}

fn toml_string(s: &str) -> String {
    // A TOML basic string is a JSON string for everything a host or origin can hold.
    serde_json::Value::from(s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_is_read_from_text_and_json_log_lines() {
        assert_eq!(
            listening_port("2026-12-04T16:00:00Z  INFO fidoflow: fidoflow listening port=43117"),
            Some(43117)
        );
        assert_eq!(
            listening_port(
                r#"{"level":"INFO","fields":{"message":"fidoflow listening","port":8080}}"#
            ),
            Some(8080)
        );
        assert_eq!(listening_port("INFO something else port=1"), None);
        assert_eq!(listening_port("fidoflow listening port=x"), None);
        assert_eq!(listening_port("fidoflow listening port=99999"), None);
    }
}
