//! The command-line tools against hostile and unlucky files: devices, pipes and directories
//! where a file is expected, outputs that are their own inputs (also through links), a config
//! that is a device, a WAV header with a sample rate of 0, nonsense numbers, and a reader that
//! goes away. Each is a clear error, quick, with no panic text and no file lost.

use integration_tests::{binary, scratch_dir};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn jazz(dir: &Path, args: &[&str]) -> Output {
    Command::new(binary("infinite-jazz-standalone", "infinite-jazz"))
        .current_dir(dir)
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .args(args)
        .output()
        .expect("runs")
}

fn infini_loop(dir: &Path, args: &[&str]) -> Output {
    Command::new(binary("infinite-jazz-standalone", "infini-loop"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("runs")
}

/// `jazz` with the arguments of a command line written out (no quoting needed).
fn jazz_line(dir: &Path, line: &str) -> Output {
    jazz(dir, &line.split_whitespace().collect::<Vec<_>>())
}

/// Fails with a message containing `expected`, and no panic.
fn refused(out: &Output, expected: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "succeeded: {err}");
    assert!(err.contains(expected), "expected {expected:?} in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Refused because the output would overwrite the input.
fn refused_as_input(out: &Output) {
    refused(out, "same file as the input");
}

/// The built-in composer needs nothing from the user's config: whatever is wrong with it.
fn builtin_render_works(dir: &Path) {
    let out = jazz(
        dir,
        &[
            "render",
            "--bars",
            "1",
            "--out",
            "b.mid",
            "--llm-backend",
            "builtin",
        ],
    );
    integration_tests::assert_success(&out);
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success());
}

fn tone_wav(path: &Path, seconds: f64) {
    let samples = (0..(seconds * 32_000.0) as usize).map(|i| {
        let t = i as f32 / 32_000.0;
        let beat = (t * 2.0).fract();
        0.3 * (std::f32::consts::TAU * 220.0 * t).sin() * (-beat * 5.0).exp()
    });
    integration_tests::write_mono_wav(path, 32_000, samples);
}

#[test]
fn devices_pipes_and_directories_are_refused_at_once() {
    let dir = scratch_dir("hostile_devices");
    let fifo = dir.join("take.txt");
    mkfifo(&fifo);
    let started = Instant::now();
    refused(&infini_loop(&dir, &["analyze", "/dev/urandom"]), "a device");
    refused(
        &infini_loop(&dir, &["analyze", fifo.to_str().expect("p")]),
        "pipe",
    );
    refused(&jazz_line(&dir, "txt2midi /dev/zero out.mid"), "a device");
    refused(&jazz_line(&dir, "txt2midi take.txt out.mid"), "pipe");
    refused(&jazz_line(&dir, "txt2midi . out.mid"), "a directory");
    // A SoundFont path that is a folder says so.
    refused(
        &jazz_line(&dir, "render --bars 1 --out x.wav --soundfont /tmp"),
        "/tmp is a directory",
    );
    // A config that is a device: a clear error, not gigabytes read.
    let config = dir.join("config").join("infinite-jazz");
    std::fs::create_dir_all(&config).expect("config dir");
    std::os::unix::fs::symlink("/dev/zero", config.join("config.json")).expect("symlink");
    refused(
        &jazz_line(&dir, "render --bars 1 --out a.mid --llm-backend openai"),
        "a device",
    );
    // ... which never stands in the way of the built-in composer.
    builtin_render_works(&dir);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "something blocked"
    );
}

#[test]
fn a_world_readable_key_file_blocks_only_the_model() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch_dir("hostile_open_config");
    let config = dir.join("config").join("infinite-jazz");
    std::fs::create_dir_all(&config).expect("config dir");
    let file = config.join("config.json");
    std::fs::write(
        &file,
        r#"{"backend": "openai", "api_key": "sk-0123456789"}"#,
    )
    .expect("w");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    refused(&jazz_line(&dir, "render --bars 1 --out a.mid"), "chmod 600");
    builtin_render_works(&dir);
}

