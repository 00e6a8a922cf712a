//! The `infini-loop` command: analyse, export, and generate through a stand-in MusicGPT.

use integration_tests::{binary, scratch_dir};
use std::path::Path;
use std::process::Command;

const RATE: u32 = 32_000;

/// A clip that repeats every `period` samples, written as MusicGPT would (32 kHz mono float).
fn write_clip(path: &Path, period: usize, seconds: f64) -> Vec<f32> {
    let one: Vec<f32> = (0..period)
        .map(|i| {
            let quarter = period / 4;
            let note = [196.0f32, 246.9, 293.7, 392.0][i / quarter];
            let t = (i % quarter) as f32 / RATE as f32;
            0.3 * (std::f32::consts::TAU * note * t).sin() * (-t * 4.0).exp()
                + 0.2 * (std::f32::consts::TAU * 55.0 * t).sin() * (-t * 20.0).exp()
        })
        .collect();
    let samples: Vec<f32> = (0..(seconds * f64::from(RATE)) as usize)
        .map(|i| one[i % period])
        .collect();
    integration_tests::write_mono_wav(path, RATE, samples.iter().copied());
    samples
}

fn infini_loop(args: &[&str]) -> std::process::Output {
    Command::new(binary("infinite-jazz-standalone", "infini-loop"))
        .args(args)
        .output()
        .expect("runs")
}

fn max_step(x: &[f32]) -> f32 {
    x.windows(2).fold(0.0, |m, w| m.max((w[1] - w[0]).abs()))
}

#[test]
fn analyze_prints_json_with_whole_period_loops() {
    let dir = scratch_dir("infini_loop_analyze");
    let clip = dir.join("clip.wav");
    let period = (2.5 * f64::from(RATE)) as usize;
    write_clip(&clip, period, 15.0);
    let out = infini_loop(&[
        "analyze",
        clip.to_str().expect("path"),
        "--json",
        "--top",
        "3",
    ]);
    integration_tests::assert_success(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["sample_rate"], 32_000);
    let (start, end) = (
        v["loop_start"].as_u64().expect("start"),
        v["loop_end"].as_u64().expect("end"),
    );
    let len = (end - start) as f64;
    let k = (len / period as f64).round();
    assert!(
        k >= 1.0 && (len - k * period as f64).abs() <= 0.003 * f64::from(RATE),
        "{len} vs {period}"
    );
    assert!(v["score"].as_f64().is_some());
    let candidates = v["candidates"].as_array().expect("candidates");
    assert!(!candidates.is_empty() && candidates.len() <= 3);
    for key in ["spectral", "waveform", "phase", "beat", "seam_error"] {
        assert!(candidates[0][key].is_number(), "{key} is reported");
    }
}

