//! Every way a model server can fail, each against a real HTTP server on loopback (or a port
//! with nobody listening): a clear error, no panic, and never a hang past the timeouts.

mod common;

use common::{ask, model_settings};
use infinite_jazz_engine::timing::RuntimeConfig;
use infinite_jazz_engine::worker::{SectionRequest, SectionSource, SourceError};
use infinite_jazz_llm::{ApiKey, Backend, LlmError, LlmSettings, ModelSource};
use integration_tests::http_server::{good_answer, openai_answer, Reply, TestServer};
use std::time::{Duration, Instant};

const KEY: &str = "sk-LEAKCHECK-0123456789";

fn settings(backend: Backend, base: &str, stream: bool) -> LlmSettings {
    let (stall, total) = (Duration::from_millis(700), Duration::from_secs(3));
    let mut s = model_settings(backend, base, KEY, stream, stall, total);
    s.max_body_bytes = 64 * 1024;
    s
}

fn with_server(
    reply: impl Fn(usize) -> Reply + Send + Sync + 'static,
    stream: bool,
) -> (TestServer, Result<String, LlmError>) {
    let server = TestServer::start(move |_, i| reply(i));
    let s = settings(Backend::OpenAi, &server.url(), stream);
    let result = ask(&s);
    (server, result)
}

#[test]
fn connection_refused() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let err = ask(&settings(
        Backend::OpenAi,
        &format!("http://127.0.0.1:{port}"),
        false,
    ))
    .expect_err("refused");
    assert!(matches!(err, LlmError::ConnectionRefused { .. }), "{err:?}");
    assert!(err.to_string().contains("is the server running"));
}

