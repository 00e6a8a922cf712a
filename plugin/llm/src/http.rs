//! The one place that talks HTTP: JSON POSTs with timeouts, size caps and a total deadline,
//! read whole or line by line (for streamed answers).

use crate::config::Timeouts;
use crate::error::LlmError;
use crate::secret::ApiKey;
use std::io::Read;
use std::time::{Duration, Instant};

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
    client: reqwest::blocking::Client,
    timeouts: Timeouts,
    max_body: usize,
    /// An absolute limit over every call, besides each call's own total.
    deadline: Option<Instant>,
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
        let client = reqwest::blocking::Client::builder()
            .connect_timeout(timeouts.connect)
            // In the blocking client this bounds each wait: for the headers and for each
            // chunk of the body. The total deadline is checked between chunks.
            .timeout(timeouts.stall)
            .user_agent(concat!("infinite-jazz/", env!("CARGO_PKG_VERSION")))
            .redirect(same_origin_redirects())
            .build()
            .map_err(|e| {
                LlmError::Other(format!("cannot start the HTTP client: {}", error_text(&e)))
            })?;
        Ok(HttpClient {
            client,
            timeouts,
            max_body,
            deadline: None,
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
    ) -> Result<Response, LlmError> {
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
        let response = request.send().map_err(|e| self.map_send_error(&e, url))?;
        let status = response.status().as_u16();
        let mut response = Response {
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
pub struct Response {
    inner: reqwest::blocking::Response,
    deadline: Instant,
    total_secs: u64,
    stall_secs: u64,
    max_body: usize,
    read: usize,
}

impl Response {
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

    fn read_chunk(&mut self, buf: &mut [u8]) -> Result<usize, LlmError> {
        if Instant::now() > self.deadline {
            return Err(LlmError::TooSlow {
                secs: self.total_secs,
            });
        }
        let n = self.inner.read(buf).map_err(|e| {
            let inner_timeout = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<reqwest::Error>())
                .is_some_and(reqwest::Error::is_timeout);
            let text = error_text(&e).to_ascii_lowercase();
            if inner_timeout
                || e.kind() == std::io::ErrorKind::TimedOut
                || text.contains("timed out")
            {
                LlmError::Stalled {
                    secs: self.stall_secs,
                }
            } else {
                LlmError::BadJson(format!("the connection broke mid-answer ({e})"))
            }
        })?;
        self.read += n;
        if self.read > self.max_body {
            return Err(LlmError::TooLarge {
                limit: self.max_body,
            });
        }
        Ok(n)
    }

    /// The whole body.
    pub fn bytes(mut self) -> Result<Vec<u8>, LlmError> {
        let mut body = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = self.read_chunk(&mut buf)?;
            if n == 0 {
                return Ok(body);
            }
            body.extend_from_slice(&buf[..n]);
        }
    }

    /// Calls `on_line` for each line as it arrives; stops early when it returns `false`.
    pub fn lines(
        mut self,
        mut on_line: impl FnMut(&str) -> Result<bool, LlmError>,
    ) -> Result<(), LlmError> {
        let mut pending: Vec<u8> = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = self.read_chunk(&mut buf)?;
            if n == 0 {
                if !pending.is_empty() {
                    on_line(String::from_utf8_lossy(&pending).trim_end())?;
                }
                return Ok(());
            }
            pending.extend_from_slice(&buf[..n]);
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
        let mut buf = [0u8; 4096];
        while body.len() < 16 * 1024 {
            match self.read_chunk(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => body.extend_from_slice(&buf[..n]),
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
