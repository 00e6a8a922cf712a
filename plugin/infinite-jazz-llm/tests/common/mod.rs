//! What the model tests share: settings that point at a test server, and one small call.

use infinite_jazz_llm::chat::{complete, Prompt};
use infinite_jazz_llm::config::Timeouts;
use infinite_jazz_llm::http::HttpClient;
use infinite_jazz_llm::{ApiKey, Backend, LlmError, LlmSettings};
use std::time::Duration;

/// Model settings that talk to the test server at `base` with `key`: a test model and the
/// given stall and total timeouts.
pub fn model_settings(
    backend: Backend,
    base: &str,
    key: &str,
    stream: bool,
    stall: Duration,
    total: Duration,
) -> LlmSettings {
    let mut s = LlmSettings::new(backend);
    s.base_url = base.to_string();
    s.model = "test-model".into();
    s.api_key = ApiKey::new(key);
    s.stream = stream;
    s.timeouts = Timeouts {
        connect: Duration::from_secs(2),
        stall,
        total,
    };
    s
}

/// One chat call with a fixed small prompt: the model's text, or why there is none.
pub fn ask(settings: &LlmSettings) -> Result<String, LlmError> {
    let http = HttpClient::new(settings.timeouts, settings.max_body_bytes)?;
    let prompt = Prompt {
        system: "rules".into(),
        user: "play".into(),
    };
    complete(&http, settings, &prompt, 100).map(|c| c.text)
}
