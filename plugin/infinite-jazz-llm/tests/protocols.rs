//! Request and response shapes of both backends, whole and streamed, against a loopback server.

use infinite_jazz_engine::section::{Instrument, Note, Step};
use infinite_jazz_engine::timing::RuntimeConfig;
use infinite_jazz_engine::worker::{SectionRequest, SectionSource, SourceError};
use infinite_jazz_llm::{ApiKey, Backend, LlmSettings, ModelSource};
use integration_tests::http_server::{
    good_answer, ollama_answer, openai_answer, Reply, TestServer,
};

fn settings(backend: Backend, server: &TestServer, stream: bool) -> LlmSettings {
    let mut s = LlmSettings::new(backend);
    s.base_url = match backend {
        Backend::OpenAi => format!("{}/v1", server.url()),
        _ => server.url(),
    };
    s.model = "test-model".into();
    s.api_key = ApiKey::new("sk-test-key");
    s.stream = stream;
    s.seed = Some(7);
    s
}

fn ask(source: &mut ModelSource) -> Result<infinite_jazz_engine::section::Section, SourceError> {
    let config = RuntimeConfig::default();
    source.next_section(&SectionRequest {
        config: &config,
        recent: &[],
        listening: None,
    })
}

fn bass_first(section: &infinite_jazz_engine::section::Section) -> &Step {
    &section.part(Instrument::Bass).steps[0]
}

#[test]
fn openai_whole_answer() {
    let server = TestServer::start(|_, _| Reply::json(200, openai_answer(&good_answer("C2"))));
    let mut source = ModelSource::new(settings(Backend::OpenAi, &server, false)).expect("source");
    let section = ask(&mut source).expect("a section");
    assert_eq!(
        bass_first(&section),
        &Step::Notes(vec![Note {
            key: 36,
            velocity: 90
        }])
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(r.header("authorization"), Some("Bearer sk-test-key"));
    let body = r.json();
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["messages"][1]["role"], "user");
    assert!((body["temperature"].as_f64().expect("temperature") - 1.05).abs() < 1e-6);
    assert!((body["top_p"].as_f64().expect("top_p") - 0.99).abs() < 1e-6);
    assert_eq!(body["max_tokens"], 4500);
    assert_eq!(body["seed"], 7);
    assert_eq!(body["stream"], false);
    let stats = source.stats().lock().expect("stats").clone();
    assert_eq!(
        (
            stats.sections,
            stats.last_prompt_tokens,
            stats.last_completion_tokens
        ),
        (1, Some(812), Some(455))
    );
}

#[test]
fn openai_streamed_answer_split_anywhere() {
    let answer = good_answer("D2");
    // Server-sent events whose pieces cut notes and lines in half, with keep-alives between.
    let mut events = String::from(": keep-alive\n\n");
    for piece in answer.as_bytes().chunks(7) {
        let piece = String::from_utf8_lossy(piece);
        events.push_str(&format!(
            "data: {}\n\n",
            serde_json::json!({"choices": [{"delta": {"content": piece}}]})
        ));
    }
    events.push_str("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":20}}\n\ndata: [DONE]\n\n");
    let pieces: Vec<(std::time::Duration, String)> = events
        .as_bytes()
        .chunks(50)
        .map(|c| {
            (
                std::time::Duration::from_millis(1),
                String::from_utf8_lossy(c).into_owned(),
            )
        })
        .collect();
    let server = TestServer::start(move |_, _| Reply::Pieces(pieces.clone()));
    let mut source = ModelSource::new(settings(Backend::OpenAi, &server, true)).expect("source");
    let section = ask(&mut source).expect("a section");
    assert_eq!(
        bass_first(&section),
        &Step::Notes(vec![Note {
            key: 38,
            velocity: 90
        }])
    );
    let body = server.requests()[0].json();
    assert_eq!(body["stream"], true);
    assert_eq!(
        source.stats().lock().expect("stats").last_completion_tokens,
        Some(20)
    );
}

#[test]
fn a_server_that_cannot_stream_may_answer_in_one_piece() {
    let server = TestServer::start(|_, _| Reply::json(200, openai_answer(&good_answer("A2"))));
    let mut source = ModelSource::new(settings(Backend::OpenAi, &server, true)).expect("source");
    let section = ask(&mut source).expect("a section");
    assert_eq!(
        bass_first(&section),
        &Step::Notes(vec![Note {
            key: 45,
            velocity: 90
        }])
    );
    assert_eq!(server.requests()[0].json()["stream"], true);
}

