//! The Infini Loop plugin, built with `assert_process_allocs`, in a CLAP host: two minutes of
//! audio with the host's transport at 120 BPM, clips from a folder (one pure tone each, so
//! every clip can be told apart), one repeat per clip so it moves on often. Checked: no click
//! at seams or transitions, never silent once playing, transitions on bar lines, several
//! transitions, and nothing allocated in `process()`.

use integration_tests::clap_host::{run_session, BlockSpec, Session};
use integration_tests::{plugin_library, scratch_dir};
use std::path::Path;
use std::time::Duration;

const RATE: f64 = 48_000.0;
const CLIP_RATE: u32 = 32_000;
/// 120 BPM: a bar of 4/4 is 2 s.
const BAR: usize = 96_000;
/// An octave apart, so a short analysis window tells them apart.
const TONES: [f64; 4] = [220.0, 440.0, 880.0, 1760.0];

/// A clip of one tone with a smooth pulse on each beat, repeating every bar (2 s).
fn write_tone(path: &Path, freq: f64) {
    let samples = (0..(8 * CLIP_RATE)).map(|i| {
        let t = f64::from(i) / f64::from(CLIP_RATE);
        let pulse = 0.65 + 0.35 * (std::f64::consts::TAU * t * 2.0).cos();
        (0.4 * pulse * (std::f64::consts::TAU * freq * t).sin()) as f32
    });
    integration_tests::write_mono_wav(path, CLIP_RATE, samples);
}

/// Goertzel power of `freq` in `x`, Hann-windowed so neighbouring tones do not leak in.
fn power(x: &[f32], freq: f64) -> f64 {
    let k = 2.0 * (std::f64::consts::TAU * freq / RATE).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    let n = x.len() as f64;
    for (i, v) in x.iter().enumerate() {
        let w = 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n).cos();
        let s = f64::from(*v) * w + k * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    (s1 * s1 + s2 * s2 - k * s1 * s2) / (x.len() as f64).powi(2)
}

#[test]
fn two_minutes_of_seamless_loops_in_time_with_the_host() {
    let lib = plugin_library("infini-loop", &["assert_process_allocs"]);
    let dir = scratch_dir("loop_clap_clips");
    for (i, f) in TONES.iter().enumerate() {
        write_tone(&dir.join(format!("{i}-tone.wav")), *f);
    }
    let sources =
        serde_json::json!({"prompt": "", "folder": dir.display().to_string(), "musicgpt": ""})
            .to_string();
    let state = serde_json::json!({
        "version": "0.1.0",
        "params": {"source": {"string": "folder"}, "repeats": {"i32": 1}, "xfade": {"f32": 0.5}, "seam": {"f32": 10.0}, "trigger": {"string": "transport"}},
        "fields": {"sources": sources},
    })
    .to_string();
    let mut framed = (state.len() as u64).to_le_bytes().to_vec();
    framed.extend_from_slice(state.as_bytes());
    let session = Session {
        library: &lib,
        plugin_id: "com.infinite-jazz.infini-loop",
        sample_rate: RATE,
        output_channels: 2,
        state: Some(&framed),
        settle: Duration::from_secs(3),
        pace: Some(6.0),
        input: &[],
    };
    let block = 480u32;
    let total_blocks = (120.0 * RATE) as usize / block as usize;
    let blocks = BlockSpec::at_120_bpm(total_blocks, block, RATE, false);
    let result = run_session(&session, &blocks);
    assert_eq!(result.state_loaded, Some(true));
    let left: Vec<f32> = result
        .blocks
        .iter()
        .flat_map(|b| b.audio[0].iter().copied())
        .collect();
    let right: Vec<f32> = result
        .blocks
        .iter()
        .flat_map(|b| b.audio[1].iter().copied())
        .collect();
    assert_eq!(left, right, "a mono clip plays on both channels");
    let first = left
        .iter()
        .position(|s| s.abs() > 1e-3)
        .expect("the plugin plays");
    assert!(first < 4 * BAR, "music starts within two bars ({first})");

    // Never silent once playing: every 50 ms window has sound.
    let window = (0.05 * RATE) as usize;
    for (w, chunk) in left[first + BAR..].chunks(window).enumerate() {
        let rms =
            (chunk.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / chunk.len() as f64).sqrt();
        assert!(rms > 0.01, "silent window {w} (rms {rms})");
    }

    // No clicks: no sample step larger than the tones' own largest steps can make. The highest
    // tone at full scale steps by 2π·1760/48000 per sample; an equal-power crossfade of two
    // tones can reach √2 times that.
    let max_step = left
        .windows(2)
        .fold(0.0f32, |m, w| m.max((w[1] - w[0]).abs()));
    let peak = left.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    let bound = peak * (std::f32::consts::TAU * 1760.0 / RATE as f32) * std::f32::consts::SQRT_2;
    assert!(
        max_step <= bound * 1.05,
        "largest step {max_step} vs bound {bound}"
    );

    // Transitions: where each tone appears (power rises from nothing), on bar lines.
    let win = (0.02 * RATE) as usize;
    let powers: Vec<[f64; 4]> = left
        .chunks(win)
        .map(|c| {
            [
                power(c, TONES[0]),
                power(c, TONES[1]),
                power(c, TONES[2]),
                power(c, TONES[3]),
            ]
        })
        .collect();
    let full: Vec<f64> = (0..4)
        .map(|k| powers.iter().map(|p| p[k]).fold(0.0, f64::max))
        .collect();
    let mut starts = Vec::new();
    for k in 0..4 {
        for w in 1..powers.len() {
            let before = powers[w - 1][k] / full[k];
            let now = powers[w][k] / full[k];
            if before < 1e-4 && now >= 1e-4 {
                starts.push(w * win);
            }
        }
    }
    starts.sort();
    let transitions: Vec<usize> = starts.into_iter().filter(|s| *s > first + win).collect();
    assert!(
        transitions.len() >= 3,
        "several transitions in two minutes: {transitions:?}"
    );
    for t in &transitions {
        let after_bar = t % BAR;
        assert!(
            after_bar <= 2 * win,
            "a transition starts {after_bar} samples after a bar line ({t})"
        );
    }
}
