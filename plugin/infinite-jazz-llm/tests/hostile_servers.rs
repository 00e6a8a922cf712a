//! Servers that try to get the key or confuse the client: redirects to other origins, error
//! texts that carry the key across the quoting limit, answers labelled with the wrong content
//! type, and event streams with unusual line ends.

mod common;

use common::{ask, model_settings};
use infinite_jazz_llm::chat::{complete, Prompt};
use infinite_jazz_llm::config::Timeouts;
use infinite_jazz_llm::http::HttpClient;
use infinite_jazz_llm::{Backend, LlmError, LlmSettings};
use integration_tests::http_server::{good_answer, openai_answer, Reply, TestServer};
use std::time::Duration;

const KEY: &str = "sk-REDIRECTCHECK-0123456789abcdef";

fn settings(base: &str, stream: bool) -> LlmSettings {
    let (stall, total) = (Duration::from_secs(2), Duration::from_secs(5));
    model_settings(Backend::OpenAi, base, KEY, stream, stall, total)
}

fn redirect(status: u16, to: String) -> Reply {
    Reply::Full {
        status,
        headers: vec![("location", to)],
        body: String::new(),
    }
}

#[test]
fn the_key_never_follows_a_redirect_to_another_origin() {
    // The thief answers; a second hop on it redirects once more, to itself.
    let thief = TestServer::start(|r, _| {
        if r.path.ends_with("/again") {
            Reply::json(200, openai_answer(&good_answer("C2")))
        } else {
            redirect(307, "/again".into())
        }
    });
    for status in [301, 302, 303, 307, 308] {
        let target = format!("{}/v1/chat/completions", thief.url());
        let origin = TestServer::start(move |_, _| redirect(status, target.clone()));
        let err = ask(&settings(&format!("{}/v1", origin.url()), false)).expect_err("stopped");
        assert!(
            matches!(err, LlmError::Redirected { .. }),
            "{status}: {err}"
        );
        assert!(err.to_string().contains("not followed"), "{err}");
        assert_eq!(origin.requests().len(), 1);
    }
    assert!(
        thief.requests().is_empty(),
        "the other origin was contacted: {:?}",
        thief
            .requests()
            .iter()
            .map(|r| r.header("authorization"))
            .collect::<Vec<_>>()
    );

    // A redirect within the same server is followed, and the key goes along.
    let same = TestServer::start(|r, _| {
        if r.path.starts_with("/v2/") {
            Reply::json(200, openai_answer(&good_answer("C2")))
        } else {
            redirect(308, "/v2/chat/completions".into())
        }
    });
    let text = ask(&settings(&format!("{}/v1", same.url()), false)).expect("followed");
    assert!(text.contains("BASS"));
    let requests = same.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[1].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
}

#[test]
fn no_part_of_the_key_survives_the_quoting_limit() {
    // The key straddles character 300 of every error text, wherever a server can put one.
    let padded = format!("{}{KEY} trailing words", "x".repeat(290));
    let error = serde_json::json!({"error": {"message": padded}});
    let cases: Vec<(Reply, bool)> = vec![
        (Reply::json(200, error.clone()), false),
        (Reply::json(500, error.clone()), false),
        (Reply::json(401, error.clone()), false),
        (
            Reply::Full {
                status: 200,
                headers: vec![("content-type", "text/event-stream".into())],
                body: format!("data: {error}\n\n"),
            },
            true,
        ),
        (
            Reply::Full {
                status: 502,
                headers: vec![("content-type", "text/plain".into())],
                body: padded.clone(),
            },
            false,
        ),
    ];
    for (reply, stream) in cases {
        let reply = std::sync::Mutex::new(Some(reply));
        let server = TestServer::start(move |_, _| {
            reply
                .lock()
                .ok()
                .and_then(|mut r| r.take())
                .unwrap_or(Reply::Silent)
        });
        let err = ask(&settings(&server.url(), stream)).expect_err("an error");
        let text = err.to_string();
        // Any 8 characters of the key would be a leak.
        for window in KEY.as_bytes().windows(8) {
            let piece = std::str::from_utf8(window).expect("ascii");
            assert!(!text.contains(piece), "{piece:?} leaked: {text}");
        }
    }
}

