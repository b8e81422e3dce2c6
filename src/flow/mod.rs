//! Declarative flows: the serde model of `flows/*.toml` (`definitions`), the registry that loads
//! and validates them at start (`registry`; those built into the binary: `shipped`), and the pure state machine that says which call a
//! running flow accepts and what comes next (`machine`). No I/O besides reading the flow files
//! at start, no HTTP, no crypto, no storage: imports only `domain`.

pub mod definitions;
#[cfg(test)]
mod fuzz_tests;
pub mod machine;
pub mod registry;
mod shipped;

pub use definitions::{Application, Condition, ConditionContext, FlowDefinition, FlowKind, Step};
pub use machine::{Call, Facts, Progress, RunningFlow, Unexpected};
pub use registry::{Registry, RegistryError};

/// Parses the humane durations of flow files and config: `90s`, `10m`, `8h`, `1d`, or plain
/// seconds. Zero is refused.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 90s, 10m or 8h"))?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("`{text}` is not a duration such as 90s, 10m or 8h")),
    };
    let secs = n
        .checked_mul(unit_secs)
        .ok_or_else(|| format!("`{text}` is too long a duration"))?;
    if secs == 0 {
        return Err("a duration must be greater than zero".into());
    }
    Ok(std::time::Duration::from_secs(secs))
}

/// A duration written as text in flow files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Age(pub std::time::Duration);

impl TryFrom<String> for Age {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        parse_duration(&value).map(Age)
    }
}
impl From<Age> for String {
    fn from(value: Age) -> String {
        format!("{}s", value.0.as_secs())
    }
}
impl Age {
    pub fn chrono(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.0).unwrap_or(chrono::Duration::MAX)
    }
}
