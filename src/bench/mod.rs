//! `fidoflow bench`: a load generator that drives real WebAuthn ceremonies over HTTP against a
//! fidoflow server (one it was pointed at with `--url`, or one it starts itself with `--spawn`)
//! and reports throughput, latency percentiles, errors by kind, and the server's CPU time per
//! ceremony next to the cost of one ES256 verification.
//!
//! It is a client: it talks HTTP only and depends on nothing of `api`, `engine` or `store`; its
//! software authenticator (`authn`) makes keys, signatures and attestation objects with `ring`
//! and `ciborium` itself.

mod args;
mod authn;
mod cpu;
mod http;
mod load;
mod report;
mod scenarios;
mod spawn;
mod stats;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

pub use args::{BenchArgs, Scenario};
pub use report::es256_verify_time;
pub use spawn::listening_port;

/// Runs the benchmark: 0 when ceremonies completed without errors, 1 when some failed (or none
/// completed), 2 when it could not run (bad options, setup refused, server not reachable).
pub fn run(args: BenchArgs) -> ExitCode {
    if let Err(e) = args.validate() {
        eprintln!("fidoflow bench: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fidoflow bench: could not start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(bench(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fidoflow bench: {e}");
            ExitCode::from(2)
        }
    }
}

async fn bench(args: BenchArgs) -> Result<ExitCode, String> {
    let mut spawned = if args.spawn {
        let a = args.clone();
        let s = tokio::task::spawn_blocking(move || spawn::spawn(&a))
            .await
            .map_err(|e| format!("starting the server: {e}"))??;
        if !args.quiet {
            eprintln!("spawned the server: pid {} at {}", s.pid, s.base);
        }
        Some(s)
    } else {
        None
    };
    let base = match (&spawned, &args.url) {
        (Some(s), _) => s.base.clone(),
        (None, Some(url)) => url.clone(),
        (None, None) => return Err("--url or --spawn is needed".into()),
    };
    let server_pid = args.server_pid.or(spawned.as_ref().map(|s| s.pid));
    let tenant = match &spawned {
        Some(s) => Some((spawn::TENANT_PATH.to_owned(), s.api_key.clone())),
        None => args.tenant_path.clone().zip(args.api_key.clone()),
    };
    let admin_token = match &spawned {
        Some(s) => Some(s.admin_token.clone()),
        None => args.admin_token.clone(),
    };
    let timeout = Duration::from_secs_f64(args.request_timeout);
    let target = Arc::new(scenarios::Target {
        http: http::Http::new(&base, &args.origin, timeout)?,
        scenario: args.scenario,
        tenant,
        admin_token,
        run_id: authn::b64url(&authn::random_bytes::<4>())
            .to_ascii_lowercase()
            .replace(['-', '_'], "x"),
    });

    let slots = args.concurrency as usize;
    if !args.quiet {
        eprintln!("setting up {slots} users for {}…", args.scenario.name());
    }
    let users = match load::setup(&target, slots).await {
        Ok(users) => users,
        Err(f) => {
            let mut message = format!("setup failed: {} ({})", f.message, f.kind);
            if let Some(s) = spawned.as_mut() {
                if s.check_alive().is_err() {
                    message.push_str(&format!(
                        "\nthe server's last lines:\n{}",
                        s.log_tail().join("\n")
                    ));
                }
            }
            return Err(message);
        }
    };

    let options = load::LoadOptions {
        concurrency: slots,
        duration: Duration::from_secs_f64(args.duration),
        warmup: Duration::from_secs_f64(args.warmup),
        rate: args.rate,
        server_pid,
        progress: !args.quiet,
        drain_timeout: timeout + Duration::from_secs(5),
    };
    let outcome = load::run(target, users, &options).await;
    let es256 = tokio::task::spawn_blocking(report::es256_verify_time)
        .await
        .ok()
        .and_then(Result::ok);
    let report = report::build(
        report::Context {
            scenario: args.scenario.name().to_owned(),
            url: base,
            spawned: spawned.is_some(),
            concurrency: slots,
            rate: args.rate,
            warmup: options.warmup,
            server_pid,
            es256_verify: es256,
        },
        outcome,
    );
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(j) => println!("{j}"),
            Err(e) => return Err(format!("writing the report: {e}")),
        }
    } else {
        print!("{}", report::text(&report));
    }
    drop(spawned);
    Ok(
        if report.errors == 0 && report.unfinished == 0 && report.ceremonies > 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}
