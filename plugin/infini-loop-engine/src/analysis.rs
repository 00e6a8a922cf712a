//! Finding loop points that play without an audible seam.
//!
//! 1. **Features**: an STFT (2048-sample frames, hop 512) gives each frame 48 log-spaced band
//!    energies and an onset strength (spectral flux).
//! 2. **Tempo and beat phase**: the onset envelope's autocorrelation over 50–220 BPM, weighted
//!    towards common tempi, picks the beat period; the phase is the offset whose beats gather
//!    the most onset strength. A tempo the user gives replaces the estimate.
//! 3. **Loop lengths**: every whole number of 4/4 bars at that tempo, or at twice it when that
//!    is still a tempo music is played at (estimates are often an octave low), two bars at
//!    least when they fit; without a clear beat, the strongest periods of the features'
//!    self-similarity.
//! 4. **Frame-level search**: for every length and every start on a beat (downbeats
//!    preferred), how much the band levels around the end differ from those around the start,
//!    in dB: after the points (what the listener hears after the jump against what the music
//!    would have played) and before them (what led there).
//! 5. **Refinement** of the best few per length: the end is moved to the sample where the
//!    waveform around it best matches the waveform around the start (cross-correlation), both
//!    points are snapped to zero crossings of the same slope within 3 ms, and the seam is
//!    measured again at the sample level on the spectrum's bins, so that a changed note counts.
//! 6. **Choice**: the **longest** loop whose seam passes for the music going on (within
//!    3.5 dB), whole bars of the tempo heard before bars of twice it (they keep their beats
//!    when stretched to a host's bars); when none passes (music that never repeats itself),
//!    the least audible seam, or a longer one within 0.5 dB of it. A listener wants as much of
//!    the music as possible before it repeats.
//!
//! A start on a beat is moved onto the beat's attack (the frames place it up to a frame early),
//! the end with it, so that a loop's first downbeat is its first sound.
//!
//! Loops shorter than `min_seconds`, in silence or in a fade, or spanning nearly the whole
//! file are not considered, except that a clip too short for `min_seconds` loops by the whole
//! bar when at least one bar fits in it.

use crate::clip::Clip;
use rustfft::num_complex::Complex32;
use rustfft::FftPlanner;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};

/// Samples per analysis frame (the FFT size).
pub const FRAME: usize = 2048;
/// Samples between frames.
pub const HOP: usize = 512;
const BANDS: usize = 48;
/// Frames compared on each side of a seam.
const SEAM_FRAMES: usize = 6;
/// Samples on each side of a seam for the waveform match.
const WAVE_HALF: usize = 1024;
/// Clips shorter than this are not looped at all (a bar at 220 BPM is 1.1 s).
const SHORTEST_CLIP_SECONDS: f64 = 0.7;
/// The fastest tempo the estimate considers, in BPM.
const MAX_ESTIMATED_BPM: f64 = 220.0;
/// Snapping to zero crossings stays within this many seconds.
const SNAP_SECONDS: f64 = 0.003;
/// A seam whose spectra (after and before the jump, against what the music would have
/// played) differ by at most this, in dB, passes for the music going on; a margin under the
/// 4 dB a listener's ear allows, as other measures count bins a little differently.
const INAUDIBLE_DB: f64 = 3.5;
/// When no seam is that good, a longer loop may be this much worse than the best one.
const SLACK_DB: f64 = 0.5;
/// Loops refined at the sample level (the frame-level search's best).
const REFINED: usize = 96;
/// Frames either side of a length's end the frame-level search also tries.
const END_SLACK_FRAMES: usize = 2;
/// What a start off the downbeat costs in the ranking, in dB.
const OFF_DOWNBEAT_DB: f64 = 0.3;
/// Frame level (RMS) under which a clip counts as silent: -70 dBFS.
const SILENCE_RMS: f32 = 3.2e-4;
/// Natural-log band levels to dB (of power).
const DB_PER_NEPER: f64 = 4.342_944_8;

/// What to look for.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisOptions {
    /// The tempo, when known; estimated otherwise.
    pub bpm: Option<f64>,
    /// Shortest loop accepted, in seconds.
    pub min_seconds: f64,
    /// Candidates reported.
    pub top: usize,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        AnalysisOptions {
            bpm: None,
            min_seconds: 2.0,
            top: 5,
        }
    }
}

