//! The model settings the editor edits and the plugin reads: the user's config file, the band's
//! source built from it, and the connection check. Nothing here draws: the editor runs these on
//! a thread of its own (they read files and talk to servers) and shows the result when it
//! arrives; the plugin calls [`band_source`] when the host starts it.

use crate::editor::view::{BackendForm, FormError};
use crate::link::Steering;
use infinite_jazz_engine::composer::ComposerSettings;
use infinite_jazz_llm::chat::{complete, Prompt};
use infinite_jazz_llm::config::{config_path, load_user_config, save_user_config, ConfigError};
use infinite_jazz_llm::error::LlmError;
use infinite_jazz_llm::http::HttpClient;
use infinite_jazz_llm::source::ModelSource;
use infinite_jazz_llm::{Backend, UserConfig};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use thiserror::Error;

/// What can go wrong between the form, the config file and the server.
#[derive(Debug, Error)]
pub enum ModelSettingsError {
    #[error("no home folder to keep the settings in")]
    NoHome,
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Form(#[from] FormError),
    #[error(transparent)]
    Model(#[from] LlmError),
    #[error("the built-in composer needs no connection")]
    NothingToCheck,
    #[error("could not start: {0}")]
    Thread(std::io::Error),
    /// The server's failure, with any trace of the key taken out.
    #[error("{0}")]
    Unreachable(String),
}

/// Where the model settings live: the user's config file, or (in tests) a file of their own.
#[derive(Debug, Clone)]
pub struct ModelSettingsFile {
    path: Option<PathBuf>,
}

impl ModelSettingsFile {
    /// `~/.config/infinite-jazz/config.json`; none when there is no home folder.
    pub fn user() -> Self {
        ModelSettingsFile {
            path: config_path(),
        }
    }

    /// A settings file at `path`.
    pub fn at(path: PathBuf) -> Self {
        ModelSettingsFile { path: Some(path) }
    }

    /// The settings; the defaults (built-in composer) when there is no file or no home.
    pub fn load(&self) -> Result<UserConfig, ConfigError> {
        match &self.path {
            Some(path) => load_user_config(path),
            None => Ok(UserConfig::default()),
        }
    }

    /// Writes the form over the file's other settings and returns what was written. A form
    /// that does not validate writes nothing.
    pub fn save_form(&self, form: &BackendForm) -> Result<UserConfig, ModelSettingsError> {
        let path = self.path.as_ref().ok_or(ModelSettingsError::NoHome)?;
        // An unreadable file is replaced rather than blocking the user's new settings.
        let existing = load_user_config(path).unwrap_or_default();
        let config = form.to_config(&existing)?;
        save_user_config(path, &config)?;
        Ok(config)
    }

    /// Checks the form's server as it would be saved over this file's other settings
    /// (timeouts included), without saving it.
    pub fn check_form(&self, form: &BackendForm) -> Result<Duration, ModelSettingsError> {
        let existing = self.load().unwrap_or_default();
        check_connection(&form.to_config(&existing)?)
    }

    /// The band's source from these settings, steered by the project (see [`band_source`]).
    pub fn band_source(
        &self,
        steering: &Steering,
        composer: &ComposerSettings,
    ) -> Result<Option<ModelSource>, ModelSettingsError> {
        band_source(&self.load()?, steering, composer)
    }
}

/// The model source for the user's settings steered by the project's (vibe, style, sampling,
/// context) and following the composer's form, key or own changes; `None` for the built-in
/// composer. The plugin on activation and the editor's "Apply" both build it here.
pub fn band_source(
    user: &UserConfig,
    steering: &Steering,
    composer: &ComposerSettings,
) -> Result<Option<ModelSource>, ModelSettingsError> {
    let mut llm = user.settings();
    steering.apply_to(&mut llm);
    Ok(infinite_jazz_llm::source::model_source(llm, composer)?)
}

/// Asks the model for one word and returns the round trip. Blocking: run it off the GUI thread.
pub fn check_connection(config: &UserConfig) -> Result<Duration, ModelSettingsError> {
    let mut settings = config.settings();
    if settings.backend == Backend::Builtin {
        return Err(ModelSettingsError::NothingToCheck);
    }
    settings.stream = false;
    let started = Instant::now();
    let prompt = Prompt {
        system: "Answer with one word.".into(),
        user: "Say OK.".into(),
    };
    HttpClient::new(settings.timeouts, 64 * 1024)
        .and_then(|http| complete(&http, &settings, &prompt, 16))
        .map_err(|e| ModelSettingsError::Unreachable(settings.api_key.redact(&e.to_string())))?;
    Ok(started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use infinite_jazz_engine::worker::SectionSource;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "infinite-jazz-model-settings-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    fn openai_form(key: &str) -> BackendForm {
        let mut form = BackendForm::from_config(&UserConfig::default());
        form.set_backend(Backend::OpenAi);
        form.api_key = key.into();
        form
    }

    #[test]
    fn a_saved_form_keeps_the_files_other_settings_and_a_bad_one_writes_nothing() {
        let dir = scratch("save");
        let file = ModelSettingsFile::at(dir.join("config.json"));
        assert_eq!(
            file.load().expect("no file is the defaults"),
            UserConfig::default()
        );
        std::fs::write(dir.join("config.json"), r#"{"vibe": "sparse"}"#).expect("write");
        let saved = file.save_form(&openai_form("sk-test-1234")).expect("saves");
        assert_eq!(saved.vibe.as_deref(), Some("sparse"));
        assert_eq!(file.load().expect("reads back"), saved);
        let mut bad = openai_form("sk-other");
        bad.base_url = "ftp://example.org".into();
        assert!(matches!(
            file.save_form(&bad),
            Err(ModelSettingsError::Form(FormError::NotHttp))
        ));
        assert_eq!(file.load().expect("unchanged"), saved);
        let nowhere = ModelSettingsFile { path: None };
        assert!(matches!(
            nowhere.save_form(&openai_form("k")),
            Err(ModelSettingsError::NoHome)
        ));
    }

    #[test]
    fn the_band_source_follows_the_settings() {
        let composer = ComposerSettings::default();
        let steering = Steering::default();
        let builtin = band_source(&UserConfig::default(), &steering, &composer).expect("ok");
        assert!(builtin.is_none(), "the built-in composer needs no source");
        let config = openai_form("sk-test")
            .to_config(&UserConfig::default())
            .expect("valid");
        let source = band_source(&config, &steering, &composer)
            .expect("ok")
            .expect("a model source");
        assert!(source.name().contains(Backend::OpenAi.default_model()));
        let unknown_style = Steering {
            style: "no such style".into(),
            ..Steering::default()
        };
        assert!(matches!(
            band_source(&config, &unknown_style, &composer),
            Err(ModelSettingsError::Model(_))
        ));
    }

    #[test]
    fn a_failed_check_names_the_problem_without_the_key() {
        assert!(matches!(
            check_connection(&UserConfig::default()),
            Err(ModelSettingsError::NothingToCheck)
        ));
        // A port nothing listens on: the connection is refused at once.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let mut form = openai_form("sk-secret-0123456789");
        form.base_url = format!("http://127.0.0.1:{port}/v1?key=sk-secret-0123456789");
        let config = form.to_config(&UserConfig::default()).expect("valid");
        let message = check_connection(&config)
            .expect_err("nothing listens")
            .to_string();
        assert!(!message.is_empty());
        assert!(!message.contains("sk-secret-0123456789"), "{message}");
    }
}
