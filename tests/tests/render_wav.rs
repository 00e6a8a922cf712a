//! `render --out take.wav`: the take through the built-in SoundFont synth.

use integration_tests::{binary, scratch_dir};
use std::process::Command;

fn render(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new(binary("infinite-jazz-standalone", "infinite-jazz"))
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .args(["render", "--bars", "4", "--tempo", "150", "--seed", "3"])
        .args(extra)
        .output()
        .expect("binary runs")
}

#[test]
fn a_take_renders_to_audio_of_the_right_length_without_clipping() {
    let dir = scratch_dir("render_wav");
    let out = render(&dir, &["--out", "take.wav", "--sample-rate", "44100"]);
    integration_tests::assert_success(&out);
    let mut reader = hound::WavReader::open(dir.join("take.wav")).expect("a WAV file");
    let spec = reader.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 44_100, 16)
    );
    // 4 bars of 4/4 at 150 BPM = 6.4 s.
    assert_eq!(reader.duration(), 282_240);
    let samples: Vec<i16> = reader
        .samples::<i16>()
        .map(|s| s.expect("sample"))
        .collect();
    let peak = samples
        .iter()
        .map(|s| i32::from(*s).abs())
        .max()
        .unwrap_or(0);
    assert!(peak < 32_767, "no clipping: peak {peak}");
    assert!(peak > 10_000, "not silent: peak {peak}");
    // Sound in every bar, not just somewhere.
    let bar = 282_240 / 4 * 2;
    for b in 0..4 {
        let energy: f64 = samples[b * bar..(b + 1) * bar]
            .iter()
            .map(|s| f64::from(*s).powi(2))
            .sum::<f64>()
            / bar as f64;
        assert!(
            energy.sqrt() > 300.0,
            "bar {b} is too quiet ({})",
            energy.sqrt()
        );
    }
    assert!(dir.join("take.mid").exists(), "the MIDI file comes with it");
}

#[test]
fn missing_or_broken_soundfonts_are_clear_errors() {
    let dir = scratch_dir("render_wav_errors");
    let out = render(
        &dir,
        &["--out", "a.wav", "--soundfont", "/nonexistent/font.sf2"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    std::fs::write(
        dir.join("junk.sf2"),
        b"RIFF\x10\x00\x00\x00sfbkLIST garbage",
    )
    .expect("write");
    let out = render(&dir, &["--out", "b.wav", "--soundfont", "junk.sf2"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("not a usable SoundFont"), "{stderr}");
    assert!(!stderr.contains("panicked"));
}
