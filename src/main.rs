use std::collections::HashMap;
use std::path::PathBuf;

use fidoflow::{clock::Clock, config::Settings, startup::Application};

/// No arguments: run the server. Otherwise a command-line tool (`fidoflow verify …`).
fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.is_empty() {
        let (mut stdin, mut out, mut err) =
            (std::io::stdin(), std::io::stdout(), std::io::stderr());
        std::process::exit(fidoflow::cli::run(&args, &mut stdin, &mut out, &mut err));
    }
    serve()
}

#[actix_web::main]
async fn serve() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    let env: HashMap<String, String> = std::env::vars().collect();
    let file = env.get("FIDOFLOW_CONFIG").map(PathBuf::from).or_else(|| {
        let default = PathBuf::from("fidoflow.toml");
        default.exists().then_some(default)
    });
    let settings = Settings::load(file.as_deref(), &env)?;
    let app = Application::build(settings, Clock::system())?;
    tracing::info!(port = app.port(), "fidoflow listening");
    app.run_until_stopped().await?;
    Ok(())
}