/// One loop, in frames of the analysed clip (end exclusive), with the evidence for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoopCandidate {
    /// First frame of the loop.
    pub start: usize,
    /// First frame after the loop: playback jumps from here back to `start`.
    pub end: usize,
    /// The combined score the candidates are ranked by (higher is better).
    pub score: f64,
    /// Feature similarity around the two points (0..1).
    pub spectral: f64,
    /// Normalised cross-correlation of the waveforms around the two points (-1..1).
    pub waveform: f64,
    /// Phase agreement of the dominant partials across the seam (-1..1).
    pub phase: f64,
    /// How close both points and the length are to the beat grid (0..1; 0.5 without tempo).
    pub beat: f64,
    /// The loop's length in beats, when the tempo is known.
    pub beats: Option<f64>,
    /// RMS of the jump's error relative to the music's RMS (0 = perfect).
    pub seam_error: f64,
    /// How much the band levels around the two points differ, in dB (0 = alike).
    pub seam_db: f64,
}

/// What the analysis found in a clip.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalysisReport {
    /// Rate of the clip analysed.
    pub sample_rate: u32,
    /// Its length in frames.
    pub frames: usize,
    /// Estimated (or given) tempo; `None` when the music has no clear beat.
    pub bpm: Option<f64>,
    /// Where the first beat falls, in frames.
    pub beat_offset: usize,
    /// How sure the tempo estimate is (0..1).
    pub tempo_confidence: f64,
    /// Best first.
    pub candidates: Vec<LoopCandidate>,
}

impl AnalysisReport {
    /// The best loop, if any was found.
    pub fn best(&self) -> Option<&LoopCandidate> {
        self.candidates.first()
    }
}

/// Why a clip has no loop.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum AnalysisError {
    /// Stopped on request (a newer clip or a shutdown).
    #[error("analysis cancelled")]
    Cancelled,
    /// Shorter than the shortest loop (its length in seconds).
    #[error("the clip is too short to loop ({0:.1} s)")]
    TooShort(f64),
    /// Nothing but silence.
    #[error("the clip is silent")]
    Silent,
    /// No loop at least this many seconds long plays without a seam.
    #[error("no loop of at least {0:.1} s fits in the music")]
    NoLoop(f64),
}

struct Features {
    bands: Vec<[f32; BANDS]>,
    onset: Vec<f32>,
    rms: Vec<f32>,
}

fn band_edges(sample_rate: u32) -> [usize; BANDS + 1] {
    // Log-spaced from 40 Hz to the Nyquist frequency (or 12 kHz).
    let nyquist = f64::from(sample_rate) / 2.0;
    let high = nyquist.min(12_000.0);
    let mut edges = [0usize; BANDS + 1];
    for (i, e) in edges.iter_mut().enumerate() {
        let f = 40.0 * (high / 40.0).powf(i as f64 / BANDS as f64);
        *e = ((f / nyquist) * (FRAME / 2) as f64).round() as usize;
    }
    for i in 1..=BANDS {
        if edges[i] <= edges[i - 1] {
            edges[i] = edges[i - 1] + 1;
        }
    }
    edges
}

fn features(x: &[f32], sample_rate: u32, cancel: &AtomicBool) -> Result<Features, AnalysisError> {
    let frames = if x.len() >= FRAME {
        (x.len() - FRAME) / HOP + 1
    } else {
        0
    };
    let fft = FftPlanner::<f32>::new().plan_fft_forward(FRAME);
    let window: Vec<f32> = (0..FRAME)
        .map(|i| 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / FRAME as f32).cos())
        .collect();
    let edges = band_edges(sample_rate);
    let mut buf = vec![Complex32::new(0.0, 0.0); FRAME];
    let mut scratch = vec![Complex32::new(0.0, 0.0); fft.get_inplace_scratch_len()];
    let mut bands = Vec::with_capacity(frames);
    let mut rms = Vec::with_capacity(frames);
    for f in 0..frames {
        if f % 512 == 0 {
            check(cancel)?;
        }
        let chunk = &x[f * HOP..f * HOP + FRAME];
        let mut energy = 0.0f32;
        for i in 0..FRAME {
            buf[i] = Complex32::new(chunk[i] * window[i], 0.0);
            energy += chunk[i] * chunk[i];
        }
        rms.push((energy / FRAME as f32).sqrt());
        fft.process_with_scratch(&mut buf, &mut scratch);
        let mut b = [0f32; BANDS];
        for (k, v) in b.iter_mut().enumerate() {
            let (lo, hi) = (edges[k], edges[k + 1].min(FRAME / 2));
            let sum: f32 = buf[lo..hi.max(lo + 1)].iter().map(|c| c.norm_sqr()).sum();
            *v = (1.0 + sum).ln();
        }
        bands.push(b);
    }
    let mut onset = vec![0f32; frames];
    for f in 1..frames {
        onset[f] = bands[f]
            .iter()
            .zip(&bands[f - 1])
            .map(|(a, b)| (a - b).max(0.0))
            .sum();
    }
    Ok(Features { bands, onset, rms })
}

