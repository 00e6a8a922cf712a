//! Servers that try to get the key or confuse the client: redirects to other origins, error
//! texts that carry the key across the quoting limit, answers labelled with the wrong content
//! type, and event streams with unusual line ends.

use infinite_jazz_llm::chat::{complete, Prompt};
use infinite_jazz_llm::config::Timeouts;
use infinite_jazz_llm::http::HttpClient;
use infinite_jazz_llm::{ApiKey, Backend, LlmError, LlmSettings};
use integration_tests::http_server::{good_answer, openai_answer, Reply, TestServer};
use std::time::Duration;

const KEY: &str = "sk-REDIRECTCHECK-0123456789abcdef";

fn settings(base: &str, stream: bool) -> LlmSettings {
    let mut s = LlmSettings::new(Backend::OpenAi);
    s.base_url = base.to_string();
    s.model = "test-model".into();
    s.api_key = ApiKey::new(KEY);
    s.stream = stream;
    s.timeouts = Timeouts {
        connect: Duration::from_secs(2),
        stall: Duration::from_secs(2),
        total: Duration::from_secs(5),
    };
    s
}

fn call(s: &LlmSettings) -> Result<String, LlmError> {
    let http = HttpClient::new(s.timeouts, s.max_body_bytes)?;
    let prompt = Prompt {
        system: "rules".into(),
        user: "play".into(),
    };
    complete(&http, s, &prompt, 100).map(|c| c.text)
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
        let err = call(&settings(&format!("{}/v1", origin.url()), false)).expect_err("stopped");
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
    let text = call(&settings(&format!("{}/v1", same.url()), false)).expect("followed");
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
        let err = call(&settings(&server.url(), stream)).expect_err("an error");
        let text = err.to_string();
        // Any 8 characters of the key would be a leak.
        for window in KEY.as_bytes().windows(8) {
            let piece = std::str::from_utf8(window).expect("ascii");
            assert!(!text.contains(piece), "{piece:?} leaked: {text}");
        }
    }
}

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
    let cases: Vec<(&str, Vec<(&'static str, String)>, String, bool)> = vec![
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
        let text = call(&settings(&server.url(), stream)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(text, good_answer("D2"), "{name}");
    }
}
