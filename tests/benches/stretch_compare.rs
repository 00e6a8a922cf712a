//! Signalsmith Stretch (our `stretch` module) against Rubber Band (`rubberband`, the command
//! line tool, its default R3 engine) on real music with drums: how sharp the attacks stay and
//! how much smear comes before them, and the time taken.
//!
//! `cargo xtask real-music && apt-get install rubberband-cli &&
//! cargo bench -p integration-tests --bench stretch_compare`

use infini_loop_engine::clip::Clip;
use infini_loop_engine::stretch::stretch_to_frames;
use integration_tests::real_music::{clips_or_exit, RATE};
use std::process::Command;
use std::time::Instant;

/// RMS over `len` samples from `at` (0 past the ends).
fn rms(x: &[f32], at: usize, len: usize) -> f64 {
    let Some(w) = x.get(at..at + len) else {
        return 0.0;
    };
    (w.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / len as f64).sqrt()
}

const MS: usize = (RATE / 1000) as usize;

/// The strongest attacks: where the level of the next 5 ms is at least 2.5 times that of the
/// 5 ms before, at most one per 100 ms, strongest 40.
fn attacks(x: &[f32]) -> Vec<usize> {
    let mut found: Vec<(f64, usize)> = (25 * MS..x.len().saturating_sub(25 * MS))
        .step_by(MS / 4)
        .filter_map(|p| {
            let rise = rms(x, p, 5 * MS) / rms(x, p - 5 * MS, 5 * MS).max(1e-9);
            (rise >= 2.5).then_some((rise, p))
        })
        .collect();
    found.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut kept: Vec<usize> = Vec::new();
    for (_, p) in found {
        if kept.iter().all(|k| k.abs_diff(p) > 100 * MS) {
            kept.push(p);
        }
        if kept.len() == 40 {
            break;
        }
    }
    kept
}

/// At each attack (placed at `ratio` times its time in the original): the sharpest rise within
/// ±15 ms (level of 5 ms after over 5 ms before, dB), and the smear before it (the 5–20 ms
/// before the attack against its first 15 ms, dB). Medians.
fn attack_figures(x: &[f32], at: &[usize], ratio: f64) -> (f64, f64) {
    let mut sharp = Vec::new();
    let mut smear = Vec::new();
    for &a in at {
        let centre = (a as f64 * ratio) as usize;
        let Some(best) = (centre.saturating_sub(15 * MS)..centre + 15 * MS)
            .step_by(MS / 8)
            .filter(|p| *p >= 20 * MS)
            .max_by(|p, q| {
                let r = |p: usize| rms(x, p, 5 * MS) / rms(x, p - 5 * MS, 5 * MS).max(1e-9);
                r(*p).total_cmp(&r(*q))
            })
        else {
            continue;
        };
        let db = |v: f64| 20.0 * v.max(1e-9).log10();
        sharp.push(db(
            rms(x, best, 5 * MS) / rms(x, best - 5 * MS, 5 * MS).max(1e-9)
        ));
        smear.push(db(
            rms(x, best - 20 * MS, 15 * MS) / rms(x, best, 15 * MS).max(1e-9)
        ));
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    (median(sharp), median(smear))
}

fn rubber_band(x: &[f32], ratio: f64) -> Result<Vec<f32>, String> {
    let dir = std::env::temp_dir().join(format!("stretch-compare-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let (input, output) = (dir.join("in.wav"), dir.join("out.wav"));
    integration_tests::write_mono_wav(&input, RATE, x.iter().copied());
    let status = Command::new("rubberband")
        .arg("-q")
        .arg("-t")
        .arg(format!("{ratio}"))
        .arg(&input)
        .arg(&output)
        .status()
        .map_err(|e| format!("rubberband: {e} (apt-get install rubberband-cli)"))?;
    if !status.success() {
        return Err(format!("rubberband failed: {status}"));
    }
    let mut reader = hound::WavReader::open(&output).map_err(|e| e.to_string())?;
    let spec = reader.spec();
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().flatten().collect(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader
                .samples::<i32>()
                .flatten()
                .map(|s| s as f32 * scale)
                .collect()
        }
    };
    let _ = std::fs::remove_dir_all(&dir);
    Ok(samples)
}

fn main() {
    let clips = clips_or_exit();
    println!("| clip | ratio | original: attack / smear | Signalsmith: attack / smear / time | Rubber Band: attack / smear / time |");
    println!("| --- | --- | --- | --- | --- |");
    for real in clips.iter().filter(|c| {
        [
            "funny-boat (15 s)",
            "pingus-1 (15 s)",
            "goin-march (15 s)",
            "gd-myla (15 s)",
        ]
        .contains(&c.label.as_str())
    }) {
        let x = &real.clip.channels[0];
        let at = attacks(x);
        let (sharp, smear) = attack_figures(x, &at, 1.0);
        for ratio in [0.81, 1.24] {
            let frames = (x.len() as f64 * ratio).round() as usize;
            let started = Instant::now();
            let ours = stretch_to_frames(
                &Clip {
                    sample_rate: RATE,
                    channels: vec![x.clone()],
                },
                frames,
            );
            let ours_time = started.elapsed();
            let started = Instant::now();
            let theirs = rubber_band(x, ratio);
            let theirs_time = started.elapsed();
            let ours = match ours {
                Ok(c) => {
                    let (a, s) = attack_figures(&c.channels[0], &at, ratio);
                    format!("{a:.1} / {s:.1} dB / {} ms", ours_time.as_millis())
                }
                Err(e) => e.to_string(),
            };
            let theirs = match theirs {
                Ok(y) => {
                    let (a, s) = attack_figures(&y, &at, ratio);
                    format!(
                        "{a:.1} / {s:.1} dB / {} ms (a process)",
                        theirs_time.as_millis()
                    )
                }
                Err(e) => e,
            };
            println!(
                "| {} | ×{ratio} | {sharp:.1} / {smear:.1} dB | {ours} | {theirs} |",
                real.label
            );
        }
    }
}
