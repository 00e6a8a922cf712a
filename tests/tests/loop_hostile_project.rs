//! A shared project must never run a program on this machine. The project names a script as
//! its MusicGPT and a prompt that reads like an interpreter's option; a `musicgpt` on PATH
//! stands by. Loaded and played without anyone pressing Generate, neither runs. Once this
//! machine's own config allows generating on load, the PATH `musicgpt` (the user's choice) runs,
//! with the prompt after `--`, and the project's script still never does.

use integration_tests::clap_host::{run_session, BlockSpec, Session};
use integration_tests::{plugin_library, scratch_dir};
use std::path::Path;
use std::time::{Duration, Instant};

/// A script that records its arguments in `marker` and fails (no clip is needed).
fn write_recorder(path: &Path, marker: &Path) {
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\nexit 1\n",
        marker.display()
    );
    std::fs::write(path, script).expect("script");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn play(lib: &Path, state: &[u8]) {
    let session = Session {
        library: lib,
        plugin_id: "com.infinite-jazz.infini-loop",
        sample_rate: 48_000.0,
        output_channels: 2,
        state: Some(state),
        settle: Duration::from_secs(2),
        pace: Some(4.0),
        input: &[],
    };
    let blocks = BlockSpec::at_120_bpm(200, 480, 48_000.0, false);
    let result = run_session(&session, &blocks);
    assert_eq!(result.state_loaded, Some(true));
}

#[test]
fn a_project_never_chooses_or_starts_a_program() {
    let lib = plugin_library("infini-loop", &["assert_process_allocs"]);
    let dir = scratch_dir("loop_hostile_project");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let project_marker = dir.join("project-program-ran");
    let path_marker = dir.join("path-musicgpt-ran");
    write_recorder(&dir.join("evil"), &project_marker);
    write_recorder(&bin.join("musicgpt"), &path_marker);
    let config_home = dir.join("config");
    std::env::set_var("XDG_CONFIG_HOME", &config_home);
    let old_path = std::env::var("PATH").unwrap_or_default();
    std::env::set_var("PATH", format!("{}:{old_path}", bin.display()));

    let prompt = "-c import os; os.system('touch /tmp/pwned')";
    let sources = serde_json::json!({
        "prompt": prompt,
        "folder": "",
        "musicgpt": dir.join("evil").display().to_string(),
    })
    .to_string();
    let state = serde_json::json!({
        "version": "0.1.0",
        "params": {"source": {"string": "musicgpt"}, "trigger": {"string": "transport"}},
        "fields": {"sources": sources},
    })
    .to_string();
    let mut framed = (state.len() as u64).to_le_bytes().to_vec();
    framed.extend_from_slice(state.as_bytes());

    play(&lib, &framed);
    std::thread::sleep(Duration::from_millis(500));
    assert!(!project_marker.exists(), "the project's program ran");
    assert!(!path_marker.exists(), "MusicGPT ran without Generate");

    // The user's own config opts in: now the user's MusicGPT runs, never the project's.
    std::fs::create_dir_all(config_home.join("infinite-jazz")).expect("config dir");
    std::fs::write(
        config_home.join("infinite-jazz").join("infini-loop.json"),
        r#"{"generate_on_load": true}"#,
    )
    .expect("config");
    play(&lib, &framed);
    let end = Instant::now() + Duration::from_secs(10);
    while !path_marker.exists() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    let args = std::fs::read_to_string(&path_marker).expect("the user's MusicGPT ran");
    let args: Vec<&str> = args.lines().collect();
    let dashes = args
        .iter()
        .position(|a| *a == "--")
        .expect("a `--` ends the options");
    assert_eq!(
        args[dashes + 1..],
        [prompt],
        "the prompt comes only after `--`"
    );
    assert!(!project_marker.exists(), "the project's program ran");
    std::env::set_var("PATH", old_path);
}
