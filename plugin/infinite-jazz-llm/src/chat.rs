//! The two chat protocols: OpenAI-compatible chat completions and Ollama's `/api/chat`, each
//! whole or streamed (server-sent events for OpenAI, JSON lines for Ollama).

use crate::config::{Backend, LlmSettings};
use crate::error::LlmError;
use crate::http::{quote_server, HttpClient};
use crate::secret::ApiKey;
use serde_json::{json, Value};

/// The prompt of one call.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub system: String,
    pub user: String,
}

/// A model's answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Completion {
    pub text: String,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub streamed: bool,
}

/// Hosted APIs that always need a key; a local server may not.
fn needs_key(base_url: &str) -> bool {
    ["api.groq.com", "api.openai.com", "openrouter.ai"]
        .iter()
        .any(|h| base_url.contains(h))
}

fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

fn parse_json(bytes: &[u8]) -> Result<Value, LlmError> {
    serde_json::from_slice(bytes).map_err(|e| LlmError::BadJson(e.to_string()))
}

/// An error a server reports inside a successful answer (a 200 body or a stream event).
fn server_error_in(value: &Value, key: &ApiKey) -> Option<LlmError> {
    let e = value.get("error")?;
    let detail = e
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| e.as_str())
        .unwrap_or("unknown error");
    Some(LlmError::Server {
        status: 200,
        detail: quote_server(detail, Some(key)),
    })
}

/// Sends one chat request with the configured backend.
pub fn complete(
    http: &HttpClient,
    settings: &LlmSettings,
    prompt: &Prompt,
    max_tokens: u32,
) -> Result<Completion, LlmError> {
    match settings.backend {
        Backend::OpenAi => openai(http, settings, prompt, max_tokens),
        Backend::Ollama => ollama(http, settings, prompt, max_tokens),
        Backend::Builtin => Err(LlmError::Other("no model backend is configured".into())),
    }
}

fn messages(prompt: &Prompt) -> Value {
    json!([
        {"role": "system", "content": prompt.system},
        {"role": "user", "content": prompt.user},
    ])
}

fn openai(
    http: &HttpClient,
    s: &LlmSettings,
    prompt: &Prompt,
    max_tokens: u32,
) -> Result<Completion, LlmError> {
    if s.api_key.is_empty() && needs_key(&s.base_url) {
        return Err(LlmError::MissingKey);
    }
    let mut body = json!({
        "model": s.model,
        "messages": messages(prompt),
        "temperature": s.temperature,
        "top_p": s.top_p,
        "max_tokens": max_tokens,
        "stream": s.stream,
    });
    if let Some(seed) = s.seed {
        body["seed"] = json!(seed);
    }
    if s.stream {
        body["stream_options"] = json!({"include_usage": true});
    }
    let url = join(&s.base_url, "chat/completions");
    let response = http.post_json(&url, Some(&s.api_key), &body, &s.model)?;
    let mut completion = Completion::default();
    let mut done = false;
    // Servers label answers loosely: a whole JSON answer may come as text/plain or with no
    // type at all. Only an event stream is read as it arrives; anything else is read whole
    // and is the JSON answer when it parses as JSON, else a stream of events.
    if s.stream && response.content_type() == "text/event-stream" {
        completion.streamed = true;
        response.lines(|line| sse_line(line, s, &mut completion, &mut done))?;
    } else {
        let bytes = response.bytes()?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(value) => {
                if let Some(e) = server_error_in(&value, &s.api_key) {
                    return Err(e);
                }
                completion.text = value
                    .pointer("/choices/0/message/content")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        LlmError::BadJson("no choices[0].message.content in the answer".into())
                    })?
                    .to_string();
                read_usage(&value, &mut completion);
                return Ok(completion);
            }
            Err(e) if !s.stream => return Err(LlmError::BadJson(e.to_string())),
            Err(_) => {
                completion.streamed = true;
                for line in split_lines(&String::from_utf8_lossy(&bytes)) {
                    if !sse_line(line, s, &mut completion, &mut done)? {
                        break;
                    }
                }
            }
        }
    }
    if !done && completion.text.is_empty() {
        return Err(LlmError::BadJson(
            "the stream ended without an answer".into(),
        ));
    }
    Ok(completion)
}

/// Lines split at `\r\n`, `\n` or a lone `\r`: all three end a line in an event stream.
pub(crate) fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n')
        .flat_map(|l| l.split('\r'))
        .filter(|l| !l.is_empty())
}

fn read_usage(v: &Value, c: &mut Completion) {
    if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
        c.prompt_tokens = u.get("prompt_tokens").and_then(Value::as_u64);
        c.completion_tokens = u.get("completion_tokens").and_then(Value::as_u64);
    }
}

/// One line of an OpenAI event stream; `Ok(false)` at `[DONE]`.
fn sse_line(
    line: &str,
    s: &LlmSettings,
    completion: &mut Completion,
    done: &mut bool,
) -> Result<bool, LlmError> {
    let Some(payload) = line.strip_prefix("data:") else {
        // Blank separators, `:` keep-alive comments, `event:` lines.
        return Ok(true);
    };
    let payload = payload.trim();
    if payload == "[DONE]" {
        *done = true;
        return Ok(false);
    }
    let value = parse_json(payload.as_bytes())?;
    if let Some(e) = server_error_in(&value, &s.api_key) {
        return Err(e);
    }
    if let Some(piece) = value
        .pointer("/choices/0/delta/content")
        .and_then(Value::as_str)
    {
        completion.text.push_str(piece);
    }
    read_usage(&value, completion);
    Ok(true)
}

fn ollama(
    http: &HttpClient,
    s: &LlmSettings,
    prompt: &Prompt,
    max_tokens: u32,
) -> Result<Completion, LlmError> {
    let mut options = json!({
        "temperature": s.temperature,
        "top_p": s.top_p,
        "num_predict": max_tokens,
    });
    if let Some(seed) = s.seed {
        options["seed"] = json!(seed);
    }
    let body = json!({
        "model": s.model,
        "messages": messages(prompt),
        "stream": s.stream,
        "options": options,
    });
    let url = join(&s.base_url, "api/chat");
    let response = http.post_json(&url, Some(&s.api_key), &body, &s.model)?;
    let mut completion = Completion {
        streamed: s.stream,
        ..Default::default()
    };
    let take = |value: &Value, c: &mut Completion| -> Result<bool, LlmError> {
        if let Some(e) = server_error_in(value, &s.api_key) {
            return Err(e);
        }
        if let Some(piece) = value.pointer("/message/content").and_then(Value::as_str) {
            c.text.push_str(piece);
        }
        let done = value.get("done").and_then(Value::as_bool).unwrap_or(false);
        if done {
            c.prompt_tokens = value.get("prompt_eval_count").and_then(Value::as_u64);
            c.completion_tokens = value.get("eval_count").and_then(Value::as_u64);
        }
        Ok(!done)
    };
    if s.stream {
        let mut finished = false;
        response.lines(|line| {
            if line.trim().is_empty() {
                return Ok(true);
            }
            let value = parse_json(line.as_bytes())?;
            let more = take(&value, &mut completion)?;
            finished = !more;
            Ok(more)
        })?;
        if !finished && completion.text.is_empty() {
            return Err(LlmError::BadJson(
                "the stream ended without an answer".into(),
            ));
        }
    } else {
        let value = parse_json(&response.bytes()?)?;
        take(&value, &mut completion)?;
        if value.pointer("/message/content").is_none() {
            return Err(LlmError::BadJson("no message.content in the answer".into()));
        }
    }
    Ok(completion)
}
