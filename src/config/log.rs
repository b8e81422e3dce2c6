//! `[log]`: how the server writes its log to stdout (`format`: `"text"`, one human-readable
//! line per event, or `"json"`, one JSON object per line for a log shipper). Which events are
//! written is `RUST_LOG`'s (default `info`), not a key of the file.

use super::raw::RawLog;
use super::{invalid, required, ConfigError};

/// The format of the log lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event (`tracing-subscriber`'s default format).
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `fields` (with `message`), `target` and
    /// the spans (the request's `request_id` among them).
    Json,
}

impl LogFormat {
    /// `"text"` or `"json"`; `key` names the key or variable in the refusal.
    pub(super) fn parse(text: &str, key: &str) -> Result<LogFormat, ConfigError> {
        match text {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(invalid(
                key,
                format!("`{other}` is neither \"text\" nor \"json\""),
            )),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogSettings {
    pub format: LogFormat,
}

pub(super) fn log(raw: RawLog) -> Result<LogSettings, ConfigError> {
    let format = required(raw.format, "log.format")?;
    Ok(LogSettings {
        format: LogFormat::parse(&format, "log.format")?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Settings;
    use super::LogFormat;

    #[test]
    fn the_log_is_text_unless_json_is_asked_for() {
        assert_eq!(parse("").unwrap().log.format, LogFormat::Text);
        let json = parse("[log]\nformat = \"json\"\n").unwrap();
        assert_eq!(json.log.format, LogFormat::Json);
        let by_env = Settings::from_toml_str("", &env(&[("FIDOFLOW_LOG_FORMAT", "json")])).unwrap();
        assert_eq!(by_env.log.format, LogFormat::Json);
        let env_over_file = Settings::from_toml_str(
            "[log]\nformat = \"json\"\n",
            &env(&[("FIDOFLOW_LOG_FORMAT", "text")]),
        )
        .unwrap();
        assert_eq!(env_over_file.log.format, LogFormat::Text);
    }

    #[test]
    fn an_unknown_log_format_is_refused_naming_the_key_or_variable() {
        let (key, message) = refused("[log]\nformat = \"JSON\"\n");
        assert_eq!(key, "log.format");
        assert!(
            message.contains("`JSON` is neither \"text\" nor \"json\""),
            "{message}"
        );
        let error =
            Settings::from_toml_str("", &env(&[("FIDOFLOW_LOG_FORMAT", "yaml")])).unwrap_err();
        assert_eq!(error.key(), Some("FIDOFLOW_LOG_FORMAT"));
        assert!(error.to_string().contains("`yaml`"), "{error}");
        let wrong_type = parse("[log]\nformat = 1\n").unwrap_err();
        assert!(wrong_type.to_string().contains("format"), "{wrong_type}");
    }
}
