//! Backend settings, the user's config file, and where the API key comes from.

use crate::secret::ApiKey;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// No model: the built-in composer writes every section.
    Builtin,
    /// Any OpenAI-compatible chat-completions server (Groq, OpenAI, OpenRouter, LM Studio,
    /// llama.cpp, vLLM …).
    OpenAi,
    /// Ollama's native chat API.
    Ollama,
}

impl Backend {
    pub fn from_name(name: &str) -> Option<Backend> {
        match name.to_ascii_lowercase().as_str() {
            "builtin" | "none" | "off" => Some(Backend::Builtin),
            "openai" | "groq" | "openai-compatible" => Some(Backend::OpenAi),
            "ollama" => Some(Backend::Ollama),
            _ => None,
        }
    }

    pub fn default_base_url(self) -> &'static str {
        match self {
            Backend::Builtin => "",
            Backend::OpenAi => "https://api.groq.com/openai/v1",
            Backend::Ollama => "http://127.0.0.1:11434",
        }
    }

    pub fn default_model(self) -> &'static str {
        match self {
            Backend::Builtin => "builtin",
            Backend::OpenAi => "openai/gpt-oss-120b",
            Backend::Ollama => "qwen2.5:3b",
        }
    }
}

/// How long a call may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// Longest silence while waiting for headers or between body chunks.
    pub stall: Duration,
    /// Longest a whole answer may take.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            stall: Duration::from_secs(20),
            total: Duration::from_secs(120),
        }
    }
}

/// Everything a model call needs. `Debug` never shows the key (see [`ApiKey`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LlmSettings {
    pub backend: Backend,
    pub base_url: String,
    pub model: String,
    pub api_key: ApiKey,
    pub temperature: f32,
    pub top_p: f32,
    /// `None`: about 4500 for 32 steps, scaled with the section length.
    pub max_tokens: Option<u32>,
    pub seed: Option<u64>,
    /// The user's words about the music, e.g. "atmospheric, sparse".
    pub vibe: String,
    /// Name of a prompt preset (`default`, `experimental`, or a file of the user's).
    pub style: String,
    /// Steps of what was played that go into the prompt (0 = a clean slate).
    pub context_steps: usize,
    pub stream: bool,
    pub timeouts: Timeouts,
    /// Bodies larger than this are cut off and the call fails.
    pub max_body_bytes: usize,
}

pub const DEFAULT_TEMPERATURE: f32 = 1.05;
pub const DEFAULT_TOP_P: f32 = 0.99;
pub const DEFAULT_CONTEXT_STEPS: usize = 32;
pub const MAX_CONTEXT_STEPS: usize = 512;

impl LlmSettings {
    pub fn new(backend: Backend) -> Self {
        LlmSettings {
            backend,
            base_url: backend.default_base_url().to_string(),
            model: backend.default_model().to_string(),
            api_key: ApiKey::default(),
            temperature: DEFAULT_TEMPERATURE,
            top_p: DEFAULT_TOP_P,
            max_tokens: None,
            seed: None,
            vibe: String::new(),
            style: "default".to_string(),
            context_steps: DEFAULT_CONTEXT_STEPS,
            stream: true,
            timeouts: Timeouts::default(),
            max_body_bytes: 2 * 1024 * 1024,
        }
    }

    /// The token budget for a section of `total_steps` steps.
    pub fn max_tokens_for(&self, total_steps: usize) -> u32 {
        self.max_tokens
            .unwrap_or_else(|| ((4500 * total_steps.max(1)) / 32).clamp(512, 64_000) as u32)
    }
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid config JSON: {message}")]
    Parse { path: PathBuf, message: String },
    #[error(
        "{path} holds an API key but others can read it (mode {mode:o}); run: chmod 600 {path}"
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The user's own settings file (`~/.config/infinite-jazz/config.json`), the only place
/// besides the environment that may hold an API key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<Backend>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vibe: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_steps: Option<usize>,
}

/// `$XDG_CONFIG_HOME/infinite-jazz` or `~/.config/infinite-jazz`.
pub fn config_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("infinite-jazz"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config").join("infinite-jazz"))
}

pub fn config_path() -> Option<PathBuf> {
    config_dir().map(|d| d.join("config.json"))
}

const MAX_CONFIG_BYTES: u64 = 64 * 1024;

