//! MusicGPT runs against a stand-in that behaves badly: prompts that look like options, a
//! megabyte of stderr, a helper process that keeps stderr open and outlives it, and a hang
//! with such a helper. Each run ends when it should, with the whole process group gone.

use infini_loop_engine::source::{run_musicgpt, MusicGptError, MusicGptRequest};
use integration_tests::{binary, scratch_dir};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

fn request(prompt: &str, timeout: u64) -> MusicGptRequest {
    MusicGptRequest {
        executable: binary("integration-tests", "fake-musicgpt"),
        prompt: prompt.into(),
        model: "small".into(),
        seconds: 5,
        timeout: Duration::from_secs(timeout),
    }
}

/// Whether a process is gone (or a zombie waiting for its new parent to reap it).
fn gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

fn wait_gone(pid_file: &Path) {
    let pid = std::fs::read_to_string(pid_file).expect("the helper started");
    let end = Instant::now() + Duration::from_secs(5);
    while !gone(pid.trim()) {
        assert!(Instant::now() < end, "helper {pid} still runs");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn musicgpt_runs_end_on_time_and_take_their_helpers_with_them() {
    let dir = scratch_dir("musicgpt_runs");
    let cancel = AtomicBool::new(false);
    let prompt_file = dir.join("prompt.txt");
    let pid_file = dir.join("helper.pid");
    std::env::set_var("FAKE_MUSICGPT_PROMPT_FILE", &prompt_file);
    std::env::set_var("FAKE_MUSICGPT_HELPER_PID_FILE", &pid_file);

    // Prompts that an option parser would take for options reach MusicGPT as the prompt.
    std::env::set_var("FAKE_MUSICGPT_MODE", "ok");
    for prompt in ["--model large", "-c import os", "--help", "--", "-"] {
        let clip = run_musicgpt(&request(prompt, 30), &dir, &cancel, |_| {})
            .unwrap_or_else(|e| panic!("{prompt:?}: {e}"));
        let seen = std::fs::read_to_string(&prompt_file).expect("prompt recorded");
        assert_eq!(seen.lines().next(), Some(prompt));
        let _ = std::fs::remove_file(clip);
    }

    // A megabyte of progress on stderr: read to the end, no SIGPIPE, the last lines kept.
    std::env::set_var("FAKE_MUSICGPT_MODE", "chatty");
    run_musicgpt(&request("chatty", 30), &dir, &cancel, |_| {}).expect("chatty succeeds");

    // Success while a helper keeps stderr open: the run returns without waiting for it.
    std::env::set_var("FAKE_MUSICGPT_MODE", "helper");
    let started = Instant::now();
    run_musicgpt(&request("helper", 30), &dir, &cancel, |_| {}).expect("helper succeeds");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "waited for the helper"
    );
    wait_gone(&pid_file);

    // A hang with a helper: the timeout holds and the helper dies too.
    std::env::set_var("FAKE_MUSICGPT_MODE", "helper-hang");
    let _ = std::fs::remove_file(&pid_file);
    let started = Instant::now();
    let err = run_musicgpt(&request("hang", 2), &dir, &cancel, |_| {}).expect_err("times out");
    assert!(matches!(err, MusicGptError::TimedOut(2)), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the timeout did not hold"
    );
    wait_gone(&pid_file);

    // A failure shows MusicGPT's own last words.
    std::env::set_var("FAKE_MUSICGPT_MODE", "fail");
    let err = run_musicgpt(&request("fail", 30), &dir, &cancel, |_| {}).expect_err("fails");
    assert!(
        err.to_string().contains("failed to load model weights"),
        "{err}"
    );
}