#[test]
fn unknown_host() {
    let started = Instant::now();
    let err = ask(&settings(
        Backend::Ollama,
        "http://no-such-host.invalid:11434",
        false,
    ))
    .expect_err("dns");
    assert!(
        matches!(err, LlmError::Dns { .. } | LlmError::ConnectTimeout { .. }),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn no_answer_times_out() {
    let started = Instant::now();
    let (_server, result) = with_server(|_| Reply::Silent, false);
    let err = result.expect_err("timeout");
    assert!(matches!(err, LlmError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn bad_key_and_forbidden() {
    for status in [401u16, 403] {
        let (_server, result) = with_server(
            move |_| {
                Reply::json(
                    status,
                    serde_json::json!({"error": {"message": format!("Invalid API Key {KEY}")}}),
                )
            },
            false,
        );
        let err = result.expect_err("refused");
        assert!(
            matches!(err, LlmError::Unauthorized { status: s, .. } if s == status),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("GROQ_API_KEY"), "{text}");
        assert!(!text.contains(KEY), "the key is never repeated: {text}");
        assert!(
            text.contains("[api key]"),
            "the server's words are kept, redacted: {text}"
        );
    }
}

#[test]
fn missing_key_for_a_hosted_api_is_reported_before_calling() {
    let mut s = settings(Backend::OpenAi, "https://api.groq.com/openai/v1", false);
    s.api_key = ApiKey::default();
    assert_eq!(ask(&s), Err(LlmError::MissingKey));
}

#[test]
fn unknown_model() {
    let server = TestServer::start(|_, _| {
        Reply::json(404, serde_json::json!({"error": "model 'nope' not found"}))
    });
    let mut s = settings(Backend::Ollama, &server.url(), false);
    s.model = "nope".into();
    let err = ask(&s).expect_err("404");
    assert!(
        matches!(err, LlmError::ModelNotFound { ref model, ref detail } if model == "nope" && detail.contains("not found")),
        "{err:?}"
    );
}

#[test]
fn rate_limit_honours_retry_after() {
    let (_server, result) = with_server(
        |_| Reply::Full {
            status: 429,
            headers: vec![("retry-after", "3".into())],
            body: "{}".into(),
        },
        false,
    );
    assert_eq!(
        result,
        Err(LlmError::RateLimited {
            retry_after: Duration::from_secs(3)
        })
    );
    // Through the source, the wait reaches the worker.
    let server = TestServer::start(|_, _| Reply::Full {
        status: 429,
        headers: vec![("retry-after", "2".into())],
        body: String::new(),
    });
    let mut source =
        ModelSource::new(settings(Backend::OpenAi, &server.url(), false)).expect("source");
    let config = RuntimeConfig::default();
    let err = source
        .next_section(&SectionRequest {
            config: &config,
            recent: &[],
            listening: None,
        })
        .expect_err("429");
    assert!(
        matches!(err, SourceError::Failed { retry_after: Some(d), .. } if d == Duration::from_secs(2)),
        "{err:?}"
    );
}

#[test]
fn server_errors() {
    for status in [500u16, 503] {
        let (_server, result) = with_server(
            move |_| {
                Reply::json(
                    status,
                    serde_json::json!({"error": {"message": "overloaded"}}),
                )
            },
            false,
        );
        assert_eq!(
            result,
            Err(LlmError::Server {
                status,
                detail: "overloaded".into()
            })
        );
    }
}

#[test]
fn truncated_and_invalid_json() {
    let (_server, result) = with_server(
        |_| Reply::Full {
            status: 200,
            headers: vec![("content-type", "application/json".into())],
            body: "{\"choices\": [{\"message\": {\"con".into(),
        },
        false,
    );
    assert!(matches!(result, Err(LlmError::BadJson(_))), "{result:?}");
    let (_server, result) = with_server(
        |_| Reply::json(200, serde_json::json!({"choices": []})),
        false,
    );
    assert!(matches!(result, Err(LlmError::BadJson(_))), "{result:?}");
    // A stream that breaks off after half an event.
    let (_server, result) = with_server(
        |_| Reply::Pieces(vec![(Duration::ZERO, "data: {\"choices\":[{\"del".into())]),
        true,
    );
    assert!(matches!(result, Err(LlmError::BadJson(_))), "{result:?}");
}

#[test]
fn an_endless_body_is_capped() {
    let started = Instant::now();
    let (_server, result) = with_server(|_| Reply::Endless, true);
    assert_eq!(result, Err(LlmError::TooLarge { limit: 64 * 1024 }));
    assert!(started.elapsed() < Duration::from_secs(5));
    let huge = format!(
        "{{\"choices\":[{{\"message\":{{\"content\":\"{}\"}}}}]}}",
        "x".repeat(200 * 1024)
    );
    let (_server, result) = with_server(
        move |_| Reply::Full {
            status: 200,
            headers: vec![],
            body: huge.clone(),
        },
        false,
    );
    assert_eq!(result, Err(LlmError::TooLarge { limit: 64 * 1024 }));
}

#[test]
fn a_stream_that_stalls_midway() {
    let started = Instant::now();
    let (_server, result) = with_server(
        |_| {
            Reply::StallAfter(vec![
                "data: {\"choices\":[{\"delta\":{\"content\":\"BASS\\n\"}}]}\n\n".into(),
            ])
        },
        true,
    );
    assert_eq!(result, Err(LlmError::Stalled { secs: 1 }));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_trickle_slower_than_the_deadline_is_cut() {
    // A byte every half second never stalls, but the whole answer is too slow.
    let pieces: Vec<(Duration, String)> = (0..40)
        .map(|_| (Duration::from_millis(500), ": still thinking\n".to_string()))
        .collect();
    let started = Instant::now();
    let (_server, result) = with_server(move |_| Reply::Pieces(pieces.clone()), true);
    assert_eq!(result, Err(LlmError::TooSlow { secs: 3 }));
    assert!(started.elapsed() < Duration::from_secs(6));
}

#[test]
fn the_key_never_leaks_into_messages_stats_or_debug_output() {
    let server = TestServer::start(|_, i| match i {
        0 => Reply::json(
            401,
            serde_json::json!({"error": {"message": format!("bad key {KEY}")}}),
        ),
        _ => Reply::json(200, openai_answer(&good_answer("C2"))),
    });
    let s = settings(Backend::OpenAi, &server.url(), false);
    let debug = format!("{s:?}");
    let mut source = ModelSource::new(s).expect("source");
    let config = RuntimeConfig::default();
    let err = source
        .next_section(&SectionRequest {
            config: &config,
            recent: &[],
            listening: None,
        })
        .expect_err("401");
    let ok = source.next_section(&SectionRequest {
        config: &config,
        recent: &[],
        listening: None,
    });
    assert!(ok.is_ok());
    let stats = format!("{:?}", source.stats().lock().expect("stats"));
    for text in [debug, err.to_string(), stats, source.name()] {
        assert!(!text.contains(KEY), "key leaked into: {text}");
    }
    // It was sent where it belongs.
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
}
