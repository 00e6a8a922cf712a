//! Getting a clip ready to play: the playback sample rate (rubato) and a common loudness
//! (EBU R128 integrated loudness, measured with ebur128).

use crate::clip::Clip;
use rubato::{FftFixedIn, Resampler};
use std::sync::atomic::{AtomicBool, Ordering};
use thiserror::Error;

/// Why a clip could not be made ready to play.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum PrepareError {
    /// The resampler refused the rates or the audio.
    #[error("cannot resample from {from} Hz to {to} Hz: {detail}")]
    Resample {
        /// The clip's rate.
        from: u32,
        /// The playback rate.
        to: u32,
        /// The resampler's words.
        detail: String,
    },
    /// The loudness meter failed (its words).
    #[error("cannot measure loudness: {0}")]
    Loudness(String),
    /// No loudness to match: the clip is silence.
    #[error("the clip is silent")]
    Silent,
    /// Stopped early: the worker is being torn down.
    #[error("cancelled")]
    Cancelled,
}

/// The clip at `rate`, same length in seconds (to the nearest frame). Returns
/// [`PrepareError::Cancelled`] soon after `cancel` is set: minutes of audio take seconds.
pub fn resample(clip: &Clip, rate: u32, cancel: &AtomicBool) -> Result<Clip, PrepareError> {
    if clip.sample_rate == rate || clip.frames() == 0 {
        return Ok(Clip {
            sample_rate: rate,
            channels: clip.channels.clone(),
        });
    }
    let err = |detail: String| PrepareError::Resample {
        from: clip.sample_rate,
        to: rate,
        detail,
    };
    let channels = clip.channels.len();
    let chunk = 1024;
    let mut resampler =
        FftFixedIn::<f32>::new(clip.sample_rate as usize, rate as usize, chunk, 2, channels)
            .map_err(|e| err(e.to_string()))?;
    let delay = resampler.output_delay();
    let expected =
        (clip.frames() as f64 * f64::from(rate) / f64::from(clip.sample_rate)).round() as usize;
    let mut out: Vec<Vec<f32>> = vec![Vec::with_capacity(expected + delay + chunk); channels];
    let mut pos = 0;
    let frames = clip.frames();
    // Feed whole chunks, then zeros until the delayed output has caught up.
    while out[0].len() < expected + delay {
        if cancel.load(Ordering::Relaxed) {
            return Err(PrepareError::Cancelled);
        }
        let need = resampler.input_frames_next();
        let input: Vec<Vec<f32>> = clip
            .channels
            .iter()
            .map(|c| {
                (pos..pos + need)
                    .map(|i| if i < frames { c[i] } else { 0.0 })
                    .collect()
            })
            .collect();
        pos += need;
        let produced = resampler
            .process(&input, None)
            .map_err(|e| err(e.to_string()))?;
        for (o, p) in out.iter_mut().zip(produced) {
            o.extend_from_slice(&p);
        }
    }
    for o in &mut out {
        o.drain(..delay);
        o.truncate(expected);
    }
    Ok(Clip {
        sample_rate: rate,
        channels: out,
    })
}

/// Integrated loudness in LUFS (EBU R128), measured a second at a time so that `cancel`
/// ([`PrepareError::Cancelled`]) is heard soon.
pub fn integrated_loudness(clip: &Clip, cancel: &AtomicBool) -> Result<f64, PrepareError> {
    let channels = clip.channels.len() as u32;
    let mut meter = ebur128::EbuR128::new(channels, clip.sample_rate, ebur128::Mode::I)
        .map_err(|e| PrepareError::Loudness(e.to_string()))?;
    let second = clip.sample_rate.max(1) as usize;
    let mut interleaved = Vec::with_capacity(second * clip.channels.len());
    for from in (0..clip.frames()).step_by(second) {
        if cancel.load(Ordering::Relaxed) {
            return Err(PrepareError::Cancelled);
        }
        interleaved.clear();
        interleaved.extend(
            (from..(from + second).min(clip.frames()))
                .flat_map(|i| clip.channels.iter().map(move |c| c[i])),
        );
        meter
            .add_frames_f32(&interleaved)
            .map_err(|e| PrepareError::Loudness(e.to_string()))?;
    }
    let lufs = meter
        .loudness_global()
        .map_err(|e| PrepareError::Loudness(e.to_string()))?;
    if lufs.is_finite() {
        Ok(lufs)
    } else {
        Err(PrepareError::Silent)
    }
}

/// Scales the clip towards `target_lufs`, never past a peak of 0.98. Returns the gain; the clip
/// is left as it was when `cancel` stops the measurement.
pub fn match_loudness(
    clip: &mut Clip,
    target_lufs: f64,
    cancel: &AtomicBool,
) -> Result<f32, PrepareError> {
    let lufs = integrated_loudness(clip, cancel)?;
    let wanted = 10f64.powf((target_lufs - lufs) / 20.0) as f32;
    let peak = clip
        .channels
        .iter()
        .flatten()
        .fold(0.0f32, |m, s| m.max(s.abs()));
    let gain = if peak > 0.0 {
        wanted.min(0.98 / peak)
    } else {
        wanted
    };
    for s in clip.channels.iter_mut().flatten() {
        *s *= gain;
    }
    Ok(gain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, freq: f32, secs: f32, amp: f32) -> Clip {
        let n = (rate as f32 * secs) as usize;
        Clip {
            sample_rate: rate,
            channels: vec![(0..n)
                .map(|i| amp * (std::f32::consts::TAU * freq * i as f32 / rate as f32).sin())
                .collect()],
        }
    }

    #[test]
    fn resampling_keeps_length_and_pitch() {
        let clip = sine(32_000, 440.0, 2.0, 0.5);
        let out = resample(&clip, 48_000, &AtomicBool::new(false)).expect("resamples");
        assert_eq!(out.frames(), 96_000);
        // Count zero crossings in the middle second: 440 Hz gives 880 of them.
        let mid = &out.channels[0][24_000..72_000];
        let crossings = mid.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
        assert!((439..=441).contains(&crossings), "{crossings}");
        let peak = mid.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!((peak - 0.5).abs() < 0.02, "{peak}");
    }

    #[test]
    fn loudness_matches_the_target_without_clipping() {
        let go = AtomicBool::new(false);
        let mut quiet = sine(48_000, 1000.0, 3.0, 0.05);
        match_loudness(&mut quiet, -16.0, &go).expect("measured");
        let after = integrated_loudness(&quiet, &go).expect("measured");
        assert!((after + 16.0).abs() < 0.5, "{after}");
        let mut loud = sine(48_000, 1000.0, 3.0, 0.9);
        match_loudness(&mut loud, 0.0, &go).expect("measured");
        let peak = loud.channels[0].iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!(peak <= 0.981);
        let mut silent = sine(48_000, 1000.0, 1.0, 0.0);
        assert_eq!(
            match_loudness(&mut silent, -16.0, &go),
            Err(PrepareError::Silent)
        );
        let mut stopped = sine(48_000, 1000.0, 3.0, 0.05);
        assert_eq!(
            match_loudness(&mut stopped, -16.0, &AtomicBool::new(true)),
            Err(PrepareError::Cancelled)
        );
        assert!(
            (stopped.channels[0][12] - sine(48_000, 1000.0, 3.0, 0.05).channels[0][12]).abs()
                < 1e-9
        );
    }
}