#[test]
fn export_writes_the_loop_repeated_without_clicks() {
    let dir = scratch_dir("infini_loop_export");
    let clip = dir.join("clip.wav");
    let source = write_clip(&clip, (2.0 * f64::from(RATE)) as usize, 12.0);
    let out_wav = dir.join("loop.wav");
    let out = infini_loop(&[
        "export",
        clip.to_str().expect("p"),
        out_wav.to_str().expect("p"),
        "--repeats",
        "3",
    ]);
    integration_tests::assert_success(&out);
    let json = infini_loop(&["analyze", clip.to_str().expect("p"), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    let len = (v["loop_end"].as_u64().expect("e") - v["loop_start"].as_u64().expect("s")) as usize;
    let mut reader = hound::WavReader::open(&out_wav).expect("wav");
    let samples: Vec<f32> = reader
        .samples::<f32>()
        .map(|s| s.expect("sample"))
        .collect();
    assert_eq!(samples.len(), 3 * len);
    let own = max_step(&source);
    assert!(
        max_step(&samples) <= own * 1.05 + 1e-4,
        "seams are no rougher than the music: {} vs {own}",
        max_step(&samples)
    );
}

#[test]
fn export_to_another_tempo_is_whole_bars_to_the_sample() {
    let dir = scratch_dir("infini_loop_export_bpm");
    let clip = dir.join("clip.wav");
    // A bar of 2.2 s (109 BPM), exported at 120 BPM, where a bar lasts 2 s.
    let source = write_clip(&clip, (2.2 * f64::from(RATE)) as usize, 14.0);
    let json = infini_loop(&["analyze", clip.to_str().expect("p"), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    let len = (v["loop_end"].as_u64().expect("e") - v["loop_start"].as_u64().expect("s")) as f64;
    let bar = 2.0 * f64::from(RATE);
    let read = |path: &Path| -> Vec<f32> {
        hound::WavReader::open(path)
            .expect("wav")
            .samples::<f32>()
            .map(|s| s.expect("sample"))
            .collect()
    };
    let own = max_step(&source);
    // The bar count the command chooses...
    let auto = dir.join("auto.wav");
    integration_tests::assert_success(&infini_loop(&[
        "export",
        clip.to_str().expect("p"),
        auto.to_str().expect("p"),
        "--to-bpm",
        "120",
        "--repeats",
        "3",
    ]));
    let samples = read(&auto);
    let bars = samples.len() as f64 / (3.0 * bar);
    assert!(
        bars.fract() == 0.0 && bars >= 1.0,
        "{} samples: {bars} bars",
        samples.len()
    );
    // As many bars as the loop spans at its own tempo: its beats land on the new tempo's.
    let beats = v["candidates"][0]["beats"].as_f64().expect("beats");
    assert_eq!(
        bars,
        (beats / 4.0).round(),
        "{beats} beats at its own tempo ({len} frames)"
    );
    assert!(
        max_step(&samples) <= own * 1.5 + 1e-3,
        "no clicks: {} vs {own}",
        max_step(&samples)
    );
    // ...or given.
    let given = (len / bar).round().max(1.0) as usize;
    let out = dir.join("given.wav");
    integration_tests::assert_success(&infini_loop(&[
        "export",
        clip.to_str().expect("p"),
        out.to_str().expect("p"),
        "--to-bpm",
        "120",
        "--bars",
        &given.to_string(),
        "--repeats",
        "3",
    ]));
    assert_eq!(
        read(&out).len(),
        3 * given * bar as usize,
        "exactly, to the sample"
    );
    // A ratio out of range is a clear error, and nothing is written.
    let far = dir.join("far.wav");
    let refused = infini_loop(&[
        "export",
        clip.to_str().expect("p"),
        far.to_str().expect("p"),
        "--to-bpm",
        "120",
        "--bars",
        &(given * 4).to_string(),
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("cannot be stretched"));
    assert!(!far.exists());
}

#[test]
fn generate_runs_musicgpt_without_a_shell_and_reports_each_failure() {
    let dir = scratch_dir("infini_loop_generate");
    let fake = binary("integration-tests", "fake-musicgpt");
    let prompt_file = dir.join("prompt.txt");
    let prompt = "warm rhodes; rm -rf / && echo $HOME `id`";
    let run = |mode: &str, extra: &[&str]| {
        Command::new(binary("infinite-jazz-standalone", "infini-loop"))
            .env("FAKE_MUSICGPT_MODE", mode)
            .env("FAKE_MUSICGPT_PROMPT_FILE", &prompt_file)
            .args([
                "generate",
                prompt,
                dir.join("out.wav").to_str().expect("p"),
                "--musicgpt",
                fake.to_str().expect("p"),
                "--secs",
                "8",
                "--model",
                "small",
            ])
            .args(extra)
            .output()
            .expect("runs")
    };
    let ok = run("ok", &[]);
    integration_tests::assert_success(&ok);
    assert!(dir.join("out.wav").exists());
    assert_eq!(
        std::fs::read_to_string(&prompt_file).expect("prompt seen"),
        format!("{prompt}\nsmall\n8")
    );

    // A prompt that looks like an option, given after our own `--`, is still only a prompt.
    let dashed = Command::new(binary("infinite-jazz-standalone", "infini-loop"))
        .env("FAKE_MUSICGPT_MODE", "ok")
        .env("FAKE_MUSICGPT_PROMPT_FILE", &prompt_file)
        .args([
            "generate",
            "--musicgpt",
            fake.to_str().expect("p"),
            "--secs",
            "5",
            "--",
        ])
        .args(["--model large", dir.join("dashed.wav").to_str().expect("p")])
        .output()
        .expect("runs");
    integration_tests::assert_success(&dashed);
    assert_eq!(
        std::fs::read_to_string(&prompt_file).expect("prompt seen"),
        "--model large\nmedium\n5"
    );

    let failed = run("fail", &[]);
    assert!(!failed.status.success());
    assert!(String::from_utf8_lossy(&failed.stderr).contains("MusicGPT failed"));
    assert!(String::from_utf8_lossy(&failed.stderr).contains("failed to load model weights"));

    let started = std::time::Instant::now();
    let hung = run("hang", &["--timeout", "2"]);
    assert!(!hung.status.success());
    assert!(String::from_utf8_lossy(&hung.stderr).contains("did not finish within 2 s"));
    assert!(started.elapsed() < std::time::Duration::from_secs(20));

    let garbage = run("garbage", &[]);
    assert!(!garbage.status.success());
    assert!(String::from_utf8_lossy(&garbage.stderr).contains("not usable audio"));

    let missing = infini_loop(&[
        "generate",
        "x",
        "o.wav",
        "--musicgpt",
        "/nonexistent/musicgpt",
    ]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("MusicGPT was not found"));
}

#[test]
fn bad_files_are_clear_errors() {
    let dir = scratch_dir("infini_loop_bad");
    let junk = dir.join("junk.wav");
    std::fs::write(&junk, b"RIFF\x00\x00\x00\x00WAVEjunkjunk").expect("write");
    let out = infini_loop(&["analyze", junk.to_str().expect("p")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("decoding") && !err.contains("panicked"),
        "{err}"
    );
    let short = dir.join("short.wav");
    write_clip(&short, 8000, 1.0);
    let out = infini_loop(&["analyze", short.to_str().expect("p")]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("too short"));
}
