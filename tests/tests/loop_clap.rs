//! The Infini Loop plugin, built with `assert_process_allocs`, in a CLAP host: two minutes of
//! audio with the host's transport at 120 BPM, clips from a folder (one pure tone each, so
//! every clip can be told apart), one repeat per clip so it moves on often. Checked: no click
//! at seams or transitions, never silent once playing, transitions on bar lines, several
//! transitions, and nothing allocated in `process()`.

use integration_tests::clap_host::{
    run_session, BlockSpec, HostMeter, Session, SessionResult, TransportSpec,
};
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

/// The plugin's saved state (framed as nice-plug saves it): clips from `dir`, `repeats` each,
/// clip crossfades of `xfade` seconds, playing with the host's transport.
fn folder_state(dir: &Path, repeats: i32, xfade: f32) -> Vec<u8> {
    let sources =
        serde_json::json!({"prompt": "", "folder": dir.display().to_string(), "musicgpt": ""})
            .to_string();
    let state = serde_json::json!({
        "version": "0.1.0",
        "params": {"source": {"string": "folder"}, "repeats": {"i32": repeats}, "xfade": {"f32": xfade}, "seam": {"f32": 10.0}, "trigger": {"string": "transport"}},
        "fields": {"sources": sources},
    })
    .to_string();
    let mut framed = (state.len() as u64).to_le_bytes().to_vec();
    framed.extend_from_slice(state.as_bytes());
    framed
}

/// A session of the plugin at 48 kHz stereo with `state`, at most 6 times real time (the clip
/// worker gets wall-clock time, as in a host).
fn session<'a>(lib: &'a Path, state: &'a [u8]) -> Session<'a> {
    Session {
        library: lib,
        plugin_id: "com.infinite-jazz.infini-loop",
        sample_rate: RATE,
        output_channels: 2,
        state: Some(state),
        settle: Duration::from_secs(3),
        pace: Some(6.0),
        input: &[],
    }
}

/// One output channel of the whole session.
fn channel(result: &SessionResult, c: usize) -> Vec<f32> {
    result
        .blocks
        .iter()
        .flat_map(|b| b.audio[c].iter().copied())
        .collect()
}

/// Every 50 ms window from a bar after `first` has sound.
fn assert_never_silent(left: &[f32], first: usize, floor: f64) {
    let window = (0.05 * RATE) as usize;
    for (w, chunk) in left[first + BAR..].chunks(window).enumerate() {
        let rms =
            (chunk.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / chunk.len() as f64).sqrt();
        assert!(rms > floor, "silent window {w} (rms {rms})");
    }
}

/// Where the largest step from one sample to the next is, and its size.
fn largest_step(x: &[f32]) -> (usize, f32) {
    x.windows(2)
        .enumerate()
        .fold((0, 0.0f32), |(i, m), (j, w)| {
            let step = (w[1] - w[0]).abs();
            if step > m {
                (j, step)
            } else {
                (i, m)
            }
        })
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
    let state = folder_state(&dir, 1, 0.5);
    let session = session(&lib, &state);
    let block = 480u32;
    let total_blocks = (120.0 * RATE) as usize / block as usize;
    let blocks = BlockSpec::at_120_bpm(total_blocks, block, RATE, false);
    let result = run_session(&session, &blocks);
    assert_eq!(result.state_loaded, Some(true));
    let left = channel(&result, 0);
    assert_eq!(
        left,
        channel(&result, 1),
        "a mono clip plays on both channels"
    );
    let first = left
        .iter()
        .position(|s| s.abs() > 1e-3)
        .expect("the plugin plays");
    assert!(first < 4 * BAR, "music starts within two bars ({first})");

    // Never silent once playing: every 50 ms window has sound.
    assert_never_silent(&left, first, 0.01);

    // No clicks: no sample step larger than the tones' own largest steps can make. The highest
    // tone at full scale steps by 2π·1760/48000 per sample; an equal-power crossfade of two
    // tones can reach √2 times that.
    let (at, max_step) = largest_step(&left);
    let peak = left.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    let bound = peak * (std::f32::consts::TAU * 1760.0 / RATE as f32) * std::f32::consts::SQRT_2;
    assert!(
        max_step <= bound * 1.05,
        "largest step {max_step} vs bound {bound} at sample {at} ({} after a bar line): {:?}",
        at % BAR,
        &left[at.saturating_sub(6)..at + 6]
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
            "a transition starts {after_bar} samples after a bar line ({t}); all: {transitions:?}"
        );
    }
}

/// A clip of one tone struck on every beat at `bpm` (a 2 ms attack, then a decay to a
/// quarter of the level: never silent), 10 s long.
fn write_struck_tone(path: &Path, freq: f64, bpm: f64) {
    let beat = 60.0 / bpm;
    let samples = (0..(10 * CLIP_RATE)).map(|i| {
        let t = f64::from(i) / f64::from(CLIP_RATE);
        let since = t % beat;
        let level = if since < 0.002 {
            0.25 + 0.75 * since / 0.002
        } else {
            0.25 + 0.75 * (-(since - 0.002) * 25.0).exp()
        };
        (0.45 * level * (std::f64::consts::TAU * freq * t).sin()) as f32
    });
    integration_tests::write_mono_wav(path, CLIP_RATE, samples);
}

