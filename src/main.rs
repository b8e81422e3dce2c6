use fidoflow::{clock::Clock, startup};

/// No arguments: serve. `mds …`: the metadata commands. `audit …`: the audit log's chain.
/// Anything else: `fidoflow verify …`.
fn main() -> anyhow::Result<()> {
    match std::env::args().nth(1).as_deref() {
        None => serve(),
        Some("mds") => {
            fidoflow::mds_cli::run(startup::settings()?, std::env::args().skip(2).collect())
        }
        Some("bench") => {
            // `fidoflow bench …`: the load generator (`fidoflow::bench`).
            #[derive(clap::Parser)]
            #[command(name = "fidoflow bench")]
            struct Bench {
                #[command(flatten)]
                args: fidoflow::bench::BenchArgs,
            }
            let bench = <Bench as clap::Parser>::parse_from(
                std::iter::once("fidoflow bench".to_owned()).chain(std::env::args().skip(2)),
            );
            let code = fidoflow::bench::run(bench.args);
            std::process::exit(
                (0..=2)
                    .find(|&c| code == std::process::ExitCode::from(c))
                    .map_or(1, i32::from),
            )
        }
        Some("audit") => {
            let args: Vec<String> = std::env::args().skip(2).collect();
            let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
            std::process::exit(fidoflow::audit_cli::run(
                &args,
                startup::settings,
                &mut out,
                &mut err,
            ))
        }
        Some(_) => std::process::exit(fidoflow::cli::run_from_env().unwrap_or(2)),
    }
}

#[actix_web::main]
async fn serve() -> anyhow::Result<()> {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(filter)
        .init();
    let app = startup::Application::build(startup::settings()?, Clock::system())?;
    tracing::info!(port = app.port(), "fidoflow listening");
    app.run_until_stopped().await?;
    Ok(())
}
