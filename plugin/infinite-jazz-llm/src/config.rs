//! Backend settings, the user's config file, and where the API key comes from.

use crate::secret::ApiKey;
use infinite_jazz_files::{read_text_if_present, FileError};
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
    #[error(transparent)]
    File(#[from] FileError),
    /// Only serde's category and position: its other words can quote the file (a key).
    #[error("{path} is not valid config JSON ({problem} at line {line}, column {column})")]
    Parse {
        path: PathBuf,
        problem: &'static str,
        line: usize,
        column: usize,
    },
    #[error(
        "{path} holds an API key but others can read it (mode {mode:o}); run: chmod 600 {path}"
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
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

pub use infinite_jazz_files::config_dir;

pub fn config_path() -> Option<PathBuf> {
    config_dir().map(|d| d.join("config.json"))
}

const MAX_CONFIG_BYTES: u64 = 64 * 1024;

fn parse_problem(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "a syntax error",
        serde_json::error::Category::Data => "a value of the wrong kind",
        serde_json::error::Category::Eof => "an unexpected end",
    }
}

/// Reads the config file; a missing file is an empty config. Only a regular file of at most
/// 64 KiB is read, and the read itself stops there.
pub fn load_user_config(path: &Path) -> Result<UserConfig, ConfigError> {
    let Some(text) = read_text_if_present(path, MAX_CONFIG_BYTES)? else {
        return Ok(UserConfig::default());
    };
    let config: UserConfig = serde_json::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        problem: parse_problem(&e),
        line: e.line(),
        column: e.column(),
    })?;
    #[cfg(unix)]
    if config.api_key.as_deref().is_some_and(|k| !k.is_empty()) {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0o777);
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
    let write_error = |e: std::io::Error| ConfigError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(write_error)?;
    }
    let text = serde_json::to_string_pretty(config).unwrap_or_default();
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

/// The environment variable whose key belongs to `base_url`: Groq's key goes to Groq's API and
/// OpenAI's to OpenAI's, over HTTPS, and no environment key goes anywhere else.
fn provider_key_variable(base_url: &str) -> Option<&'static str> {
    let url = reqwest::Url::parse(base_url).ok()?;
    if url.scheme() != "https" {
        return None;
    }
    match url.host_str()?.to_ascii_lowercase().as_str() {
        "api.groq.com" => Some("GROQ_API_KEY"),
        "api.openai.com" => Some("OPENAI_API_KEY"),
        _ => None,
    }
}

/// Whether two base URLs name the same server (scheme, host and port).
pub fn same_origin(a: &str, b: &str) -> bool {
    match (reqwest::Url::parse(a), reqwest::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin() && a.origin().is_tuple(),
        _ => false,
    }
}

/// The key to send to `base_url`: the one given explicitly for this call; else the config
/// file's, when the config names this same server (its base URL, or its backend's default);
/// else the provider's own environment variable when `base_url` is that provider's API.
pub fn resolve_api_key(explicit: Option<&str>, config: &UserConfig, base_url: &str) -> ApiKey {
    resolve_api_key_from(explicit, config, base_url, |name| std::env::var(name).ok())
}

fn resolve_api_key_from(
    explicit: Option<&str>,
    config: &UserConfig,
    base_url: &str,
    env: impl Fn(&str) -> Option<String>,
) -> ApiKey {
    let usable = |k: &String| !k.trim().is_empty();
    if let Some(key) = explicit.map(str::to_string).filter(usable) {
        return ApiKey::new(key);
    }
    let config_server = config.base_url.clone().unwrap_or_else(|| {
        config
            .backend
            .unwrap_or(Backend::Builtin)
            .default_base_url()
            .to_string()
    });
    if let Some(key) = config.api_key.clone().filter(usable) {
        if same_origin(&config_server, base_url) {
            return ApiKey::new(key);
        }
    }
    provider_key_variable(base_url)
        .and_then(|name| env(name).filter(usable))
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
        s.api_key = resolve_api_key(None, self, &s.base_url);
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
    fn parse_errors_never_quote_the_file() {
        let dir = temp_dir("quote");
        let path = dir.join("config.json");
        for text in [
            r#"{"temperature": "sk-live-secret-123"}"#,
            r#"{"api_key": "sk-live-secret-123", "top_p": "x"#,
            r#"{"model": ["sk-live-secret-123"]}"#,
        ] {
            std::fs::write(&path, text).expect("write");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .expect("chmod");
            }
            let err = load_user_config(&path).expect_err("invalid").to_string();
            assert!(err.contains("line 1"), "{err}");
            assert!(!err.contains("sk-live"), "{err}");
        }
        assert!(matches!(
            load_user_config(Path::new("/dev/zero")),
            Err(ConfigError::File(FileError::NotRegular { .. }))
        ));
    }

    #[test]
    fn keys_go_only_to_the_server_they_belong_to() {
        let env = |name: &str| match name {
            "GROQ_API_KEY" => Some("gsk-groq".to_string()),
            "OPENAI_API_KEY" => Some("sk-openai".to_string()),
            _ => None,
        };
        let none = UserConfig::default();
        let key = |explicit: Option<&str>, config: &UserConfig, url: &str| {
            resolve_api_key_from(explicit, config, url, env)
        };
        assert_eq!(
            key(None, &none, "https://api.groq.com/openai/v1"),
            ApiKey::new("gsk-groq")
        );
        assert_eq!(
            key(None, &none, "https://api.openai.com/v1"),
            ApiKey::new("sk-openai")
        );
        for elsewhere in [
            "http://127.0.0.1:11434",
            "https://evil.example/v1",
            "http://api.groq.com/openai/v1",
            "https://api.groq.com.evil.example/v1",
            "https://api.groq.com@evil.example/v1",
            "not a url",
        ] {
            assert!(key(None, &none, elsewhere).is_empty(), "{elsewhere}");
        }
        // Given explicitly: the user chose where it goes.
        assert_eq!(
            key(Some("sk-mine"), &none, "http://127.0.0.1:8080"),
            ApiKey::new("sk-mine")
        );
        // A config key belongs to the config's server.
        let local = UserConfig {
            backend: Some(Backend::OpenAi),
            base_url: Some("http://127.0.0.1:8080/v1".into()),
            api_key: Some("sk-local".into()),
            ..Default::default()
        };
        assert_eq!(
            key(None, &local, "http://127.0.0.1:8080/v1/"),
            ApiKey::new("sk-local")
        );
        assert!(key(None, &local, "http://127.0.0.1:9999/v1").is_empty());
        let groq = UserConfig {
            backend: Some(Backend::OpenAi),
            api_key: Some("gsk-config".into()),
            ..Default::default()
        };
        assert_eq!(
            key(None, &groq, "https://api.groq.com/openai/v1"),
            ApiKey::new("gsk-config")
        );
        assert_eq!(
            key(None, &groq, "https://api.openai.com/v1"),
            ApiKey::new("sk-openai"),
            "Groq's key from the config never goes to OpenAI"
        );
    }

    #[test]
    fn token_budget_scales_with_section_length() {
        let s = LlmSettings::new(Backend::OpenAi);
        assert_eq!(s.max_tokens_for(32), 4500);
        assert_eq!(s.max_tokens_for(64), 9000);
        assert_eq!(s.max_tokens_for(16), 2250);
    }
}
