//! Loops in time with another tempo: how many bars a loop should span at the host's tempo
//! ([`bars_for`]), and the audio stretched to exactly that length with its pitch kept
//! ([`stretch_to_frames`], Signalsmith Stretch; run on a worker, never on the audio thread).

use crate::clip::Clip;
use crate::looper::{render_repeats, PreparedLoop};
use std::sync::atomic::{AtomicBool, Ordering};
use thiserror::Error;

/// Stretch ratios (new length over old) a loop is played at; outside them it plays at its own
/// tempo, because the artefacts would be heard.
pub const RATIO_RANGE: (f64, f64) = (0.7, 1.4);

/// Why audio could not be stretched.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum StretchError {
    /// Nothing to stretch, or nothing to stretch into.
    #[error("cannot stretch {from} frames into {to}")]
    Empty {
        /// Frames of the input.
        from: usize,
        /// Frames asked for.
        to: usize,
    },
    /// The ratio is far outside what a stretch can do well.
    #[error("a stretch ratio of {0:.2} is out of range")]
    Ratio(f64),
    /// Stopped on request.
    #[error("stretch cancelled")]
    Cancelled,
}

/// How a loop of `loop_seconds` fits the host's `host_bpm` in bars of `beats_per_bar`: the
/// number of bars it is stretched to, and the ratio (new length over old).
///
/// When the loop's length in beats of its own tempo is known (`loop_beats`), its beats land on
/// the host's: it spans that many host beats, or twice or half as many (tempo estimates make
/// octave errors, and a 70 BPM groove is a 140 BPM one in half time), whichever makes the
/// ratio nearest 1 and is whole bars. Otherwise, the whole number of bars nearest ratio 1.
/// `bars` given: that many. `None` when no tempo is usable, nothing fits whole bars, or the
/// ratio is outside [`RATIO_RANGE`].
pub fn bars_for(
    loop_seconds: f64,
    host_bpm: f64,
    beats_per_bar: f64,
    loop_beats: Option<f64>,
    bars: Option<usize>,
) -> Option<(usize, f64)> {
    let usable = |v: f64| v.is_finite() && v > 0.0;
    if !(usable(loop_seconds) && usable(host_bpm) && usable(beats_per_bar)) {
        return None;
    }
    let bar_seconds = beats_per_bar * 60.0 / host_bpm;
    let ratio = |n: usize| n as f64 * bar_seconds / loop_seconds;
    let nearest = |candidates: &[usize]| {
        candidates
            .iter()
            .copied()
            .filter(|n| *n > 0)
            .min_by(|a, b| ratio(*a).ln().abs().total_cmp(&ratio(*b).ln().abs()))
    };
    let n = match (bars, loop_beats.filter(|b| usable(*b))) {
        (Some(n), _) => n.max(1),
        (None, Some(beats)) => {
            let beats = beats.round().max(1.0);
            let whole = |host_beats: f64| {
                let bars = host_beats / beats_per_bar;
                ((bars - bars.round()).abs() < 1e-9).then_some(bars.round() as usize)
            };
            let fitting: Vec<usize> = [beats / 2.0, beats, beats * 2.0]
                .into_iter()
                .filter_map(whole)
                .collect();
            nearest(&fitting)?
        }
        (None, None) => {
            let estimate = (loop_seconds / bar_seconds).round().max(1.0) as usize;
            // The nearest whole number of bars, or one either side when that is nearer in
            // ratio (ratios compare on a log scale: 0.8 and 1.25 are equally far).
            nearest(&[estimate.saturating_sub(1).max(1), estimate, estimate + 1])?
        }
    };
    let r = ratio(n);
    (RATIO_RANGE.0..=RATIO_RANGE.1)
        .contains(&r)
        .then_some((n, r))
}

/// `clip` stretched (or squeezed) to exactly `frames` frames, pitch unchanged.
pub fn stretch_to_frames(clip: &Clip, frames: usize) -> Result<Clip, StretchError> {
    stretch_to_frames_cancellable(clip, frames, &AtomicBool::new(false))
}

/// Pieces a stretch is computed in; `stop` is heard between them.
const STRETCH_PIECES: usize = 16;

