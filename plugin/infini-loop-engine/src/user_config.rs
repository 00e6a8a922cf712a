//! This machine's own Infini Loop settings: which MusicGPT executable runs, and whether a project
//! may start generating as soon as it loads.
//!
//! Both decide what runs on the user's computer, so neither may come from a project file (a
//! shared project is someone else's data): they live in the user's config folder, beside
//! Infinite Jazz's `config.json`, and only the user's editor or hand writes them.

use infinite_jazz_files::{config_dir, read_text_if_present, write_bytes_atomically, FileError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The file's name in the config folder.
pub const FILE_NAME: &str = "infini-loop.json";
const MAX_BYTES: u64 = 64 * 1024;

/// This machine's Infini Loop settings (`~/.config/infini-loop/config.json`): what a project
/// must not choose, such as which program to run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoopUserConfig {
    /// The MusicGPT executable; `None` for `musicgpt` on PATH.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub musicgpt: Option<PathBuf>,
    /// Start MusicGPT when a project with a prompt loads, without pressing Generate first.
    pub generate_on_load: bool,
}

/// Why this machine's Infini Loop settings could not be read or written.
#[derive(Debug, Error)]
pub enum UserConfigError {
    /// Opening, reading or writing the file failed.
    #[error(transparent)]
    File(#[from] FileError),
    /// serde's position only: its other words could quote the file.
    #[error("{path} is not a valid Infini Loop config (line {line}, column {column})")]
    Parse {
        /// The file.
        path: String,
        /// Where the problem is, 1-based.
        line: usize,
        /// Where the problem is, 1-based.
        column: usize,
    },
    /// `HOME` is not set: there is nowhere to keep the file.
    #[error("no home folder to keep the Infini Loop config in")]
    NoHome,
}

impl LoopUserConfig {
    /// The executable to run.
    pub fn executable(&self) -> PathBuf {
        self.musicgpt
            .clone()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("musicgpt"))
    }
}

/// Where the file is, when the user has a home or config folder.
pub fn user_config_path() -> Option<PathBuf> {
    config_dir().map(|d| d.join(FILE_NAME))
}

/// Reads the file; a missing one is the defaults.
pub fn load(path: &Path) -> Result<LoopUserConfig, UserConfigError> {
    let Some(text) = read_text_if_present(path, MAX_BYTES)? else {
        return Ok(LoopUserConfig::default());
    };
    serde_json::from_str(&text).map_err(|e| UserConfigError::Parse {
        path: path.display().to_string(),
        line: e.line(),
        column: e.column(),
    })
}

/// Writes the file whole, creating the config folder.
pub fn save(path: &Path, config: &LoopUserConfig) -> Result<(), UserConfigError> {
    if let Some(dir) = path.parent() {
        infinite_jazz_files::create_folder(dir)?;
    }
    let text = serde_json::to_string_pretty(config).unwrap_or_default();
    Ok(write_bytes_atomically(path, text.as_bytes())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_defaults_and_damage() {
        let dir = std::env::temp_dir().join(format!("ij-loop-config-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join(FILE_NAME);
        assert_eq!(
            load(&path).expect("missing is default"),
            LoopUserConfig::default()
        );
        assert_eq!(
            LoopUserConfig::default().executable(),
            PathBuf::from("musicgpt")
        );
        let config = LoopUserConfig {
            musicgpt: Some("/opt/musicgpt/bin/musicgpt".into()),
            generate_on_load: true,
        };
        save(&path, &config).expect("saves");
        assert_eq!(load(&path).expect("loads"), config);
        // Values that cannot appear in the message's path (which holds the process id).
        std::fs::write(
            &path,
            r#"{"musicgpt": ["wrong-kind-value"], "secret": "do-not-quote-me"}"#,
        )
        .expect("write");
        let err = load(&path).expect_err("damaged").to_string();
        assert!(err.contains("line 1"), "{err}");
        assert!(
            !err.contains("do-not-quote-me") && !err.contains("wrong-kind-value"),
            "{err}"
        );
        assert!(load(Path::new("/dev/zero")).is_err(), "a device is refused");
    }
}