/// Reads the config file; a missing file is an empty config.
pub fn load_user_config(path: &Path) -> Result<UserConfig, ConfigError> {
    let metadata = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(UserConfig::default()),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    if metadata.len() > MAX_CONFIG_BYTES {
        return Err(ConfigError::Parse {
            path: path.to_path_buf(),
            message: format!("larger than {MAX_CONFIG_BYTES} bytes"),
        });
    }
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let config: UserConfig = serde_json::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        // serde_json's message names a line and column, never the content.
        message: e.to_string(),
    })?;
    #[cfg(unix)]
    if config.api_key.as_deref().is_some_and(|k| !k.is_empty()) {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(ConfigError::TooOpen {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    Ok(config)
}

/// Writes the config file readable by its owner only.
pub fn save_user_config(path: &Path, config: &UserConfig) -> Result<(), ConfigError> {
    let write_error = |source| ConfigError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(write_error)?;
    }
    let text = serde_json::to_string_pretty(config).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    let mut file = options.open(path).map_err(write_error)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(write_error)?;
    }
    file.write_all(text.as_bytes()).map_err(write_error)
}

/// The key to use: given explicitly, else the config file's, else `GROQ_API_KEY`, else
/// `OPENAI_API_KEY`.
pub fn resolve_api_key(explicit: Option<&str>, config: &UserConfig) -> ApiKey {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    explicit
        .map(str::to_string)
        .or_else(|| config.api_key.clone().filter(|k| !k.trim().is_empty()))
        .or_else(|| env("GROQ_API_KEY"))
        .or_else(|| env("OPENAI_API_KEY"))
        .map(ApiKey::new)
        .unwrap_or_default()
}

impl UserConfig {
    /// Settings from this config over the backend's defaults.
    pub fn settings(&self) -> LlmSettings {
        let backend = self.backend.unwrap_or(Backend::Builtin);
        let mut s = LlmSettings::new(backend);
        if let Some(url) = &self.base_url {
            s.base_url = url.clone();
        }
        if let Some(model) = &self.model {
            s.model = model.clone();
        }
        if let Some(t) = self.temperature {
            s.temperature = t;
        }
        if let Some(p) = self.top_p {
            s.top_p = p;
        }
        if let Some(v) = &self.vibe {
            s.vibe = v.clone();
        }
        if let Some(style) = &self.style {
            s.style = style.clone();
        }
        if let Some(c) = self.context_steps {
            s.context_steps = c.min(MAX_CONTEXT_STEPS);
        }
        s.api_key = resolve_api_key(None, self);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ij-config-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn config_round_trips_and_is_private() {
        let path = temp_dir("roundtrip").join("config.json");
        let config = UserConfig {
            backend: Some(Backend::OpenAi),
            api_key: Some("sk-abc123".into()),
            model: Some("m".into()),
            ..Default::default()
        };
        save_user_config(&path, &config).expect("saves");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("exists")
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert_eq!(load_user_config(&path).expect("loads"), config);
        assert_eq!(config.settings().api_key, ApiKey::new("sk-abc123"));
    }

    #[cfg(unix)]
    #[test]
    fn a_readable_key_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let path = temp_dir("open").join("config.json");
        std::fs::write(&path, r#"{"api_key": "sk-abc"}"#).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = load_user_config(&path).expect_err("refused");
        assert!(err.to_string().contains("chmod 600"), "{err}");
        assert!(!err.to_string().contains("sk-abc"));
    }

    #[test]
    fn missing_file_is_empty_and_garbage_is_an_error() {
        let dir = temp_dir("garbage");
        assert_eq!(
            load_user_config(&dir.join("none.json")).expect("ok"),
            UserConfig::default()
        );
        std::fs::write(dir.join("bad.json"), "{not json").expect("write");
        assert!(matches!(
            load_user_config(&dir.join("bad.json")),
            Err(ConfigError::Parse { .. })
        ));
    }

    #[test]
    fn token_budget_scales_with_section_length() {
        let s = LlmSettings::new(Backend::OpenAi);
        assert_eq!(s.max_tokens_for(32), 4500);
        assert_eq!(s.max_tokens_for(64), 9000);
        assert_eq!(s.max_tokens_for(16), 2250);
    }
}
