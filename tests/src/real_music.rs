//! The real-music set Infini Loop is judged on: clips cut like MusicGen's output (32 kHz
//! mono, 15 and 30 s) from the recordings `cargo xtask real-music` fetches into
//! `target/real-music/sources`, and a seam measure of our own that shares no code with the
//! loop search, so that a test cannot agree with the search only because it reuses it.

use infini_loop_engine::clip::Clip;
use infini_loop_engine::decode::decode_file;
use infini_loop_engine::prepare::resample;
use rustfft::{num_complex::Complex32, FftPlanner};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// MusicGen's output rate.
pub const RATE: u32 = 32_000;
/// Window of the seam measure: 64 ms.
pub const WINDOW: usize = 2048;
/// A seam whose spectrum after the jump differs from what the music would have played by at
/// most this (RMS over the audible bins) cannot be told from the music going on.
pub const INAUDIBLE_SPECTRUM_DB: f64 = 4.0;
/// Nor can a level step of at most this.
pub const INAUDIBLE_LEVEL_DB: f64 = 1.0;

/// Where the recordings are: `REAL_MUSIC_DIR`, or `target/real-music/sources`.
pub fn sources_dir() -> PathBuf {
    std::env::var_os("REAL_MUSIC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::target_dir().join("real-music").join("sources"))
}

/// The set for a bench: its clips, or the reason on stderr and exit status 1.
pub fn clips_or_exit() -> Vec<RealClip> {
    clips(&sources_dir()).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1);
    })
}

/// One clip of the set.
pub struct RealClip {
    /// The piece and the clip's length, e.g. "pingus-1 (15 s)".
    pub label: String,
    /// Mono at [`RATE`].
    pub clip: Clip,
}

/// Every piece in `dir` cut into a 15 s and (when long enough) a 30 s clip, from 10 s in
/// (past an intro) when the piece is long enough, else from its start.
pub fn clips(dir: &Path) -> Result<Vec<RealClip>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "no real music in {} ({e}): run `cargo xtask real-music` first",
            dir.display()
        )
    })?;
    let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let name = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let decoded = decode_file(&file).map_err(|e| format!("{name}: {e}"))?;
        let mono = Clip {
            sample_rate: decoded.sample_rate,
            channels: vec![decoded.mono()],
        };
        let low =
            resample(&mono, RATE, &AtomicBool::new(false)).map_err(|e| format!("{name}: {e}"))?;
        let x = &low.channels[0];
        let second = RATE as usize;
        for secs in [15usize, 30] {
            let len = secs * second;
            let from = if x.len() >= 10 * second + len {
                10 * second
            } else {
                0
            };
            let to = (from + len).min(x.len());
            if to - from < 5 * second || (secs == 30 && to - from < len) {
                continue;
            }
            out.push(RealClip {
                label: format!("{name} ({:.0} s)", (to - from) as f64 / f64::from(RATE)),
                clip: Clip {
                    sample_rate: RATE,
                    channels: vec![x[from..to].to_vec()],
                },
            });
        }
    }
    if out.is_empty() {
        return Err(format!("no audio in {}", dir.display()));
    }
    Ok(out)
}

/// What a listener hears across a jump, against what the music would have played there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeamMeasure {
    /// RMS level difference, in dB, of the spectrum bins (60 Hz–8 kHz, within 40 dB of the
    /// loudest) of the 64 ms after the jump.
    pub spectrum_db: f64,
    /// The same distance for the 64 ms before the points: what led to the jump against what
    /// leads to the music after it.
    pub before_db: f64,
    /// Level of the 64 ms after the jump against what would have played, in dB.
    pub level_db: f64,
    /// The waveform's difference over the first 8 ms, relative to the music, in dB.
    pub waveform_db: f64,
}

impl SeamMeasure {
    /// Whether the jump passes for the music going on.
    pub fn inaudible(&self) -> bool {
        self.spectrum_db.max(self.before_db) <= INAUDIBLE_SPECTRUM_DB
            && self.level_db.abs() <= INAUDIBLE_LEVEL_DB
    }
}

/// Magnitude spectra of 64 ms windows, computed with one FFT plan.
pub struct SeamMeter {
    fft: std::sync::Arc<dyn rustfft::Fft<f32>>,
    window: Vec<f32>,
}

impl Default for SeamMeter {
    fn default() -> Self {
        SeamMeter {
            fft: FftPlanner::new().plan_fft_forward(WINDOW),
            window: (0..WINDOW)
                .map(|i| 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / WINDOW as f32).cos())
                .collect(),
        }
    }
}

impl SeamMeter {
    /// The magnitude spectrum of the window starting at `at` (`None` past the end).
    pub fn spectrum(&self, x: &[f32], at: usize) -> Option<Vec<f32>> {
        let w = x.get(at..at + WINDOW)?;
        let mut buf: Vec<Complex32> = w
            .iter()
            .zip(&self.window)
            .map(|(s, h)| Complex32::new(s * h, 0.0))
            .collect();
        self.fft.process(&mut buf);
        Some(buf[..WINDOW / 2].iter().map(|c| c.norm()).collect())
    }

    /// The jump from `end` back to `start` in `x`, measured.
    pub fn seam(&self, x: &[f32], start: usize, end: usize) -> Option<SeamMeasure> {
        let (heard, expected) = (self.spectrum(x, start)?, self.spectrum(x, end)?);
        let led = self.spectrum(x, start.checked_sub(WINDOW)?)?;
        let leading = self.spectrum(x, end.checked_sub(WINDOW)?)?;
        Some(measure(
            [&heard, &expected, &led, &leading],
            &x[start..start + WINDOW],
            &x[end..end + WINDOW],
        ))
    }
}

