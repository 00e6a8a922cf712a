//! The one place that talks HTTP: JSON POSTs with timeouts, size caps and a total deadline,
//! read whole or line by line (for streamed answers).
//!
//! Calls are blocking for their caller (a worker thread or a command line), but every wait
//! (connecting, the headers, each chunk of the body) runs on a small runtime of the client's own
//! and is given up within [`CANCEL_POLL`] once the client's cancel flag is set: a plugin being
//! torn down never waits for a server.

use crate::config::Timeouts;
use crate::error::LlmError;
use crate::secret::ApiKey;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a wait looks at the cancel flag.
pub const CANCEL_POLL: Duration = Duration::from_millis(20);

/// Error details quoted from a server are cut to this length.
const MAX_DETAIL: usize = 300;

/// A server's words as they may appear in a message, a log, a status line or a saved file: the
/// key redacted first (so a cut can never leave part of it behind), then cut to
/// [`MAX_DETAIL`] characters.
pub fn quote_server(text: &str, key: Option<&ApiKey>) -> String {
    let redacted = match key {
        Some(k) => k.redact(text),
        None => text.to_string(),
    };
    redacted
        .chars()
        .take(MAX_DETAIL)
        .collect::<String>()
        .trim()
        .to_string()
}

/// Follows a redirect only to the origin the request was sent to: the API key must never
/// reach another server, not even another port of the same host.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if !same {
            attempt.stop()
        } else if attempt.previous().len() > 5 {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    })
}

pub struct HttpClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    timeouts: Timeouts,
    max_body: usize,
    /// An absolute limit over every call, besides each call's own total.
    deadline: Option<Instant>,
    cancel: Arc<AtomicBool>,
}

/// How a wait ended.
enum Waited<T> {
    Done(T),
    TimedOut,
    Cancelled,
}

/// Whole seconds, rounded up, for messages.
fn secs(d: std::time::Duration) -> u64 {
    d.as_millis().div_ceil(1000) as u64
}