fn cosine(a: &[f32; BANDS], b: &[f32; BANDS]) -> f32 {
    let (mut dot, mut na, mut nb) = (0.0f32, 0.0f32, 0.0f32);
    for i in 0..BANDS {
        dot += a[i] * b[i];
        na += a[i] * a[i];
        nb += b[i] * b[i];
    }
    if na <= 0.0 || nb <= 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

/// Centred band vectors, so that similarity measures shape rather than loudness.
fn centred(bands: &[[f32; BANDS]]) -> Vec<[f32; BANDS]> {
    bands
        .iter()
        .map(|b| {
            let mean = b.iter().sum::<f32>() / BANDS as f32;
            let mut c = *b;
            for v in &mut c {
                *v -= mean;
            }
            c
        })
        .collect()
}

/// (beat period in frames, phase in frames, confidence).
fn estimate_tempo(onset: &[f32], sample_rate: u32) -> Option<(f64, f64, f64)> {
    let n = onset.len();
    let fps = f64::from(sample_rate) / HOP as f64;
    let mean = onset.iter().sum::<f32>() / n.max(1) as f32;
    let o: Vec<f32> = onset.iter().map(|v| v - mean).collect();
    let min_lag = (fps * 60.0 / MAX_ESTIMATED_BPM).floor() as usize;
    let max_lag = ((fps * 60.0 / 50.0).ceil() as usize).min(n / 2);
    if max_lag <= min_lag + 2 {
        return None;
    }
    let ac = |lag: usize| -> f64 {
        (0..n - lag)
            .map(|i| f64::from(o[i] * o[i + lag]))
            .sum::<f64>()
            / (n - lag) as f64
    };
    let energy = ac(0).max(1e-12);
    let values: Vec<f64> = (min_lag..=max_lag).map(ac).collect();
    let mut best = (0usize, f64::MIN);
    for (i, v) in values.iter().enumerate() {
        // A beat is a peak of the autocorrelation, not the edge of the range searched (a
        // smooth envelope's autocorrelation only falls from its shortest lag).
        let peak = i > 0 && i + 1 < values.len() && *v >= values[i - 1] && *v >= values[i + 1];
        if !peak {
            continue;
        }
        let lag = min_lag + i;
        let bpm = 60.0 * fps / lag as f64;
        // Prefer tempi near 120 BPM (a log-normal weight over an octave either side).
        let weight = (-0.5 * ((bpm / 120.0).log2() / 1.0).powi(2)).exp();
        let score = v * weight;
        if score > best.1 {
            best = (i, score);
        }
    }
    if best.1 == f64::MIN {
        return None;
    }
    let i = best.0;
    let mut lag = (min_lag + i) as f64;
    if i > 0 && i + 1 < values.len() {
        let (a, b, c) = (values[i - 1], values[i], values[i + 1]);
        let denom = a - 2.0 * b + c;
        if denom.abs() > 1e-12 {
            lag += (0.5 * (a - c) / denom).clamp(-0.5, 0.5);
        }
    }
    let confidence = (values[i] / energy).clamp(0.0, 1.0);
    Some((lag, beat_phase(onset, lag), confidence))
}

/// The offset whose beats (every `period` frames) gather the most onset strength.
fn beat_phase(onset: &[f32], period: f64) -> f64 {
    let steps = (period.ceil() as usize).max(1);
    let mut best = (0.0, f32::MIN);
    for p in 0..steps {
        let mut sum = 0.0f32;
        let mut t = p as f64;
        while (t as usize) < onset.len() {
            sum += onset[t as usize];
            t += period;
        }
        if sum > best.1 {
            best = (p as f64, sum);
        }
    }
    best.0
}

/// A possible loop from the frame-level search.
struct CoarseSeam {
    /// Band level difference around the two points in dB, with the preferences added
    /// (downbeats).
    rank: f64,
    start: usize,
    end: usize,
    beats: Option<f64>,
    /// 2: whole bars at the tempo heard; 1: whole bars at twice it; 0: a period of the
    /// self-similarity.
    bars: u8,
}

/// How much the band levels around frame `a` and around frame `b` differ, in dB: the worse
/// of the frames after the points (what is heard after the jump against what the music would
/// have played) and the frames before them (what led to it).
fn seam_distance(bands: &[[f32; BANDS]], a: usize, b: usize) -> f64 {
    let before = SEAM_FRAMES.min(a).min(b);
    let after = SEAM_FRAMES.min(bands.len() - a.max(b));
    if before == 0 || after == 0 {
        return f64::INFINITY;
    }
    let frame = |i: usize, j: usize| {
        let square: f32 = bands[i]
            .iter()
            .zip(&bands[j])
            .map(|(u, v)| (u - v) * (u - v))
            .sum();
        f64::from((square / BANDS as f32).sqrt())
    };
    let led = (1..=before).map(|k| frame(a - k, b - k)).sum::<f64>() / before as f64;
    let heard = (0..after).map(|k| frame(a + k, b + k)).sum::<f64>() / after as f64;
    led.max(heard) * DB_PER_NEPER
}

/// The seam at the sample level, in dB: the spectra (each FFT bin from 60 Hz to 8 kHz that
/// is within 40 dB of the louder window's peak, so that a changed note counts, not only a
/// changed band) of the `FRAME` samples after `a` against those after `b` (what is heard
/// against what the music would have played), and likewise before them (what led there);
/// the worse of the two.
fn heard_distance(
    x: &[f32],
    a: usize,
    b: usize,
    sample_rate: u32,
    planner: &mut FftPlanner<f32>,
) -> f64 {
    if a < FRAME || b < FRAME || a.max(b) + FRAME > x.len() {
        return f64::INFINITY;
    }
    let mut magnitudes = |from: usize| {
        hann_spectrum(x, from, planner)[..FRAME / 2]
            .iter()
            .map(|c| c.norm())
            .collect::<Vec<f32>>()
    };
    let bin = |hz: f64| ((hz * FRAME as f64 / f64::from(sample_rate)) as usize).min(FRAME / 2);
    let (low, high) = (bin(60.0), bin(8_000.0));
    let apart = |p: Vec<f32>, q: Vec<f32>| {
        let peak = p[low..high]
            .iter()
            .chain(&q[low..high])
            .fold(0.0f32, |m, v| m.max(*v));
        if peak <= 0.0 {
            return 0.0;
        }
        let floor = peak * 0.01;
        let (mut sum, mut count) = (0.0f64, 0usize);
        for k in low..high {
            if p[k] >= floor || q[k] >= floor {
                let ratio = p[k].max(floor * 0.1) / q[k].max(floor * 0.1);
                sum += f64::from(ratio.ln()).powi(2);
                count += 1;
            }
        }
        (sum / count.max(1) as f64).sqrt() * 2.0 * DB_PER_NEPER
    };
    let led = apart(magnitudes(a - FRAME), magnitudes(b - FRAME));
    let heard = apart(magnitudes(a), magnitudes(b));
    led.max(heard)
}

/// Which of four beats (counted from the beat phase) starts the bars: the one whose beats
/// carry the most onset strength.
fn downbeat_of(onset: &[f32], period: f64, phase: f64) -> usize {
    let mut strength = [0.0f32; 4];
    let mut k = 0usize;
    loop {
        let at = (phase + k as f64 * period).round() as usize;
        let Some(v) = onset.get(at) else { break };
        strength[k % 4] += v;
        k += 1;
    }
    (0..4)
        .max_by(|a, b| strength[*a].total_cmp(&strength[*b]))
        .unwrap_or(0)
}

/// Normalised correlation of `x` around `a` and around `b` (±`half` samples).
fn correlation(x: &[f32], a: usize, b: usize, half: usize) -> f64 {
    if a < half || b < half || a + half > x.len() || b + half > x.len() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for k in 0..2 * half {
        let (p, q) = (f64::from(x[a - half + k]), f64::from(x[b - half + k]));
        dot += p * q;
        na += p * p;
        nb += q * q;
    }
    if na <= 0.0 || nb <= 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

/// The spectrum of the `FRAME` samples of `x` from `from`, Hann-windowed (the caller keeps
/// them inside `x`).
fn hann_spectrum(x: &[f32], from: usize, planner: &mut FftPlanner<f32>) -> Vec<Complex32> {
    let mut buf: Vec<Complex32> = (0..FRAME)
        .map(|i| {
            let w = 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / FRAME as f32).cos();
            Complex32::new(x[from + i] * w, 0.0)
        })
        .collect();
    planner.plan_fft_forward(FRAME).process(&mut buf);
    buf
}

/// Phase agreement of the strongest partials in the windows centred on `a` and `b`.
fn phase_continuity(x: &[f32], a: usize, b: usize, planner: &mut FftPlanner<f32>) -> f64 {
    let half = FRAME / 2;
    if a < half || b < half || a + half > x.len() || b + half > x.len() {
        return 0.0;
    }
    let (sa, sb) = (
        hann_spectrum(x, a - half, planner),
        hann_spectrum(x, b - half, planner),
    );
    let mut bins: Vec<usize> = (2..half).collect();
    bins.sort_by(|i, j| sb[*j].norm_sqr().total_cmp(&sb[*i].norm_sqr()));
    let (mut sum, mut weight) = (0.0f64, 0.0f64);
    for &k in bins.iter().take(8) {
        let m = f64::from(sa[k].norm() * sb[k].norm());
        let d = f64::from(sa[k].arg() - sb[k].arg());
        sum += m * d.cos();
        weight += m;
    }
    if weight <= 0.0 {
        0.0
    } else {
        sum / weight
    }
}

/// Where the level rises most sharply within `reach` samples before `at` and twice that after
/// it, when it at least doubles there (an attack); `None` in music without one.
fn attack_near(x: &[f32], at: usize, reach: usize) -> Option<usize> {
    const BLOCK: usize = 64;
    let energy = |from: usize| -> Option<f32> {
        Some(x.get(from..from + BLOCK)?.iter().map(|s| s * s).sum())
    };
    let mut best: Option<(f32, usize)> = None;
    let mut p = at.checked_sub(reach)?.max(BLOCK);
    while p <= at + 2 * reach {
        let (Some(before), Some(after)) = (energy(p - BLOCK), energy(p)) else {
            break;
        };
        let rise = after / before.max(1e-12);
        if rise >= 2.0 && best.is_none_or(|(r, _)| rise > r) {
            best = Some((rise, p));
        }
        p += 8;
    }
    best.map(|(_, p)| p)
}

/// The nearest rising zero crossing to `at` within `radius` samples.
fn rising_zero(x: &[f32], at: usize, radius: usize) -> Option<usize> {
    let lo = at.saturating_sub(radius).max(1);
    let hi = (at + radius).min(x.len().saturating_sub(1));
    (lo..=hi)
        .filter(|&i| x[i - 1] < 0.0 && x[i] >= 0.0)
        .min_by_key(|&i| i.abs_diff(at))
}

/// How far the jump from `end` to `start` strays from what the music plays after `end`
/// (or, at the file's end, before `start`), relative to the music's level.
pub fn seam_error(x: &[f32], start: usize, end: usize, n: usize) -> f64 {
    let n = n.min(end - start);
    let (a, b) = if end + n <= x.len() {
        (&x[end..end + n], &x[start..start + n])
    } else if start >= n {
        (&x[start - n..start], &x[end - n..end])
    } else {
        return 1.0;
    };
    let diff: f64 = a
        .iter()
        .zip(b)
        .map(|(p, q)| f64::from(p - q).powi(2))
        .sum::<f64>()
        / n as f64;
    let level: f64 = a.iter().map(|p| f64::from(*p).powi(2)).sum::<f64>() / n as f64;
    if level <= 1e-12 {
        return 1.0;
    }
    (diff / level).sqrt()
}

/// Loops are looked for in this much of a clip, from its start. With the rate and length
/// bounds below, analysis time has a ceiling whatever the file: it grows with the clip up to
/// this length and stops growing there.
pub const MAX_ANALYSED_SECONDS: f64 = 120.0;
/// Clips at higher rates are analysed at this rate; the loop points found are then placed on
/// the clip's own samples.
pub const MAX_ANALYSIS_RATE: u32 = 48_000;
/// Longest loop considered.
pub const MAX_LOOP_SECONDS: f64 = 60.0;
/// Frame pairs compared per candidate length in the self-similarity (spread evenly).
const SELF_SIMILARITY_SAMPLES: usize = 1000;

/// Finds the tempo and the best loops of `clip`; see [`analyze_cancellable`] to stop it early.
pub fn analyze(clip: &Clip, options: &AnalysisOptions) -> Result<AnalysisReport, AnalysisError> {
    analyze_cancellable(clip, options, &AtomicBool::new(false))
}

/// [`analyze`], returning [`AnalysisError::Cancelled`] soon after `cancel` is set (a worker
/// being torn down must not wait for an analysis to finish).
pub fn analyze_cancellable(
    clip: &Clip,
    options: &AnalysisOptions,
    cancel: &AtomicBool,
) -> Result<AnalysisReport, AnalysisError> {
    let sr = clip.sample_rate.max(1);
    let limit = ((MAX_ANALYSED_SECONDS * f64::from(sr)) as usize).min(clip.frames());
    let head = Clip {
        sample_rate: sr,
        channels: clip.channels.iter().map(|c| c[..limit].to_vec()).collect(),
    };
    if sr <= MAX_ANALYSIS_RATE {
        return analyze_mono(&head.mono(), sr, options, cancel);
    }
    let low = crate::prepare::resample(&head, MAX_ANALYSIS_RATE, cancel).map_err(|e| match e {
        crate::prepare::PrepareError::Cancelled => AnalysisError::Cancelled,
        _ => AnalysisError::Silent,
    })?;
    check(cancel)?;
    let report = analyze_mono(&low.mono(), MAX_ANALYSIS_RATE, options, cancel)?;
    // Back onto the clip's own samples, snapped to its own zero crossings.
    let x = head.mono();
    let scale = f64::from(sr) / f64::from(MAX_ANALYSIS_RATE);
    let at = |f: usize| ((f as f64 * scale).round() as usize).min(x.len().saturating_sub(1));
    let snap = (SNAP_SECONDS * f64::from(sr)).ceil() as usize / 4;
    let candidates = report
        .candidates
        .into_iter()
        .map(|c| {
            let (start, end) = (at(c.start), at(c.end));
            let (start, end) = match (rising_zero(&x, start, snap), rising_zero(&x, end, snap)) {
                (Some(s), Some(e)) if e > s => (s, e),
                _ => (start, end),
            };
            LoopCandidate {
                start,
                end,
                seam_error: seam_error(&x, start, end, 2048),
                ..c
            }
        })
        .collect();
    Ok(AnalysisReport {
        sample_rate: sr,
        frames: clip.frames(),
        beat_offset: at(report.beat_offset),
        candidates,
        ..report
    })
}

fn check(cancel: &AtomicBool) -> Result<(), AnalysisError> {
    if cancel.load(Ordering::Relaxed) {
        Err(AnalysisError::Cancelled)
    } else {
        Ok(())
    }
}

fn analyze_mono(
    x: &[f32],
    sr: u32,
    options: &AnalysisOptions,
    cancel: &AtomicBool,
) -> Result<AnalysisReport, AnalysisError> {
    let seconds = x.len() as f64 / f64::from(sr);
    // Too short for a loop of `min_seconds`: such a clip can still loop by the bar.
    let short = seconds < options.min_seconds.max(0.5) + 0.2;
    if seconds < SHORTEST_CLIP_SECONDS || x.len() < FRAME * 4 {
        return Err(AnalysisError::TooShort(seconds));
    }
    let f = features(x, sr, cancel)?;
    let frames = f.bands.len();
    let mut sorted_rms = f.rms.clone();
    sorted_rms.sort_by(f32::total_cmp);
    // Silent only when nearly all of it is: real music may open with long silence.
    let loud = sorted_rms[sorted_rms.len() * 95 / 100];
    // Under -70 dBFS nothing can be heard at any sensible listening level.
    if loud <= SILENCE_RMS {
        return Err(AnalysisError::Silent);
    }
    // The typical level of the music, leaving the silent stretches out of it (60 dB under
    // its loud frames).
    let sounding: Vec<f32> = sorted_rms
        .iter()
        .copied()
        .filter(|r| *r > loud * 1e-3)
        .collect();
    let median = sounding[sounding.len() / 2];
    // Frames loud enough to jump at: not silence, not the tail of a fade, not the near
    // silence of a break (30 dB under the loud frames).
    let floor = (0.3 * median).max(0.03 * loud);
    let active: Vec<bool> = f.rms.iter().map(|r| *r > floor).collect();
    let c = centred(&f.bands);
    let fps = f64::from(sr) / HOP as f64;

    let mut tempo = match options
        .bpm
        .filter(|b| b.is_finite() && *b > 20.0 && *b < 400.0)
    {
        Some(bpm) => {
            let period = 60.0 * fps / bpm;
            Some((period, beat_phase(&f.onset, period), 1.0))
        }
        None => estimate_tempo(&f.onset, sr).filter(|(_, _, conf)| *conf > 0.05),
    };
    // Not the whole file: keep a little before the start and after the end.
    let margin = (SEAM_FRAMES + 2).max((0.1 * fps) as usize);
    let max_len = frames
        .saturating_sub(2 * margin)
        .min((MAX_LOOP_SECONDS * fps) as usize);
    let min_len = if short {
        // A short clip loops by whole bars only, at the tempo heard or, when its bar does not
        // fit, at twice that tempo if that is still a tempo music is played at (tempo
        // estimates are often an octave low).
        let (period, _, confidence) = tempo.ok_or(AnalysisError::TooShort(seconds))?;
        let bar = |period: f64| (period * 4.0).round() as usize;
        if bar(period) > max_len && options.bpm.is_none() {
            let doubled = period / 2.0;
            if 60.0 * fps / doubled <= MAX_ESTIMATED_BPM && bar(doubled) <= max_len {
                tempo = Some((doubled, beat_phase(&f.onset, doubled), confidence));
            }
        }
        let period = tempo.map_or(period, |(p, _, _)| p);
        if bar(period) > max_len {
            return Err(AnalysisError::TooShort(seconds));
        }
        bar(period)
    } else {
        (options.min_seconds * fps).ceil() as usize
    };

    // Candidate lengths, in frames: whole bars of 4/4 at the tempo heard, or at twice that
    // tempo when music is played that fast (estimates are often an octave low), at least two
    // bars when they fit.
    let mut lengths: Vec<(usize, Option<f64>)> = Vec::new();
    if let Some((period, _, _)) = tempo {
        let bpm = 60.0 * fps / period;
        let step = if short || 2.0 * bpm > MAX_ESTIMATED_BPM {
            4
        } else {
            2
        };
        let two_bars = if bpm < 80.0 { 4 } else { 8 };
        for fewest in [two_bars, step] {
            let mut beats = fewest;
            loop {
                let len = (period * beats as f64).round() as usize;
                if len > max_len {
                    break;
                }
                if len >= min_len {
                    lengths.push((len, Some(beats as f64)));
                }
                beats += step;
            }
            if !lengths.is_empty() {
                break;
            }
        }
    }
    let whole_bars = lengths.len();
    // Under 80 BPM, a bar at twice the tempo is the bar the music is played in.
    let slow = tempo.is_some_and(|(period, _, _)| 60.0 * fps / period < 80.0);
    // Periods of the self-similarity, for music without a clear beat.
    let mut self_similarity: Vec<(usize, f64)> = Vec::new();
    let stride = (frames / SELF_SIMILARITY_SAMPLES).max(2);
    // A short clip has too few repeats for its self-similarity to say anything.
    let last_lag = if short || tempo.is_some() { 0 } else { max_len };
    for lag in min_len..=last_lag {
        if lag % 256 == 0 {
            check(cancel)?;
        }
        let mut sum = 0.0f64;
        let mut count = 0;
        let mut t = 0;
        while t + lag < frames {
            sum += f64::from(cosine(&c[t], &c[t + lag]));
            count += 1;
            t += stride;
        }
        if count > 0 {
            self_similarity.push((lag, sum / f64::from(count)));
        }
    }
    let mut peaks: Vec<(usize, f64)> = self_similarity
        .windows(3)
        .filter(|w| w[1].1 >= w[0].1 && w[1].1 >= w[2].1)
        .map(|w| w[1])
        .collect();
    peaks.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (lag, _) in peaks.into_iter().take(4) {
        if !lengths.iter().any(|(l, _)| l.abs_diff(lag) <= 2) {
            lengths.push((lag, tempo.map(|(p, _, _)| lag as f64 / p)));
        }
    }
    if lengths.is_empty() {
        return Err(AnalysisError::NoLoop(options.min_seconds));
    }

    // Frame-level seam search: per length, the starts whose surroundings differ least (in
    // dB) from the end's, on beats when the tempo is clear, downbeats preferred.
    let downbeat = tempo.map(|(period, phase, _)| downbeat_of(&f.onset, period, phase));
    let mut coarse: Vec<CoarseSeam> = Vec::new();
    for (index, &(len, beats)) in lengths.iter().enumerate() {
        check(cancel)?;
        let mut best_for_len: Vec<CoarseSeam> = Vec::new();
        // A short clip has no room to wait for a beat: any start will do.
        let starts: Box<dyn Iterator<Item = (usize, bool)>> = match tempo {
            Some((period, phase, _)) if beats.is_some() && !short => {
                let first_bar = downbeat.unwrap_or(0);
                Box::new(
                    (0..)
                        .map(move |k| {
                            let at = (phase + k as f64 * period).round() as usize;
                            (at, k % 4 == first_bar)
                        })
                        .take_while(move |(s, _)| *s < frames),
                )
            }
            _ => Box::new((0..frames).map(|s| (s, true))),
        };
        for (start, on_downbeat) in starts {
            if start % 1024 == 0 {
                check(cancel)?;
            }
            // The beat grid lands on frames to within half a frame and the tempo estimate
            // is not exact: the end may be a frame or two off the length.
            let Some((distance, end)) = (len.saturating_sub(END_SLACK_FRAMES)
                ..=len + END_SLACK_FRAMES)
                .map(|l| start + l)
                .filter(|&end| {
                    start >= margin && end + margin <= frames && active[start] && active[end]
                })
                .map(|end| (seam_distance(&f.bands, start, end), end))
                .min_by(|a, b| a.0.total_cmp(&b.0))
            else {
                continue;
            };
            best_for_len.push(CoarseSeam {
                rank: distance + if on_downbeat { 0.0 } else { OFF_DOWNBEAT_DB },
                start,
                end,
                beats,
                bars: match beats {
                    _ if index >= whole_bars => 0,
                    Some(b) if slow || (b / 4.0).fract() == 0.0 => 2,
                    _ => 1,
                },
            });
        }
        best_for_len.sort_by(|a, b| a.rank.total_cmp(&b.rank));
        coarse.extend(best_for_len.into_iter().take(3));
    }
    if coarse.is_empty() {
        return Err(AnalysisError::NoLoop(options.min_seconds));
    }
    coarse.sort_by(|a, b| a.rank.total_cmp(&b.rank));
    coarse.truncate(REFINED);

    // Sample-level refinement.
    let mut planner = FftPlanner::<f32>::new();
    let mut candidates = Vec::new();
    let mut bars = Vec::new();
    let snap = (SNAP_SECONDS * f64::from(sr)).ceil() as usize;
    for seam in coarse {
        check(cancel)?;
        let (fs, fe, beats) = (seam.start, seam.end, seam.beats);
        let centre = |frame: usize| frame * HOP + FRAME / 2;
        // A start on a beat moves onto the beat's attack (the frames place it up to a frame
        // early), and the end with it: the loop's first downbeat is its first sound.
        let attack = match (tempo, beats) {
            (Some(_), Some(_)) if !short => attack_near(x, centre(fs), HOP),
            _ => None,
        };
        let start = attack.unwrap_or(centre(fs));
        let mut end = (centre(fe) + start).saturating_sub(centre(fs));
        // Move the end to where the waveform around it best matches the start's.
        let mut best = (f64::MIN, end);
        let search = HOP as isize;
        let mut d = -search;
        while d <= search {
            let e = end as isize + d;
            if e > (start + WAVE_HALF) as isize && (e as usize) + WAVE_HALF < x.len() {
                let r = correlation(x, start, e as usize, WAVE_HALF / 2);
                if r > best.0 {
                    best = (r, e as usize);
                }
            }
            d += 4;
        }
        for e in best.1.saturating_sub(4)..=best.1 + 4 {
            if e + WAVE_HALF < x.len() && e > start {
                let r = correlation(x, start, e, WAVE_HALF / 2);
                if r > best.0 {
                    best = (r, e);
                }
            }
        }
        end = best.1;
        // Snap both to rising zero crossings, keeping the length where the waveform put it.
        let (start, end) = match (rising_zero(x, start, snap), rising_zero(x, end, snap)) {
            (Some(s), Some(e)) if e > s => (s, e),
            _ => (start, end),
        };
        let seam_db = heard_distance(x, start, end, sr, &mut planner);
        let spectral = (1.0 - seam_db / 24.0).clamp(0.0, 1.0);
        let waveform = correlation(x, start, end, WAVE_HALF);
        let phase = phase_continuity(x, start, end, &mut planner);
        let beat = match tempo {
            Some((period, phase_frames, _)) => {
                let period_samples = period * HOP as f64;
                let offset = phase_frames * HOP as f64 + (FRAME / 2) as f64;
                let off_grid = |s: usize| {
                    let b = (s as f64 - offset) / period_samples;
                    (b - b.round()).abs()
                };
                let len_beats = (end - start) as f64 / period_samples;
                let bar_fit = ((len_beats / 4.0) - (len_beats / 4.0).round()).abs();
                (1.0 - 2.0 * off_grid(start)).max(0.0) * 0.5 + (1.0 - 4.0 * bar_fit).max(0.0) * 0.5
            }
            None => 0.5,
        };
        let score =
            0.35 * spectral + 0.35 * waveform.max(0.0) + 0.15 * phase.max(0.0) + 0.15 * beat;
        candidates.push(LoopCandidate {
            start,
            end,
            score,
            spectral,
            waveform,
            phase,
            beat,
            beats: beats.map(|_| (end - start) as f64 / (tempo.map_or(1.0, |t| t.0) * HOP as f64)),
            seam_error: seam_error(x, start, end, 2048),
            seam_db,
        });
        bars.push(seam.bars);
    }
    // The longest loop whose seam cannot be heard comes first; when none is that good, the
    // longest nearly as good as the best there is. The others follow by score.
    // Whole bars when there are any; bars of the tempo heard before bars of twice it (they
    // keep their beats when stretched to a host's bars).
    let any_whole = bars.iter().any(|b| *b > 0);
    let pool = |i: &usize| bars[*i] > 0 || !any_whole;
    let closest = (0..candidates.len())
        .filter(pool)
        .map(|i| candidates[i].seam_db)
        .fold(f64::INFINITY, f64::min);
    let preferred = if closest <= INAUDIBLE_DB {
        (0..candidates.len())
            .filter(pool)
            .filter(|i| candidates[*i].seam_db <= INAUDIBLE_DB)
            .max_by_key(|i| (bars[*i], candidates[*i].end - candidates[*i].start))
    } else {
        // Every seam can be heard: the least audible, then the longest of those as good.
        (0..candidates.len())
            .filter(pool)
            .filter(|i| candidates[*i].seam_db <= closest + SLACK_DB)
            .max_by_key(|i| candidates[*i].end - candidates[*i].start)
    }
    .unwrap_or(0);
    if !candidates.is_empty() {
        let first = candidates.remove(preferred);
        candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
        candidates.insert(0, first);
    }
    candidates.dedup_by(|a, b| a.start.abs_diff(b.start) < 64 && a.end.abs_diff(b.end) < 64);
    candidates.truncate(options.top.max(1));
    Ok(AnalysisReport {
        sample_rate: sr,
        frames: x.len(),
        bpm: tempo.map(|(p, _, _)| 60.0 * fps / p),
        beat_offset: tempo.map_or(0, |(_, phase, _)| (phase * HOP as f64) as usize + FRAME / 2),
        tempo_confidence: tempo.map_or(0.0, |t| t.2),
        candidates,
    })
}