#[test]
fn ollama_whole_and_streamed_answers() {
    let server = TestServer::start(|_, _| Reply::json(200, ollama_answer(&good_answer("E2"))));
    let mut source = ModelSource::new(settings(Backend::Ollama, &server, false)).expect("source");
    let section = ask(&mut source).expect("a section");
    assert_eq!(
        bass_first(&section),
        &Step::Notes(vec![Note {
            key: 40,
            velocity: 90
        }])
    );
    let r = &server.requests()[0];
    assert_eq!(r.path, "/api/chat");
    let body = r.json();
    assert_eq!(body["stream"], false);
    assert_eq!(body["options"]["num_predict"], 4500);
    assert_eq!(body["options"]["seed"], 7);
    assert!((body["options"]["temperature"].as_f64().expect("t") - 1.05).abs() < 1e-6);

    let answer = good_answer("F2");
    let mut lines: Vec<(std::time::Duration, String)> = answer
        .as_bytes()
        .chunks(11)
        .map(|c| {
            let piece = String::from_utf8_lossy(c);
            (std::time::Duration::from_millis(1), format!("{}\n", serde_json::json!({"message": {"role": "assistant", "content": piece}, "done": false})))
        })
        .collect();
    lines.push((std::time::Duration::ZERO, format!("{}\n", serde_json::json!({"message": {"role": "assistant", "content": ""}, "done": true, "eval_count": 99}))));
    let server = TestServer::start(move |_, _| Reply::Pieces(lines.clone()));
    let mut source = ModelSource::new(settings(Backend::Ollama, &server, true)).expect("source");
    let section = ask(&mut source).expect("a section");
    assert_eq!(
        bass_first(&section),
        &Step::Notes(vec![Note {
            key: 41,
            velocity: 90
        }])
    );
    assert_eq!(
        source.stats().lock().expect("stats").last_completion_tokens,
        Some(99)
    );
}

#[test]
fn an_unusable_answer_is_retried_once_then_reported() {
    // First a refusal, then music: one section, two calls.
    let server = TestServer::start(|_, i| {
        let content = if i == 0 {
            "I'd rather talk about jazz history.".to_string()
        } else {
            good_answer("G2")
        };
        Reply::json(200, openai_answer(&content))
    });
    let mut source = ModelSource::new(settings(Backend::OpenAi, &server, false)).expect("source");
    assert!(ask(&mut source).is_ok());
    assert_eq!(server.requests().len(), 2);
    assert_eq!(source.stats().lock().expect("stats").unusable, 1);

    // Only the bass: fewer than two instruments, twice.
    let server = TestServer::start(|_, _| Reply::json(200, openai_answer("BASS\nC2:80\n")));
    let mut source = ModelSource::new(settings(Backend::OpenAi, &server, false)).expect("source");
    let err = ask(&mut source).expect_err("unusable");
    assert!(
        matches!(err, SourceError::Unusable(ref m) if m.contains("only 1 of the four")),
        "{err}"
    );
    assert_eq!(server.requests().len(), 2, "retried exactly once");
}

#[test]
fn the_prompt_carries_the_last_steps_played() {
    use infinite_jazz_engine::composer::{BuiltinComposer, ComposerSettings};
    use infinite_jazz_engine::tracker::write_section;
    let server = TestServer::start(|_, _| Reply::json(200, openai_answer(&good_answer("A1"))));
    let mut s = settings(Backend::OpenAi, &server, false);
    s.context_steps = 48;
    let mut source = ModelSource::new(s).expect("source");
    let config = RuntimeConfig::default();
    let mut composer = BuiltinComposer::new(&ComposerSettings::default());
    let recent: Vec<_> = (0..3)
        .map(|_| composer.compose_next(&config).section)
        .collect();
    source
        .next_section(&SectionRequest {
            config: &config,
            recent: &recent,
            listening: None,
        })
        .expect("section");
    let prompt = server.requests()[0].json()["messages"][1]["content"]
        .as_str()
        .expect("user message")
        .to_string();
    let expected = infinite_jazz_llm::prompt::last_steps(&recent, 48).expect("context");
    assert_eq!(expected.total_steps, 48);
    assert!(
        prompt.contains(&write_section(&expected)),
        "the last 48 steps are in the prompt"
    );
    // They are the last ones: the first of them is step 16 of the second section.
    assert_eq!(
        expected.part(Instrument::Sax).steps[0],
        recent[1].part(Instrument::Sax).steps[16]
    );
}
