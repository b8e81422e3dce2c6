use std::collections::HashMap;
use std::path::PathBuf;

use fidoflow::{clock::Clock, config::Settings, startup::Application};

/// No arguments: run the server. Otherwise a command-line tool (`fidoflow verify …`).
fn main() -> anyhow::Result<()> {
    if let Some(status) = fidoflow::cli::run_from_env() {
        std::process::exit(status);
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
