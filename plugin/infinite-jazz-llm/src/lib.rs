//! Language-model section sources for Infinite Jazz: any OpenAI-compatible chat-completions
//! server (Groq by default) or Ollama. Everything here runs on the section worker thread or a
//! command line, never on the audio thread.

#![forbid(unsafe_code)]

pub mod chat;
pub mod config;
pub mod error;
pub mod http;
pub mod prompt;
pub mod secret;
pub mod source;

pub use config::{Backend, LlmSettings, UserConfig};
pub use error::LlmError;
pub use secret::ApiKey;
pub use source::{LlmStats, ModelSource};
