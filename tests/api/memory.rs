//! Password hashing gives its memory back: the real binary's resident memory stays bounded
//! however many password checks run, and however many at once (each argon2id check takes
//! 19 MiB; run on whichever of ~45 blocking threads took the request, the allocator kept that
//! much per thread, and RSS grew to ~380 MB after 50 checks).

use reqwest::StatusCode;
use serde_json::json;

use crate::durability::start;

/// The resident set of process `pid` in MiB, from `/proc`.
fn rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    kib / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn password_checks_leave_the_resident_memory_under_150_mb() {
    // The measure is 2,000 checks at 64 concurrent clients on a release build; the
    // suite runs a shorter burst (set FIDOFLOW_LONG_TESTS=1 for the whole of it).
    let checks: usize = if std::env::var_os("FIDOFLOW_LONG_TESTS").is_some() {
        2000
    } else {
        240
    };
    let data = tempfile::tempdir().unwrap();
    let mut server = start(data.path());
    let pid = server.child.id();
    let url = format!("{}/rest/public/authentication/password/check", server.base);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = Vec::new();
    for client in 0..64 {
        let (url, done) = (url.clone(), done.clone());
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut n = 0;
            while done.load(std::sync::atomic::Ordering::Relaxed) < checks {
                n += 1;
                let answer = http
                    .post(&url)
                    .header("X-Same-Domain", "1")
                    .json(&json!({"username": format!("nobody-{client}-{n}"), "password": "wrong password"}))
                    .send()
                    .await
                    .expect("an answer");
                match answer.status() {
                    StatusCode::BAD_REQUEST => {
                        done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    StatusCode::SERVICE_UNAVAILABLE => {
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await
                    }
                    other => panic!("unexpected {other}"),
                }
            }
        }));
    }
    for c in clients {
        c.await.unwrap();
    }
    let rss = rss_mib(pid);
    let _ = server.child.kill();
    let _ = server.child.wait();
    assert!(
        rss < 150,
        "{rss} MiB resident after {checks} password checks at 64 concurrent clients"
    );
}