/// [`stretch_to_frames`], returning [`StretchError::Cancelled`] soon after `stop` is set (a
/// worker being torn down must not wait for a long loop's stretch: its host is waiting).
///
/// This is Signalsmith Stretch's own `exact` (start positioned on the input's centre, the
/// output's latency folded back and compensated, the tail flushed), with the processing cut
/// into pieces of the same ratio so that it can stop between them.
pub fn stretch_to_frames_cancellable(
    clip: &Clip,
    frames: usize,
    stop: &AtomicBool,
) -> Result<Clip, StretchError> {
    let from = clip.frames();
    let channels = clip.channels.len();
    if from == 0 || frames == 0 || channels == 0 {
        return Err(StretchError::Empty { from, to: frames });
    }
    let ratio = frames as f64 / from as f64;
    if !(0.25..=4.0).contains(&ratio) {
        return Err(StretchError::Ratio(ratio));
    }
    let interleaved: Vec<f32> = (0..from)
        .flat_map(|i| clip.channels.iter().map(move |c| c[i]))
        .collect();
    let mut stretch =
        signalsmith_stretch::Stretch::preset_default(channels as u32, clip.sample_rate.max(1));
    let (in_latency, out_latency) = (stretch.input_latency(), stretch.output_latency());
    if frames < 2 * out_latency || from <= in_latency {
        return Err(StretchError::Empty { from, to: frames });
    }
    let mut out = vec![0.0f32; frames * channels];
    stretch.seek(
        &interleaved[..in_latency * channels],
        from as f64 / frames as f64,
    );
    // The input from its latency on, padded with silence to its own length.
    let mut input = interleaved[in_latency * channels..].to_vec();
    input.resize(from * channels, 0.0);
    for piece in 0..STRETCH_PIECES {
        if stop.load(Ordering::Relaxed) {
            return Err(StretchError::Cancelled);
        }
        let span = |n: usize, k: usize| n * k / STRETCH_PIECES * channels;
        let (i0, i1) = (span(from, piece), span(from, piece + 1));
        let (o0, o1) = (span(frames, piece), span(frames, piece + 1));
        stretch.process(&input[i0..i1], &mut out[o0..o1]);
    }
    // What came out before the output's latency folds back onto what follows it, and the
    // whole moves back by that latency.
    for i in 0..(frames - out_latency).min(out_latency) {
        for c in 0..channels {
            out[(i + out_latency) * channels + c] -= out[(out_latency - 1 - i) * channels + c];
        }
    }
    out.copy_within(out_latency * channels.., 0);
    stretch.flush(&mut out[(frames - out_latency) * channels..]);
    let mut result = vec![Vec::with_capacity(frames); channels];
    for frame in out.chunks_exact(channels) {
        for (c, s) in frame.iter().enumerate() {
            result[c].push(*s);
        }
    }
    Ok(Clip {
        sample_rate: clip.sample_rate,
        channels: result,
    })
}

