//! The command-line options of `fidoflow bench`.

use std::path::PathBuf;

/// What one ceremony is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Loginapp `fido-passwordless`: access, challenge, assertion with a discoverable ES256
    /// passkey (registered per user in the setup phase).
    Passwordless,
    /// Loginapp `default`: password (argon2id) then the FIDO second factor.
    PasswordFido,
    /// Loginapp passkey sign-up: a new user and passkey each ceremony (`none` attestation).
    Registration,
    /// The AuthFi-shaped relying-party API: usernameless `webauthn/login` (POST then PUT).
    Authfi,
    /// The OneSpan-shaped relying-party API: `generate-fido-authentication-request`, `login`.
    Onespan,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Passwordless => "passwordless",
            Scenario::PasswordFido => "password-fido",
            Scenario::Registration => "registration",
            Scenario::Authfi => "authfi",
            Scenario::Onespan => "onespan",
        }
    }

    /// Whether the scenario speaks a tenant's relying-party API.
    pub fn needs_tenant(self) -> bool {
        matches!(self, Scenario::Authfi | Scenario::Onespan)
    }
}

/// Load generator: drives real WebAuthn ceremonies over HTTP against a fidoflow server and
/// reports throughput, latency, errors and the server's CPU time per ceremony.
#[derive(Clone, Debug, clap::Args)]
pub struct BenchArgs {
    /// Base URL of the server to load (e.g. http://127.0.0.1:8080). Not with --spawn.
    #[arg(long, conflicts_with = "spawn", required_unless_present = "spawn")]
    pub url: Option<String>,

    /// Start this binary as the server (temporary data directory, port 0, rate limits off, a
    /// bench tenant and admin token), load it, and measure its CPU time.
    #[arg(long)]
    pub spawn: bool,

    /// What one ceremony is.
    #[arg(long, value_enum, default_value = "passwordless")]
    pub scenario: Scenario,

    /// Closed loop: this many workers, each running ceremonies back to back. Open loop
    /// (--rate): at most this many ceremonies in flight (and this many users set up).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency: u32,

    /// Length of the measured phase, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,

    /// Ceremonies run before the measured phase and not counted, in seconds.
    #[arg(long, default_value_t = 0.0)]
    pub warmup: f64,

    /// Open loop: start this many ceremonies per second on a fixed schedule whatever the
    /// completions, latency counted from each ceremony's scheduled start (no coordinated
    /// omission). Without it: closed loop.
    #[arg(long)]
    pub rate: Option<f64>,

    /// The server's process id: its CPU time (utime+stime from /proc/PID/stat) over the
    /// measured phase is reported per ceremony. Implied by --spawn.
    #[arg(long)]
    pub server_pid: Option<u32>,

    /// The origin the ceremonies claim (clientDataJSON.origin and the Origin header); it must be
    /// one of the server's (or the tenant's) origins.
    #[arg(long, default_value = "http://localhost:8080")]
    pub origin: String,

    /// The tenant's access path (first path segment) for --scenario authfi / onespan, with --url.
    #[arg(long)]
    pub tenant_path: Option<String>,

    /// The tenant's API key for --scenario authfi / onespan, with --url.
    #[arg(long)]
    pub api_key: Option<String>,

    /// An admin token (role admin) for --scenario password-fido with --url: users with a
    /// password are made through the admin API.
    #[arg(long)]
    pub admin_token: Option<String>,

    /// The flows directory the spawned server reads (default: the flows built into the binary).
    #[arg(long)]
    pub flows_dir: Option<PathBuf>,

    /// The static directory the spawned server serves (default: the pages built into the
    /// binary).
    #[arg(long)]
    pub static_dir: Option<PathBuf>,

    /// The spawned server stores in this PostgreSQL database instead of sled (an empty one:
    /// the bench's users and tenant are made in it).
    #[arg(long, value_name = "URL")]
    pub store_url: Option<String>,

    /// Print the report as one JSON object on stdout (progress lines still go to stderr).
    #[arg(long)]
    pub json: bool,

    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,

    /// Timeout of one HTTP request, in seconds.
    #[arg(long, default_value_t = 30.0)]
    pub request_timeout: f64,
}

impl BenchArgs {
    /// Checks what clap cannot: finite, positive numbers, and the tenant options.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.duration.is_finite() && self.duration > 0.0 && self.duration <= 86_400.0) {
            return Err(format!(
                "--duration must be more than 0 and at most 86400 seconds, not {}",
                self.duration
            ));
        }
        if !(self.warmup.is_finite() && self.warmup >= 0.0 && self.warmup <= 86_400.0) {
            return Err(format!(
                "--warmup must be 0 to 86400 seconds, not {}",
                self.warmup
            ));
        }
        if let Some(rate) = self.rate {
            if !(rate.is_finite() && rate > 0.0 && rate <= 1_000_000.0) {
                return Err(format!(
                    "--rate must be more than 0 and at most 1000000 per second, not {rate}"
                ));
            }
        }
        if !(self.request_timeout.is_finite() && self.request_timeout > 0.0) {
            return Err(format!(
                "--request-timeout must be more than 0 seconds, not {}",
                self.request_timeout
            ));
        }
        if !self.spawn
            && self.scenario.needs_tenant()
            && (self.tenant_path.is_none() || self.api_key.is_none())
        {
            return Err(format!(
                "--scenario {} against --url needs --tenant-path and --api-key (or use --spawn)",
                self.scenario.name()
            ));
        }
        if !self.spawn && self.scenario == Scenario::PasswordFido && self.admin_token.is_none() {
            return Err(
                "--scenario password-fido against --url needs --admin-token (users with a \
                 password are made through the admin API), or use --spawn"
                    .into(),
            );
        }
        if let Some(url) = &self.url {
            let parsed = url::Url::parse(url).map_err(|e| format!("--url {url:?}: {e}"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(format!("--url {url:?}: not an http(s) URL"));
            }
        }
        Ok(())
    }
}