fn error_text(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl HttpClient {
    pub fn new(timeouts: Timeouts, max_body: usize) -> Result<Self, LlmError> {
        let start_error = |e: &dyn std::error::Error| {
            LlmError::Other(format!("cannot start the HTTP client: {}", error_text(e)))
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| start_error(&e))?;
        // The stall timeout and the deadline are applied to each wait in `wait`.
        let client = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .user_agent(concat!("infinite-jazz/", env!("CARGO_PKG_VERSION")))
            .redirect(same_origin_redirects())
            .build()
            .map_err(|e| start_error(&e))?;
        Ok(HttpClient {
            client,
            runtime,
            timeouts,
            max_body,
            deadline: None,
            cancel: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Setting this flag ends the call in progress (and every later one) with
    /// [`LlmError::Cancelled`] within [`CANCEL_POLL`].
    pub fn cancel_handle(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    /// Drives `future` until it completes, `limit` passes, or the cancel flag is set.
    fn wait<F: Future>(&self, future: F, limit: Duration) -> Waited<F::Output> {
        self.runtime.block_on(async {
            let mut future = std::pin::pin!(future);
            let end = tokio::time::Instant::now() + limit;
            loop {
                if self.cancel.load(Ordering::Relaxed) {
                    return Waited::Cancelled;
                }
                let now = tokio::time::Instant::now();
                if now >= end {
                    return Waited::TimedOut;
                }
                let slice = (end - now).min(CANCEL_POLL);
                if let Ok(output) = tokio::time::timeout(slice, future.as_mut()).await {
                    return Waited::Done(output);
                }
            }
        })
    }

    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// Sends a JSON body; returns the response once its status is a success.
    pub fn post_json(
        &self,
        url: &str,
        key: Option<&ApiKey>,
        body: &serde_json::Value,
        model: &str,
    ) -> Result<Response<'_>, LlmError> {
        let started = Instant::now();
        let deadline = match self.deadline {
            Some(d) => d.min(started + self.timeouts.total),
            None => started + self.timeouts.total,
        };
        if deadline <= started {
            return Err(LlmError::TooSlow {
                secs: secs(self.timeouts.total),
            });
        }
        let mut request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(key) = key.filter(|k| !k.is_empty()) {
            request = request.bearer_auth(key.expose());
        }
        let response = match self.wait(request.send(), self.timeouts.stall.min(deadline - started))
        {
            Waited::Done(result) => result.map_err(|e| self.map_send_error(&e, url))?,
            Waited::Cancelled => return Err(LlmError::Cancelled),
            Waited::TimedOut if Instant::now() >= deadline => {
                return Err(LlmError::TooSlow {
                    secs: secs(self.timeouts.total),
                })
            }
            Waited::TimedOut => {
                return Err(LlmError::Timeout {
                    url: url.to_string(),
                    secs: secs(self.timeouts.stall),
                })
            }
        };
        let status = response.status().as_u16();
        let mut response = Response {
            client: self,
            inner: response,
            deadline,
            total_secs: secs(self.timeouts.total),
            stall_secs: secs(self.timeouts.stall),
            max_body: self.max_body,
            read: 0,
        };
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let retry_after = response
            .inner
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let detail = response.error_detail(key);
        if (300..400).contains(&status) {
            let location = response
                .inner
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(|l| quote_server(l, key))
                .unwrap_or_default();
            return Err(LlmError::Redirected {
                url: url.to_string(),
                status,
                location,
            });
        }
        Err(match status {
            401 | 403 => LlmError::Unauthorized { status, detail },
            404 => LlmError::ModelNotFound {
                model: model.to_string(),
                detail,
            },
            429 => LlmError::RateLimited {
                // Without a usable Retry-After, wait a little; the caller backs off further.
                retry_after: Duration::from_secs(retry_after.unwrap_or(5).clamp(1, 600)),
            },
            500..=599 => LlmError::Server { status, detail },
            _ => LlmError::Http { status, detail },
        })
    }

    fn map_send_error(&self, e: &reqwest::Error, url: &str) -> LlmError {
        let text = error_text(e).to_ascii_lowercase();
        let url = url.to_string();
        if e.is_timeout() {
            if e.is_connect() {
                LlmError::ConnectTimeout {
                    url,
                    secs: secs(self.timeouts.connect),
                }
            } else {
                LlmError::Timeout {
                    url,
                    secs: secs(self.timeouts.stall),
                }
            }
        } else if text.contains("dns") || text.contains("lookup") || text.contains("resolve") {
            LlmError::Dns { url }
        } else if text.contains("connection refused") {
            LlmError::ConnectionRefused { url }
        } else if e.is_connect() {
            LlmError::Connect {
                url,
                detail: error_text(e),
            }
        } else if text.contains("timed out") {
            LlmError::Timeout {
                url,
                secs: secs(self.timeouts.stall),
            }
        } else {
            LlmError::Other(format!("request to {url} failed: {}", error_text(e)))
        }
    }
}

/// A successful response's body, read under the size cap and the deadline.
pub struct Response<'a> {
    client: &'a HttpClient,
    inner: reqwest::Response,
    deadline: Instant,
    total_secs: u64,
    stall_secs: u64,
    max_body: usize,
    read: usize,
}

impl Response<'_> {
    /// The media type of the body, lower-cased, without parameters.
    pub fn content_type(&self) -> String {
        self.inner
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default()
    }

    /// The next piece of the body, `None` at its end.
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, LlmError> {
        let now = Instant::now();
        if now >= self.deadline {
            return Err(LlmError::TooSlow {
                secs: self.total_secs,
            });
        }
        let limit = self.client.timeouts.stall.min(self.deadline - now);
        let chunk = match self.client.wait(self.inner.chunk(), limit) {
            Waited::Done(Ok(chunk)) => chunk,
            Waited::Done(Err(e)) if e.is_timeout() => {
                return Err(LlmError::Stalled {
                    secs: self.stall_secs,
                })
            }
            Waited::Done(Err(e)) => {
                return Err(LlmError::BadJson(format!(
                    "the connection broke mid-answer ({})",
                    error_text(&e)
                )))
            }
            Waited::Cancelled => return Err(LlmError::Cancelled),
            Waited::TimedOut if Instant::now() >= self.deadline => {
                return Err(LlmError::TooSlow {
                    secs: self.total_secs,
                })
            }
            Waited::TimedOut => {
                return Err(LlmError::Stalled {
                    secs: self.stall_secs,
                })
            }
        };
        let Some(chunk) = chunk else {
            return Ok(None);
        };
        self.read += chunk.len();
        if self.read > self.max_body {
            return Err(LlmError::TooLarge {
                limit: self.max_body,
            });
        }
        Ok(Some(chunk.to_vec()))
    }

    /// The whole body.
    pub fn bytes(mut self) -> Result<Vec<u8>, LlmError> {
        let mut body = Vec::new();
        while let Some(chunk) = self.next_chunk()? {
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Calls `on_line` for each line as it arrives; stops early when it returns `false`.
    pub fn lines(
        mut self,
        mut on_line: impl FnMut(&str) -> Result<bool, LlmError>,
    ) -> Result<(), LlmError> {
        let mut pending: Vec<u8> = Vec::new();
        loop {
            let Some(chunk) = self.next_chunk()? else {
                if !pending.is_empty() {
                    on_line(String::from_utf8_lossy(&pending).trim_end())?;
                }
                return Ok(());
            };
            pending.extend_from_slice(&chunk);
            // A line ends at `\n`, `\r\n` or a lone `\r`; a `\r` at the very end of what
            // has arrived waits, in case its `\n` is in the next chunk.
            while let Some(end) = pending.iter().position(|b| *b == b'\n' || *b == b'\r') {
                if pending[end] == b'\r' && end + 1 == pending.len() {
                    break;
                }
                let crlf = pending[end] == b'\r' && pending.get(end + 1) == Some(&b'\n');
                let line: Vec<u8> = pending.drain(..=end + usize::from(crlf)).collect();
                if !on_line(String::from_utf8_lossy(&line).trim_end())? {
                    return Ok(());
                }
            }
        }
    }

    /// A short, key-free description of an error body: the server's message when it sends
    /// one as JSON (`{"error": {"message": …}}` or `{"error": "…"}`).
    fn error_detail(&mut self, key: Option<&ApiKey>) -> String {
        let mut body = Vec::new();
        while body.len() < 16 * 1024 {
            match self.next_chunk() {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        let text = String::from_utf8_lossy(&body).to_string();
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| {
                let e = v.get("error")?;
                e.get("message")
                    .and_then(|m| m.as_str())
                    .or_else(|| e.as_str())
                    .map(str::to_string)
            })
            .unwrap_or(text);
        quote_server(&message, key)
    }
}