/// `repeats` repeats of `prepared`'s loop stretched to `length` frames each (a real number:
/// repeat k starts at the nearest frame to k × `length`), seams crossfaded over `seam` frames.
/// The loop is rendered with a repeat before and after, the whole stretched at once and the
/// padding left out of the range returned, so the repeats (and the last one into the first,
/// when looped) join as the stretched music does. Returns the stretched audio and the range
/// of the repeats in it.
pub fn stretched_repeats(
    prepared: &PreparedLoop,
    repeats: usize,
    seam: usize,
    length: f64,
    stop: &AtomicBool,
) -> Result<(Clip, std::ops::Range<usize>), StretchError> {
    let padded = render_repeats(prepared.clone(), repeats + 2, seam);
    let total = ((repeats + 2) as f64 * length).round() as usize;
    let stretched = stretch_to_frames_cancellable(&padded, total, stop)?;
    let from = length.round() as usize;
    let to = (from + (repeats as f64 * length).round() as usize).min(stretched.frames());
    Ok((stretched, from..to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_count_keeps_the_beats_on_the_hosts() {
        // 7.42 s at 97 BPM is 12 beats: at 120 BPM it spans 12 beats, 3 bars (6 s, ×0.81),
        // never 4 bars (×1.08), which would put 12 of its beats on 16 of the host's.
        let (bars, ratio) = bars_for(7.42, 120.0, 4.0, Some(12.0), None).expect("fits");
        assert_eq!(bars, 3);
        assert!((ratio - 6.0 / 7.42).abs() < 1e-9);
        // An octave error: the same loop estimated as 6 beats at 48.5 BPM still gets 3 bars;
        // as 24 beats at 194 BPM, too.
        assert_eq!(
            bars_for(7.42, 120.0, 4.0, Some(6.0), None).map(|b| b.0),
            Some(3)
        );
        assert_eq!(
            bars_for(7.42, 120.0, 4.0, Some(24.0), None).map(|b| b.0),
            Some(3)
        );
        // 14 beats are not whole bars at any octave whose ratio is in range: its own tempo.
        assert_eq!(bars_for(8.66, 120.0, 4.0, Some(14.0), None), None);
        // Without beats, the whole bars nearest ratio 1.
        assert_eq!(bars_for(7.42, 120.0, 4.0, None, None).map(|b| b.0), Some(4));
        assert_eq!(bars_for(3.71, 120.0, 4.0, None, None).map(|b| b.0), Some(2));
        // Asked for a bar count out of range: refused.
        assert_eq!(bars_for(7.42, 120.0, 4.0, None, Some(8)), None);
        assert_eq!(
            bars_for(7.42, 120.0, 4.0, None, Some(3)).map(|b| b.0),
            Some(3)
        );
        // At the limits.
        assert!(bars_for(2.0 / 1.4, 120.0, 4.0, None, Some(1)).is_some());
        assert!(bars_for(2.0 / 1.41, 120.0, 4.0, None, Some(1)).is_none());
        for bad in [0.0, f64::NAN, -120.0, f64::INFINITY] {
            assert_eq!(bars_for(7.42, bad, 4.0, Some(12.0), None), None);
            assert_eq!(bars_for(bad, 120.0, 4.0, None, None), None);
        }
    }

    #[test]
    fn stretching_gives_the_exact_length_and_keeps_the_pitch() {
        let rate = 48_000;
        let tone: Vec<f32> = (0..rate * 2)
            .map(|i| 0.5 * (std::f32::consts::TAU * 440.0 * i as f32 / rate as f32).sin())
            .collect();
        let clip = Clip {
            sample_rate: rate as u32,
            channels: vec![tone.clone(), tone],
        };
        let out = stretch_to_frames(&clip, 115_000).expect("stretched");
        assert_eq!(out.frames(), 115_000);
        assert_eq!(out.channels.len(), 2);
        // Zero crossings in the steady middle second: 440 Hz gives 880.
        let mid = &out.channels[0][30_000..78_000];
        let crossings = mid.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
        assert!((436..=444).contains(&crossings), "{crossings} crossings");
        assert!(matches!(
            stretch_to_frames(&clip, 0),
            Err(StretchError::Empty { .. })
        ));
        assert!(matches!(
            stretch_to_frames(&clip, 10 * 96_000),
            Err(StretchError::Ratio(_))
        ));
        // In pieces it is the library's own exact stretch, and it stops when asked.
        let mut whole = vec![0.0f32; 115_000 * 2];
        let interleaved: Vec<f32> = (0..clip.frames())
            .flat_map(|i| clip.channels.iter().map(move |c| c[i]))
            .collect();
        signalsmith_stretch::Stretch::preset_default(2, rate as u32)
            .exact(&interleaved, &mut whole);
        let exact: Vec<f32> = whole.iter().step_by(2).copied().collect();
        // The pieces start the library's blocks elsewhere: the phases differ a little, the
        // music does not.
        let rms = |x: &mut dyn Iterator<Item = f32>| {
            let (sum, n) = x.fold((0.0f64, 0usize), |(s, n), v| {
                (s + f64::from(v).powi(2), n + 1)
            });
            (sum / n.max(1) as f64).sqrt()
        };
        let apart = rms(&mut out.channels[0].iter().zip(&exact).map(|(a, b)| a - b));
        let level = rms(&mut exact.iter().copied());
        assert!(
            apart < 0.05 * level,
            "pieces differ from the whole by {apart} (of {level})"
        );
        assert_eq!(
            stretch_to_frames_cancellable(&clip, 115_000, &AtomicBool::new(true)),
            Err(StretchError::Cancelled)
        );
    }

    #[test]
    fn a_long_stretch_stops_when_asked() {
        // A minute of stereo: whole, it takes far longer than the 30 ms before the stop.
        let rate = 48_000;
        let noise: Vec<f32> = (0..60 * rate)
            .map(|i| ((i as f32 * 0.618_034).fract() - 0.5) * 0.2)
            .collect();
        let clip = Clip {
            sample_rate: rate as u32,
            channels: vec![noise.clone(), noise],
        };
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let stopper = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(30));
            flag.store(true, Ordering::Relaxed);
        });
        let result = stretch_to_frames_cancellable(&clip, 70 * rate, &stop);
        stopper.join().expect("stopper");
        assert_eq!(result.err(), Some(StretchError::Cancelled));
    }
}
