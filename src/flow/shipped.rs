//! The flow files shipped in this repository's `flows/`, built into the binary (rust-embed), so
//! that a server started in any directory has them; `server.flows_dir` replaces them.

use std::path::{Path, PathBuf};

use rust_embed::RustEmbed;

use super::registry::{Registry, RegistryError};

#[derive(RustEmbed)]
#[folder = "flows/"]
struct ShippedFlows;

/// How a built-in flow file is named in refusals: `(built in) flows/NAME.toml`.
const LABEL: &str = "(built in) flows";

impl Registry {
    /// The flows of `dir` when set, else the built-in ones.
    pub fn load_or_shipped(dir: Option<&Path>) -> Result<Self, RegistryError> {
        match dir {
            Some(dir) => Self::load(dir),
            None => Self::shipped(),
        }
    }

    /// The built-in flow files, in name order.
    pub fn shipped() -> Result<Self, RegistryError> {
        let mut files: Vec<(PathBuf, String)> = Vec::new();
        for name in ShippedFlows::iter().filter(|name| name.ends_with(".toml")) {
            let file = Path::new(LABEL).join(name.as_ref());
            let text = ShippedFlows::get(&name)
                .map(|f| String::from_utf8_lossy(&f.data).into_owned())
                .ok_or_else(|| RegistryError {
                    file: file.clone(),
                    reason: "missing from the binary".into(),
                })?;
            files.push((file, text));
        }
        files.sort();
        Self::from_sources(files.iter().map(|(f, t)| (f.as_path(), t.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_flows_are_the_shipped_files() {
        let shipped = Registry::shipped().unwrap();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("flows");
        let loaded = Registry::load(&dir).unwrap();
        let ids = |r: &Registry| {
            let mut ids: Vec<String> = r.flows().map(|f| f.id.to_string()).collect();
            ids.extend(r.applications().map(|a| a.id.to_string()));
            ids
        };
        assert_eq!(ids(&shipped), ids(&loaded));
        assert!(shipped.application("default").is_some());
    }
}