/// RMS level difference in dB of the spectrum bins from 60 Hz to 8 kHz within 40 dB of the
/// louder spectrum's peak.
fn spectrum_distance(a: &[f32], b: &[f32]) -> f64 {
    let bin = |hz: f64| (hz * WINDOW as f64 / f64::from(RATE)) as usize;
    let peak = a.iter().chain(b).fold(0.0f32, |m, v| m.max(*v)).max(1e-9);
    let floor = peak * 0.01;
    let (mut sum, mut count) = (0.0, 0);
    for k in bin(60.0)..bin(8000.0) {
        if a[k] < floor && b[k] < floor {
            continue;
        }
        let d = 20.0 * f64::from(a[k].max(floor * 0.1) / b[k].max(floor * 0.1)).log10();
        sum += d * d;
        count += 1;
    }
    if count > 0 {
        (sum / count as f64).sqrt()
    } else {
        0.0
    }
}

/// The seam measure from the spectra of the windows after the start and the end and before
/// them (`[heard, expected, led, leading]`), and the samples after both points.
pub fn measure(spectra: [&[f32]; 4], heard_x: &[f32], expected_x: &[f32]) -> SeamMeasure {
    let [heard, expected, led, leading] = spectra;
    let spectrum_db = spectrum_distance(heard, expected);
    let before_db = spectrum_distance(led, leading);
    let rms =
        |w: &[f32]| (w.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / w.len() as f64).sqrt();
    let level_db = 20.0 * (rms(heard_x).max(1e-9) / rms(expected_x).max(1e-9)).log10();
    let residual: Vec<f32> = heard_x[..256]
        .iter()
        .zip(&expected_x[..256])
        .map(|(h, e)| h - e)
        .collect();
    let waveform_db = 20.0 * (rms(&residual).max(1e-9) / rms(&expected_x[..256]).max(1e-9)).log10();
    SeamMeasure {
        spectrum_db,
        before_db,
        level_db,
        waveform_db,
    }
}

/// A loop found by trying every start on the beat grid and every length of whole bars (at the
/// tempo or twice it), with the end within ±8 ms of the grid.
#[derive(Debug, Clone, Copy)]
pub struct GridLoop {
    pub start: usize,
    pub end: usize,
    pub seam: SeamMeasure,
}

/// Every loop of at least `min_beats` beats (in steps of `step_beats`) on the grid of `bpm`
/// from `offset`: the one with the best seam, and the longest inaudible one.
pub fn grid_search(
    x: &[f32],
    bpm: f64,
    offset: usize,
    min_beats: usize,
    step_beats: usize,
) -> (Option<GridLoop>, Option<GridLoop>) {
    let meter = SeamMeter::default();
    let beat = 60.0 / bpm * f64::from(RATE);
    let mut cache: std::collections::HashMap<usize, Vec<f32>> = std::collections::HashMap::new();
    let mut spectrum = |at: usize| -> Option<Vec<f32>> {
        if let Some(s) = cache.get(&at) {
            return Some(s.clone());
        }
        let s = meter.spectrum(x, at)?;
        cache.insert(at, s.clone());
        Some(s)
    };
    // Jumps in near silence are inaudible but say nothing: positions 30 dB under the clip's
    // loud windows (its 95th percentile) are left out.
    let level = |at: usize| {
        let w = &x[at..(at + WINDOW).min(x.len())];
        (w.iter().map(|s| s * s).sum::<f32>() / w.len().max(1) as f32).sqrt()
    };
    let mut levels: Vec<f32> = (0..x.len().saturating_sub(WINDOW))
        .step_by(WINDOW)
        .map(level)
        .collect();
    levels.sort_by(f32::total_cmp);
    let loud = levels.get(levels.len() * 95 / 100).copied().unwrap_or(0.0);
    let sounding = |at: usize| level(at) > 0.03 * loud;
    let (mut best, mut longest): (Option<GridLoop>, Option<GridLoop>) = (None, None);
    let margin = 3200;
    let mut k = 0usize;
    loop {
        let start = (offset as f64 + k as f64 * beat).round() as usize;
        k += 1;
        if start + WINDOW >= x.len() {
            break;
        }
        if start < margin || !sounding(start) {
            continue;
        }
        let Some(heard) = spectrum(start) else { break };
        let Some(led) = spectrum(start - WINDOW) else {
            continue;
        };
        let mut beats = min_beats.max(1);
        loop {
            let centre = start + (beats as f64 * beat).round() as usize;
            if centre + 256 + WINDOW + margin > x.len() {
                break;
            }
            for shift in (-256i64..=256).step_by(32) {
                let end = (centre as i64 + shift) as usize;
                if !sounding(end) {
                    continue;
                }
                let (Some(expected), Some(leading)) = (spectrum(end), spectrum(end - WINDOW))
                else {
                    continue;
                };
                let seam = measure(
                    [&heard, &expected, &led, &leading],
                    &x[start..start + WINDOW],
                    &x[end..end + WINDOW],
                );
                let found = GridLoop { start, end, seam };
                let worse = |m: SeamMeasure| m.spectrum_db.max(m.before_db);
                if best.is_none_or(|b| worse(seam) < worse(b.seam)) {
                    best = Some(found);
                }
                if seam.inaudible() && longest.is_none_or(|l| end - start > l.end - l.start) {
                    longest = Some(found);
                }
            }
            beats += step_beats.max(1);
        }
    }
    (best, longest)
}