/// Where the level rises fastest within ±25 ms of `at` (1 ms steps of the RMS envelope).
fn attack_near(x: &[f32], at: usize) -> Option<usize> {
    let step = (0.001 * RATE) as usize;
    let reach = (0.025 * RATE) as usize;
    let rms = |from: usize| {
        let w = x.get(from..from + step)?;
        Some((w.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / step as f64).sqrt())
    };
    let mut best: Option<(f64, usize)> = None;
    let mut p = at.checked_sub(reach)?;
    while p <= at + reach {
        let rise = rms(p)? - rms(p.checked_sub(step)?)?;
        if best.is_none_or(|(r, _)| rise > r) {
            best = Some((rise, p));
        }
        p += 1;
    }
    best.map(|(_, p)| p)
}

/// Sync = Stretch (the default): clips at 97, 140 and 108 BPM from a folder, the host at
/// 120 BPM for two minutes, then 132 BPM, then a jump back to bar 5. Every beat the loops
/// strike lands on the host's beat (the loops are stretched to whole bars of its tempo and
/// restarted on its bar lines) except for the few bars the new tempo takes to be prepared;
/// no click, never silent, nothing allocated in `process()`.
#[test]
fn loops_of_other_tempi_play_on_the_host_grid_across_a_tempo_change_and_a_jump() {
    let lib = plugin_library("infini-loop", &["assert_process_allocs"]);
    let dir = scratch_dir("loop_clap_sync");
    for (i, (f, bpm)) in [(220.0, 97.0), (440.0, 140.0), (880.0, 108.0)]
        .iter()
        .enumerate()
    {
        write_struck_tone(&dir.join(format!("{i}-struck.wav")), *f, *bpm);
    }
    let state = folder_state(&dir, 2, 0.3);
    let session = session(&lib, &state);
    let block = 480u32;
    // (seconds, tempo, beat the part starts at)
    let parts = [
        (120.0, 120.0, 0.0),
        (45.0, 132.0, 240.0),
        (45.0, 132.0, 16.0),
    ];
    let mut blocks = Vec::new();
    // Each sample's host beat, and where each part starts (in samples).
    let mut beat_of_sample: Vec<f64> = Vec::new();
    let mut part_starts = Vec::new();
    for (seconds, tempo, from) in parts {
        part_starts.push(beat_of_sample.len());
        let per_sample = tempo / 60.0 / RATE;
        let count = (seconds * RATE) as usize / block as usize;
        for b in 0..count {
            let beat = from + (b * block as usize) as f64 * per_sample;
            blocks.push(BlockSpec {
                samples: block,
                transport: Some(TransportSpec {
                    playing: true,
                    beat,
                    tempo,
                    meter: HostMeter::COMMON,
                }),
            });
            beat_of_sample.extend((0..block as usize).map(|i| beat + i as f64 * per_sample));
        }
    }
    let result = run_session(&session, &blocks);
    assert_eq!(result.state_loaded, Some(true));
    let left = channel(&result, 0);
    let first = left
        .iter()
        .position(|s| s.abs() > 1e-3)
        .expect("the plugin plays");
    // The first loop waits for the host's first block to know its tempo, then is stretched.
    assert!(first < 4 * BAR, "music starts within four bars ({first})");
    assert_never_silent(&left, first, 0.005);
    // No click: no step larger than the highest tone can make (a crossfade: √2 times), with
    // room for the 2 ms attacks.
    let (at, max_step) = largest_step(&left);
    let peak = left.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    let bound = peak * (std::f32::consts::TAU * 880.0 / RATE as f32) * std::f32::consts::SQRT_2;
    let around: Vec<f32> = left[at.saturating_sub(8)..(at + 8).min(left.len())].to_vec();
    assert!(
        max_step <= bound * 1.1,
        "largest step {max_step} vs bound {bound} at sample {at} (beat {:.4}): {around:?}",
        beat_of_sample[at]
    );

    // Every host beat, from the second bar on, carries the loops' stroke within 12 ms (at its
    // own tempo a 97 BPM clip is 119 ms off by its second beat). Left out: the first twelve
    // bars at 132 BPM (22 s of audio, under 4 s of wall time at 6× real time), while the
    // worker prepares the loops for it; measured under load, renditions took up to eight. One
    // beat in fifty may miss: a clip transition overlaps two clips' strokes.
    let settle_after_change = part_starts[1] + (12.0 * 4.0 * 60.0 / 132.0 * RATE) as usize;
    let mut checked = 0;
    let mut late = Vec::new();
    for n in (first + BAR)..beat_of_sample.len().saturating_sub(BAR) {
        let on_beat = beat_of_sample[n].floor() != beat_of_sample[n - 1].floor();
        if !on_beat || (part_starts[1]..settle_after_change).contains(&n) {
            continue;
        }
        let Some(attack) = attack_near(&left, n) else {
            continue;
        };
        checked += 1;
        let off_ms = (attack as f64 - n as f64) / RATE * 1000.0;
        if off_ms.abs() > 12.0 {
            late.push(format!("beat {:.2}: {off_ms:+.1} ms", beat_of_sample[n]));
        }
    }
    assert!(checked > 300, "{checked} beats checked");
    assert!(
        late.len() * 50 <= checked,
        "{} of {checked} beats off the host's grid: {:?}",
        late.len(),
        &late[..late.len().min(20)]
    );
}
