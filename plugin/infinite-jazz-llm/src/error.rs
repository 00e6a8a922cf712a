//! What can go wrong with a model call, in words a musician can act on.

use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum LlmError {
    #[error("no API key: set GROQ_API_KEY or OPENAI_API_KEY, or api_key in your config file")]
    MissingKey,
    #[error("cannot connect to {url}: connection refused (is the server running?)")]
    ConnectionRefused { url: String },
    #[error("cannot find the host of {url} (check the base URL and your network)")]
    Dns { url: String },
    #[error("cannot connect to {url} within {secs} s")]
    ConnectTimeout { url: String, secs: u64 },
    #[error("cannot connect to {url}: {detail}")]
    Connect { url: String, detail: String },
    #[error("{url} did not answer within {secs} s")]
    Timeout { url: String, secs: u64 },
    #[error("the server went silent for {secs} s in the middle of its answer")]
    Stalled { secs: u64 },
    #[error("the answer took longer than {secs} s")]
    TooSlow { secs: u64 },
    #[error("the server refused the API key (HTTP {status}): check GROQ_API_KEY / OPENAI_API_KEY or your config file. {detail}")]
    Unauthorized { status: u16, detail: String },
    #[error("model {model:?} was not found (HTTP 404): check the model name. {detail}")]
    ModelNotFound { model: String, detail: String },
    #[error("the server is rate limiting us (HTTP 429); trying again in {} s", retry_after.as_secs())]
    RateLimited { retry_after: Duration },
    #[error("server error (HTTP {status}): {detail}")]
    Server { status: u16, detail: String },
    #[error("{url} redirected to another server ({location}, HTTP {status}); not followed, so the API key stays with the server you configured: if you trust that address, use it as the base URL")]
    Redirected {
        url: String,
        status: u16,
        location: String,
    },
    #[error("unexpected answer (HTTP {status}): {detail}")]
    Http { status: u16, detail: String },
    #[error("the answer was not valid JSON: {0}")]
    BadJson(String),
    #[error("the answer is larger than {limit} bytes and was cut off")]
    TooLarge { limit: usize },
    #[error("the server's answer was not usable music: {0}")]
    Unusable(String),
    #[error("the call was cancelled")]
    Cancelled,
    #[error("{0}")]
    Other(String),
}

impl LlmError {
    /// How long to wait before calling again, when the server said so.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            LlmError::RateLimited { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}