type Headers = Vec<(&'static str, String)>;

#[test]
fn answers_are_read_whatever_their_label_and_line_ends() {
    let whole = openai_answer(&good_answer("D2")).to_string();
    let chunk = |content: &str| {
        serde_json::json!({"choices": [{"delta": {"content": content}}]}).to_string()
    };
    let events = |end: &str| {
        let text = good_answer("D2");
        let (a, b) = text.split_at(text.len() / 2);
        format!(
            "data: {}{end}{end}data: {}{end}{end}data: [DONE]{end}{end}",
            chunk(a),
            chunk(b)
        )
    };
    let cases: Vec<(&str, Headers, String, bool)> = vec![
        (
            "JSON as text/plain",
            vec![("content-type", "text/plain".into())],
            whole.clone(),
            true,
        ),
        ("JSON with no type", vec![], whole.clone(), true),
        (
            "JSON as text/plain, not streaming",
            vec![("content-type", "text/plain".into())],
            whole.clone(),
            false,
        ),
        (
            "events with CR",
            vec![("content-type", "text/event-stream".into())],
            events("\r"),
            true,
        ),
        (
            "events with CRLF",
            vec![("content-type", "text/event-stream".into())],
            events("\r\n"),
            true,
        ),
        ("events with no type", vec![], events("\n"), true),
        ("events with CR and no type", vec![], events("\r"), true),
    ];
    for (name, headers, body, stream) in cases {
        let server = TestServer::start(move |_, _| Reply::Full {
            status: 200,
            headers: headers.clone(),
            body: body.clone(),
        });
        let text = ask(&settings(&server.url(), stream)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(text, good_answer("D2"), "{name}");
    }
}

/// A plugin torn down while a model call hangs: the worker (and the source's thread) end at
/// once, without waiting for the server or its timeouts.
#[test]
fn tearing_down_never_waits_for_a_silent_server() {
    use infinite_jazz_engine::sequencer::SequencerStats;
    use infinite_jazz_engine::worker::{
        section_queues, SectionWorker, SettingsFeed, WorkerSettings,
    };
    use infinite_jazz_llm::ModelSource;
    use std::sync::Arc;
    use std::time::Instant;

    let server = TestServer::start(|_, _| Reply::Silent);
    let mut s = settings(&server.url(), true);
    s.timeouts = Timeouts {
        connect: Duration::from_secs(30),
        stall: Duration::from_secs(60),
        total: Duration::from_secs(120),
    };
    let source = ModelSource::new(s).expect("source");
    let (queues, _sequencer_queues) = section_queues();
    let worker_settings = WorkerSettings {
        config: Default::default(),
        depth: 4,
        composer: Default::default(),
        listen: Default::default(),
    };
    let worker = SectionWorker::spawn_with_source(
        queues,
        Arc::new(SequencerStats::default()),
        SettingsFeed::fixed(worker_settings),
        Some(Box::new(source)),
    )
    .expect("worker");
    let end = Instant::now() + Duration::from_secs(10);
    while server.requests().is_empty() {
        assert!(Instant::now() < end, "the model was never asked");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    drop(worker);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "teardown waited {:?}",
        started.elapsed()
    );

    // Cancelling a bare client ends its call the same way.
    let mut s = settings(&server.url(), false);
    s.timeouts.stall = Duration::from_secs(60);
    s.timeouts.total = Duration::from_secs(120);
    let http = HttpClient::new(s.timeouts, s.max_body_bytes).expect("client");
    let cancel = http.cancel_handle();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        cancel.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let started = Instant::now();
    let prompt = Prompt {
        system: "rules".into(),
        user: "play".into(),
    };
    let result = complete(&http, &s, &prompt, 100);
    assert_eq!(result.map(|c| c.text), Err(LlmError::Cancelled));
    assert!(started.elapsed() < Duration::from_secs(2));
    canceller.join().expect("canceller");
}
