//! A scripted HTTP/1.1 server on 127.0.0.1 for the model tests: each request gets the reply a
//! test scripts for it, including broken ones (stalls, cut-off bodies, endless streams).
//! Every loop is bounded in time and stops when the server is dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Longest any scripted wait or stream lasts.
const MAX_SCRIPT_TIME: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("request body is JSON")
    }
}

pub enum Reply {
    /// A complete response.
    Full {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    /// Wait, then a complete response.
    Delayed(Duration, Box<Reply>),
    /// A close-delimited body sent in pieces, with a pause before each.
    Pieces(Vec<(Duration, String)>),
    /// Some pieces, then silence until the client gives up.
    StallAfter(Vec<String>),
    /// Accept, read the request, never answer.
    Silent,
    /// A 200 whose body never ends.
    Endless,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply::Full {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.to_string(),
        }
    }
}

type Handler = dyn Fn(&Recorded, usize) -> Reply + Send + Sync;

pub struct TestServer {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl TestServer {
    /// `handler` gets each request and its index (0 for the first).
    pub fn start(handler: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let (r, s) = (requests.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            let count = Arc::new(AtomicUsize::new(0));
            let mut workers = Vec::new();
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (r, s, h, c) = (r.clone(), s.clone(), handler.clone(), count.clone());
                workers.push(std::thread::spawn(move || serve(stream, &r, &s, &*h, &c)));
            }
            for w in workers {
                let _ = w.join();
            }
        });
        TestServer {
            addr,
            requests,
            stop,
            handle: Some(handle),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("requests").clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn wait(duration: Duration, stop: &AtomicBool) -> bool {
    let end = Instant::now() + duration.min(MAX_SCRIPT_TIME);
    while Instant::now() < end {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

fn serve(
    stream: TcpStream,
    requests: &Mutex<Vec<Recorded>>,
    stop: &AtomicBool,
    handler: &Handler,
    count: &AtomicUsize,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            return;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut body = vec![0u8; length.min(16 * 1024 * 1024)];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let recorded = Recorded {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        at: Instant::now(),
    };
    let index = count.fetch_add(1, Ordering::SeqCst);
    requests.lock().expect("requests").push(recorded.clone());
    let reply = handler(&recorded, index);
    respond(stream, reply, stop);
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn respond(mut stream: TcpStream, reply: Reply, stop: &AtomicBool) {
    let close_delimited = |stream: &mut TcpStream| {
        stream.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n",
        )
    };
    match reply {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut head = format!(
                "HTTP/1.1 {status} {}\r\ncontent-length: {}\r\nconnection: close\r\n",
                reason(status),
                body.len()
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
        Reply::Delayed(d, inner) => {
            if wait(d, stop) {
                respond(stream, *inner, stop);
            }
        }
        Reply::Pieces(pieces) => {
            if close_delimited(&mut stream).is_err() {
                return;
            }
            for (pause, piece) in pieces {
                if !wait(pause, stop) || stream.write_all(piece.as_bytes()).is_err() {
                    return;
                }
                let _ = stream.flush();
            }
        }
        Reply::StallAfter(pieces) => {
            if close_delimited(&mut stream).is_err() {
                return;
            }
            for piece in pieces {
                let _ = stream.write_all(piece.as_bytes());
            }
            let _ = stream.flush();
            wait(MAX_SCRIPT_TIME, stop);
        }
        Reply::Silent => {
            wait(MAX_SCRIPT_TIME, stop);
        }
        Reply::Endless => {
            if close_delimited(&mut stream).is_err() {
                return;
            }
            let chunk =
                "data: {\"choices\":[{\"delta\":{\"content\":\"C2:80\\n\"}}]}\n\n".repeat(100);
            let end = Instant::now() + MAX_SCRIPT_TIME;
            while Instant::now() < end && !stop.load(Ordering::SeqCst) {
                if stream.write_all(chunk.as_bytes()).is_err() {
                    return;
                }
            }
        }
    }
}

/// A clean 32-step answer the parser accepts as four full parts.
pub fn good_answer(root: &str) -> String {
    let mut text = String::from("BASS\n");
    for i in 0..32 {
        text.push_str(if i % 4 == 0 { root } else { "^" });
        if i % 4 == 0 {
            text.push_str(":90");
        }
        text.push('\n');
    }
    for (name, note) in [
        ("DRUMS", "D#3:80"),
        ("PIANO", "E3:60,A3:58"),
        ("SAX", "G4:85"),
    ] {
        text.push_str(name);
        text.push('\n');
        for i in 0..32 {
            text.push_str(if i % 8 == 0 { note } else { "." });
            text.push('\n');
        }
    }
    text
}

pub fn openai_answer(content: &str) -> serde_json::Value {
    serde_json::json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 812, "completion_tokens": 455, "total_tokens": 1267}
    })
}

pub fn ollama_answer(content: &str) -> serde_json::Value {
    serde_json::json!({
        "model": "qwen2.5:3b",
        "message": {"role": "assistant", "content": content},
        "done": true,
        "prompt_eval_count": 700,
        "eval_count": 400
    })
}

/// An OpenAI-style reply in the form the request asked for: server-sent events when it set
/// `stream`, one JSON body otherwise.
pub fn openai_reply(request: &Recorded, content: &str) -> Reply {
    if request.json()["stream"] != true {
        return Reply::json(200, openai_answer(content));
    }
    let mut events = String::new();
    for line in content.split_inclusive('\n') {
        events.push_str(&format!(
            "data: {}\n\n",
            serde_json::json!({"choices": [{"delta": {"content": line}}]})
        ));
    }
    events.push_str("data: [DONE]\n\n");
    Reply::Pieces(vec![(Duration::ZERO, events)])
}