#[test]
fn outputs_never_overwrite_inputs_or_each_other() {
    let dir = scratch_dir("hostile_outputs");
    let out = jazz_line(&dir, "render --bars 2 --out take.mid --save-output");
    integration_tests::assert_success(&out);
    let text = std::fs::read(dir.join("take.txt")).expect("take.txt");
    std::os::unix::fs::symlink(dir.join("take.txt"), dir.join("link.txt")).expect("symlink");
    std::fs::hard_link(dir.join("take.txt"), dir.join("hard.txt")).expect("hard link");
    for output in ["take.txt", "link.txt", "hard.txt", "./take.txt"] {
        refused_as_input(&jazz(&dir, &["txt2midi", "take.txt", output]));
    }
    assert_eq!(std::fs::read(dir.join("take.txt")).expect("kept"), text);

    // The MIDI and the text of one render would be the same file.
    refused(
        &jazz_line(&dir, "render --bars 2 --out x.txt --save-output"),
        "written twice",
    );
    assert!(!dir.join("x.txt").exists(), "nothing was written");

    tone_wav(&dir.join("in.wav"), 6.0);
    let audio = std::fs::read(dir.join("in.wav")).expect("in.wav");
    std::os::unix::fs::symlink(dir.join("in.wav"), dir.join("in-link.wav")).expect("symlink");
    for output in ["in.wav", "in-link.wav"] {
        refused_as_input(&infini_loop(&dir, &["export", "in.wav", output]));
    }
    assert_eq!(std::fs::read(dir.join("in.wav")).expect("kept"), audio);

    // Too large for a WAV file: refused before anything is composed or written.
    refused(
        &jazz_line(
            &dir,
            "render --bars 4096 --tempo 20 --sample-rate 192000 --out huge.wav",
        ),
        "4 GiB",
    );
    assert!(!dir.join("huge.wav").exists() && !dir.join("huge.mid").exists());
}

#[test]
fn damaged_headers_nonsense_numbers_and_closed_pipes_are_clear() {
    let dir = scratch_dir("hostile_numbers");
    tone_wav(&dir.join("clip.wav"), 6.0);
    // Sample rate 0: symphonia panics inside; the user sees a clear message, no panic text.
    let mut bytes = std::fs::read(dir.join("clip.wav")).expect("clip");
    bytes[24..28].copy_from_slice(&0u32.to_le_bytes());
    std::fs::write(dir.join("rate0.wav"), bytes).expect("write");
    let out = infini_loop(&dir, &["analyze", "rate0.wav"]);
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));

    for (args, expected) in [
        (vec!["analyze", "clip.wav", "--bpm", "0"], "--bpm"),
        (vec!["analyze", "clip.wav", "--bpm", "NaN"], "--bpm"),
        (
            vec!["analyze", "clip.wav", "--min-secs", "NaN"],
            "--min-secs",
        ),
        (
            vec!["export", "clip.wav", "o.wav", "--crossfade-ms", "NaN"],
            "--crossfade-ms",
        ),
    ] {
        refused(&infini_loop(&dir, &args), expected);
    }

    // A reader that goes away before the answer is printed.
    let binary = binary("infinite-jazz-standalone", "infini-loop");
    let out = Command::new("sh")
        .current_dir(&dir)
        .arg("-c")
        .arg(format!(
            "'{}' analyze clip.wav --json | true",
            binary.display()
        ))
        .output()
        .expect("sh");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
}

/// `render --out x.wav` streams the audio to disk: its memory does not grow with the take. A
/// minute at 96 kHz would take 49 MB as floats in memory; the whole process stays far below.
#[test]
fn a_wav_render_streams_to_disk() {
    let dir = scratch_dir("hostile_render_memory");
    let python = std::env::var("INFINITE_JAZZ_PYTHON").unwrap_or_else(|_| "python3".into());
    let binary = binary("infinite-jazz-standalone", "infinite-jazz");
    let out = Command::new(python)
        .current_dir(&dir)
        .arg("-c")
        .arg(
            "import resource, subprocess, sys\n\
             r = subprocess.run(sys.argv[1:])\n\
             print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)",
        )
        .arg(&binary)
        .args([
            "render",
            "--bars",
            "16",
            "--tempo",
            "60",
            "--sample-rate",
            "96000",
        ])
        .args(["--out", "long.wav"])
        .output()
        .expect("python runs the render");
    let report = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<u64> = report
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    assert_eq!(fields.first(), Some(&0), "render failed: {report}");
    let max_rss_kib = fields.get(1).copied().unwrap_or(u64::MAX);
    assert!(max_rss_kib < 35 * 1024, "peak memory {max_rss_kib} KiB");
    let bytes = std::fs::metadata(dir.join("long.wav")).expect("wav").len();
    assert_eq!(bytes, 44 + 64 * 96_000 * 4, "a minute of 16-bit stereo");
}
