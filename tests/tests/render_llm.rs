//! `infinite-jazz render` with a language model on loopback: per-section files, continuity
//! between calls, the built-in composer standing in for failures, and the key never written.

use infinite_jazz_engine::timing::RuntimeConfig;
use infinite_jazz_engine::tracker::{parse_section, write_section};
use integration_tests::http_server::{good_answer, openai_reply, Reply, TestServer};
use integration_tests::{binary, scratch_dir};
use std::path::Path;
use std::process::Command;

const KEY: &str = "sk-RENDERLEAK-987654321";

fn render(dir: &Path, base_url: &str, extra: &[&str]) -> std::process::Output {
    Command::new(binary("infinite-jazz-standalone", "infinite-jazz"))
        .current_dir(dir)
        // Keep the user's own config and keys out of the test.
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env_remove("GROQ_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .args([
            "render",
            "--bars",
            "8",
            "--llm-backend",
            "openai",
            "--base-url",
            base_url,
            "--model",
            "test-model",
        ])
        .args([
            "--out",
            "take.mid",
            "--save-output",
            "--output-dir",
            "out",
            "--prompt",
            "late night, brushes",
        ])
        .args(extra)
        .output()
        .expect("binary runs")
}

#[test]
fn a_model_writes_the_take_section_by_section() {
    let dir = scratch_dir("render_llm");
    // The third call fails: the composer stands in for that section.
    let server = TestServer::start(|r, i| match i {
        2 => Reply::json(500, serde_json::json!({"error": {"message": "overloaded"}})),
        _ => openai_reply(r, &good_answer(["C2", "D2", "E2", "F2", "G2"][i % 5])),
    });
    let out = render(&dir, &format!("{}/v1", server.url()), &["--api-key", KEY]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "section 3: server error (HTTP 500): overloaded; the built-in composer plays it"
        ),
        "{stderr}"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 4, "one call per 2-bar section");
    for r in &requests {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
        let prompt = r.json()["messages"][1]["content"]
            .as_str()
            .expect("prompt")
            .to_string();
        assert!(prompt.contains("late night, brushes"));
    }
    // Continuity: the second call's prompt holds the last 32 steps of the first answer.
    let first = parse_section(&good_answer("C2"), &RuntimeConfig::default())
        .expect("parses")
        .section;
    let second_prompt = requests[1].json()["messages"][1]["content"]
        .as_str()
        .expect("prompt")
        .to_string();
    assert!(
        second_prompt.contains(&write_section(&first)),
        "{second_prompt}"
    );
    // Files: one per section with metadata, the whole take, and the MIDI file.
    for i in 1..=4 {
        let text = std::fs::read_to_string(dir.join(format!("out/section_{i:03}.txt")))
            .expect("section file");
        assert!(text.contains("# model: test-model"));
        assert!(
            text.contains(if i == 3 {
                "# source: builtin"
            } else {
                "# source: model"
            }),
            "section {i}: {text}"
        );
    }
    assert!(dir.join("out/take.txt").exists());
    assert!(midly::Smf::parse(&std::fs::read(dir.join("take.mid")).expect("midi")).is_ok());
    // The key is in no file and no message.
    for entry in std::fs::read_dir(dir.join("out")).expect("dir").flatten() {
        let text = std::fs::read_to_string(entry.path()).expect("text");
        assert!(!text.contains(KEY), "{}", entry.path().display());
    }
    assert!(!stderr.contains(KEY));
}

#[test]
fn with_the_server_down_the_take_is_still_written() {
    let dir = scratch_dir("render_llm_down");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let out = render(&dir, &format!("http://127.0.0.1:{port}/v1"), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.matches("connection refused").count(), 4, "{stderr}");
    assert!(dir.join("take.mid").exists());
}

#[test]
fn a_readable_config_file_with_a_key_is_refused() {
    let dir = scratch_dir("render_llm_config");
    let config = dir.join("config/infinite-jazz");
    std::fs::create_dir_all(&config).expect("dir");
    std::fs::write(
        config.join("config.json"),
        format!("{{\"backend\": \"openai\", \"api_key\": \"{KEY}\"}}"),
    )
    .expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            config.join("config.json"),
            std::fs::Permissions::from_mode(0o644),
        )
        .expect("chmod");
    }
    let out = render(&dir, "http://127.0.0.1:9/v1", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("chmod 600"), "{stderr}");
    assert!(!stderr.contains(KEY));
}

#[test]
fn a_model_that_trickles_cannot_hold_the_render_past_its_deadline() {
    let dir = scratch_dir("render_llm_trickle");
    // Each answer trickles a byte a second: far slower than any deadline.
    let server = TestServer::start(|_, _| {
        Reply::Pieces(
            (0..60)
                .map(|_| (std::time::Duration::from_secs(1), "d".into()))
                .collect(),
        )
    });
    let started = std::time::Instant::now();
    let out = render(
        &dir,
        &format!("{}/v1", server.url()),
        &["--api-key", KEY, "--deadline", "3"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // The deadline plus one stall timeout (the model's answer is cut between chunks).
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert!(stderr.contains("deadline has passed"), "{stderr}");
    let take = std::fs::read_to_string(dir.join("out").join("take.txt")).expect("take");
    let config = RuntimeConfig::default();
    assert_eq!(
        take.matches("# section:").count(),
        4,
        "all 8 bars are there"
    );
    assert!(parse_section(&take, &config).is_ok());
}

#[test]
fn the_model_hears_the_player_it_plays_with() {
    let dir = scratch_dir("render_llm_player");
    // Any MIDI file is a player: here a take rendered by the built-in composer.
    let out = Command::new(binary("infinite-jazz-standalone", "infinite-jazz"))
        .current_dir(&dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .args([
            "render",
            "--bars",
            "8",
            "--seed",
            "9",
            "--out",
            "player.mid",
        ])
        .output()
        .expect("binary runs");
    integration_tests::assert_success(&out);
    let server = TestServer::start(|r, i| openai_reply(r, &good_answer(["C2", "D2"][i % 2])));
    let out = render(
        &dir,
        &format!("{}/v1", server.url()),
        &[
            "--api-key",
            KEY,
            "--player",
            "player.mid",
            "--listen",
            "trade",
        ],
    );
    integration_tests::assert_success(&out);
    let prompts: Vec<String> = server
        .requests()
        .iter()
        .map(|r| {
            r.json()["messages"][1]["content"]
                .as_str()
                .expect("prompt")
                .to_string()
        })
        .collect();
    assert_eq!(prompts.len(), 4);
    for (i, prompt) in prompts.iter().enumerate() {
        assert!(prompt.contains("\nPLAYER\n"), "call {i}: {prompt}");
        assert!(prompt.contains("trading 4-bar turns"), "call {i}");
    }
    // Bars 1-4 are the player's turn, bars 5-8 the sax's: the third section is the sax's.
    assert!(prompts[0].contains("SAX's turn is bar(s) none"));
    assert!(prompts[2].contains("SAX's turn is bar(s) 1, 2"));
    // The player's part is in the take: a fifth track.
    let bytes = std::fs::read(dir.join("take.mid")).expect("take.mid");
    assert_eq!(midly::Smf::parse(&bytes).expect("midi").tracks.len(), 5);
}
