//! The built plugin with a language model configured in the user's config file: it asks the
//! model (here a loopback server) and plays its sections, in time and without allocating.

use integration_tests::clap_host::{run_session, BlockSpec, OutEvent, Session};
use integration_tests::http_server::{good_answer, openai_reply, TestServer};
use integration_tests::{plugin_library, scratch_dir};
use std::time::Duration;

#[test]
fn the_plugin_plays_what_the_model_writes() {
    let lib = plugin_library("infinite-jazz", &["assert_process_allocs"]);
    let server = TestServer::start(|r, _| openai_reply(r, &good_answer("A1")));
    let home = scratch_dir("plugin_model_config");
    let dir = home.join("infinite-jazz");
    std::fs::create_dir_all(&dir).expect("config dir");
    let config = format!(
        r#"{{"backend": "openai", "base_url": "{}/v1", "model": "loopback-model"}}"#,
        server.url()
    );
    std::fs::write(dir.join("config.json"), config).expect("config");
    std::env::set_var("XDG_CONFIG_HOME", &home);
    let sample_rate = 48_000.0;
    let blocks = BlockSpec::at_120_bpm(500, 1200, sample_rate, true);
    let session = Session {
        library: &lib,
        plugin_id: "com.infinite-jazz.infinite-jazz",
        sample_rate,
        output_channels: 0,
        state: None,
        settle: Duration::from_millis(1500),
        pace: None,
        input: &[],
    };
    let result = run_session(&session, &blocks);
    // The model's bass plays A1 (MIDI 33) on every beat; the built-in composer never would.
    let bass: Vec<u16> = result
        .blocks
        .iter()
        .flat_map(|b| &b.events)
        .filter_map(|e| match e {
            OutEvent::NoteOn {
                channel: 0, key, ..
            } => Some(*key),
            _ => None,
        })
        .collect();
    assert!(bass.len() >= 16, "{} bass notes", bass.len());
    assert!(
        bass[..16].iter().all(|k| *k == 33),
        "the first bars are the model's: {bass:?}"
    );
    let requests = server.requests();
    assert!(!requests.is_empty());
    assert_eq!(requests[0].json()["model"], "loopback-model");
    // The plugin's state never holds model settings or keys.
    let state = String::from_utf8_lossy(&result.saved_state);
    assert!(!state.contains("loopback-model") && !state.contains("api_key"));
}
