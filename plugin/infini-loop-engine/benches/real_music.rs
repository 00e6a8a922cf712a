//! The loop search on real music: clips cut like MusicGen's output (32 kHz mono, 15 and 30 s)
//! from game soundtracks and tracker modules that Debian packages ship (`cargo xtask
//! real-music` fetches them into `target/real-music/sources`), each loop judged by a seam
//! measure computed here from the audio alone, sharing no code with the search.
//!
//! `cargo bench -p infini-loop-engine --bench real_music`

use infini_loop_engine::analysis::{analyze, AnalysisOptions};
use infini_loop_engine::clip::Clip;
use infini_loop_engine::decode::decode_file;
use infini_loop_engine::prepare::resample;
use rustfft::{num_complex::Complex32, FftPlanner};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

const RATE: u32 = 32_000;
/// Window of the seam measure: 64 ms.
const WINDOW: usize = 2048;

/// What a listener hears across the jump from `end` back to `start`, against what the music
/// would have played there: (spectrum distance in dB, level difference in dB, waveform
/// residual in dB relative to the music) over the first 64 ms after the jump.
fn seam(x: &[f32], start: usize, end: usize) -> (f64, f64, f64) {
    if end + WINDOW > x.len() || start + WINDOW > x.len() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let heard = &x[start..start + WINDOW];
    let expected = &x[end..end + WINDOW];
    let spectrum = |w: &[f32]| {
        let mut buf: Vec<Complex32> = w
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let hann = 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / WINDOW as f32).cos();
                Complex32::new(s * hann, 0.0)
            })
            .collect();
        FftPlanner::new().plan_fft_forward(WINDOW).process(&mut buf);
        buf[..WINDOW / 2]
            .iter()
            .map(|c| c.norm())
            .collect::<Vec<f32>>()
    };
    let (a, b) = (spectrum(heard), spectrum(expected));
    // Bins from 60 Hz to 8 kHz, level differences of the louder bins only (within 40 dB of
    // the loudest), where a change can be heard.
    let bin = |hz: f64| (hz * WINDOW as f64 / f64::from(RATE)) as usize;
    let peak = a.iter().chain(&b).fold(0.0f32, |m, v| m.max(*v)).max(1e-9);
    let floor = peak * 0.01;
    let mut sum = 0.0;
    let mut count = 0;
    for k in bin(60.0)..bin(8000.0) {
        if a[k] < floor && b[k] < floor {
            continue;
        }
        let d = 20.0 * f64::from(a[k].max(floor * 0.1) / b[k].max(floor * 0.1)).log10();
        sum += d * d;
        count += 1;
    }
    let spectral = if count > 0 {
        (sum / count as f64).sqrt()
    } else {
        0.0
    };
    let rms =
        |w: &[f32]| (w.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / w.len() as f64).sqrt();
    let level = 20.0 * (rms(heard).max(1e-9) / rms(expected).max(1e-9)).log10();
    let residual: Vec<f32> = heard[..256]
        .iter()
        .zip(&expected[..256])
        .map(|(h, e)| h - e)
        .collect();
    let waveform = 20.0 * (rms(&residual).max(1e-9) / rms(&expected[..256]).max(1e-9)).log10();
    (spectral, level, waveform)
}

fn main() {
    let dir = std::env::var_os("REAL_MUSIC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/real-music/sources")
        });
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!(
            "no real music in {}: run `cargo xtask real-music` first",
            dir.display()
        );
        std::process::exit(1);
    };
    let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    println!(
        "| clip | tempo | loop | bars | share of clip | spectrum | level | waveform | analysis |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for file in files {
        let name = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let decoded = match decode_file(&file) {
            Ok(c) => c,
            Err(e) => {
                println!("| {name} | cannot decode: {e} |");
                continue;
            }
        };
        let mono = Clip {
            sample_rate: decoded.sample_rate,
            channels: vec![decoded.mono()],
        };
        let Ok(low) = resample(&mono, RATE, &AtomicBool::new(false)) else {
            println!("| {name} | cannot resample |");
            continue;
        };
        let x = &low.channels[0];
        for secs in [15usize, 30] {
            // Cut from 10 s in when the piece is long enough (past an intro), else from 0.
            let len = secs * RATE as usize;
            let from = if x.len() >= 10 * RATE as usize + len {
                10 * RATE as usize
            } else {
                0
            };
            let to = (from + len).min(x.len());
            if to - from < 5 * RATE as usize || (secs == 30 && to - from < len) {
                continue;
            }
            let clip = Clip {
                sample_rate: RATE,
                channels: vec![x[from..to].to_vec()],
            };
            let started = Instant::now();
            let report = analyze(&clip, &AnalysisOptions::default());
            let took = started.elapsed();
            let label = format!("{name} ({:.0} s)", (to - from) as f64 / f64::from(RATE));
            match report {
                Ok(report) => match report.best() {
                    Some(best) => {
                        let seconds = (best.end - best.start) as f64 / f64::from(RATE);
                        let bars = report.bpm.map(|bpm| seconds * bpm / 60.0 / 4.0);
                        let (spectral, level, waveform) =
                            seam(&clip.channels[0], best.start, best.end);
                        println!(
                            "| {label} | {} | {seconds:.2} s | {} | {:.0} % | {spectral:.1} dB | {level:+.1} dB | {waveform:.1} dB | {} ms |",
                            report.bpm.map_or("–".into(), |b| format!("{b:.1}")),
                            bars.map_or("–".into(), |b| format!("{b:.2}")),
                            100.0 * seconds * f64::from(RATE) / clip.frames() as f64,
                            took.as_millis()
                        );
                    }
                    None => println!("| {label} | no loop |"),
                },
                Err(e) => println!("| {label} | {e} |"),
            }
        }
    }
}
