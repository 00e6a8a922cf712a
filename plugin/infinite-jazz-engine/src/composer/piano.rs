//! Piano comping: rootless voicings in syncopated rhythms.
//!
//! Rules: each hit voices the chord sounding at that moment without its root (the bass has
//! it), choosing between the two voicing forms and octaves the one closest to the previous
//! voicing, so the inner voices move by small steps. Rhythms come from a vocabulary of comping
//! figures (Charleston, its reverse, off-beat stabs, anticipations of the next bar's chord).

use super::{idiomatic, velocity, SectionCue};
use crate::feel::Feel;
use crate::section::{Instrument, Note, Part};
use crate::timing::PitchRange;

/// The bossa comping rhythm, a two-bar pattern: (step, length, anticipation) as in [`FIGURES`].
const BOSSA_FIGURES: [Figure; 2] = [
    &[(0, 3, false), (6, 3, false), (12, 2, false)],
    &[(2, 2, false), (6, 3, false), (10, 3, false)],
];

/// Steps of the 4/4 bar the figures are written for.
const FIGURE_STEPS: usize = 16;

/// A comping figure: (step in bar, length in steps, plays the next bar's chord).
type Figure = &'static [(usize, usize, bool)];

const FIGURES: [Figure; 9] = [
    // Charleston.
    &[(0, 3, false), (6, 2, false)],
    // Reverse Charleston.
    &[(2, 2, false), (8, 3, false)],
    // Off-beat stabs.
    &[(2, 2, false), (10, 2, false)],
    // Hit on the "and" of 2, anticipate the next bar.
    &[(6, 2, false), (14, 2, true)],
    // Sustained half notes.
    &[(0, 7, false), (8, 6, false)],
    // One long chord.
    &[(0, 12, false)],
    // Late and sparse.
    &[(4, 3, false)],
    // Busy: 2, the "and" of 2, the "and" of 3.
    &[(4, 2, false), (6, 2, false), (10, 3, false)],
    // Only the anticipation.
    &[(14, 2, true)],
];

/// The pianist: rootless voicings in the left-hand register, comped in short rhythmic figures,
/// led smoothly from chord to chord.
pub struct Comping {
    /// Centre of the last voicing (mean key), for voice leading.
    last_centre: Option<f32>,
    /// Whether the previous bar was left empty.
    laid_out: bool,
}

impl Comping {
    /// A pianist with no voicing to lead from yet.
    pub fn new() -> Self {
        Comping {
            last_centre: None,
            laid_out: false,
        }
    }

    /// Writes the piano part of one section over the cue's changes, in the piano range.
    pub fn play(&mut self, part: &mut Part, cue: &mut SectionCue) {
        let (harmony, rng) = (&cue.harmony, &mut *cue.rng);
        let range = cue.config.range(Instrument::Piano);
        // Left-hand voicings live around middle C; below E3 they turn to mud.
        let range = idiomatic(range, 50, 79);
        let per_bar = harmony.meter.steps_per_bar();
        // Figures are 4/4 bars: other meters are comped a 4/4 bar at a time, the last span cut
        // to what is left (5/4 as 4 + 1 beats, 3/4 as the first three beats of a figure).
        let spans = (0..part.steps.len() / per_bar).flat_map(|bar| {
            (0..per_bar)
                .step_by(FIGURE_STEPS)
                .map(move |at| (bar * per_bar + at, FIGURE_STEPS.min(per_bar - at)))
        });
        let feel = cue.config.feel();
        let meter = harmony.meter;
        for (base, span) in spans {
            let figure: Vec<(usize, usize, bool)> = match feel {
                // Sustained chords, struck again only where the harmony moves.
                Feel::Ballad => {
                    let mut hits = vec![(0, span, false)];
                    hits.extend(
                        (4..span)
                            .step_by(4)
                            .filter(|s| harmony.chord_starts_at_step(base + s))
                            .map(|s| (s, span - s, false)),
                    );
                    hits
                }
                Feel::Bossa => {
                    let second = harmony.song_bar(base) % 2 == 1;
                    BOSSA_FIGURES[usize::from(second)].to_vec()
                }
                // On 2 and 3 (every beat but the first), now and then leaving one out.
                Feel::Waltz => {
                    let in_bar = base % per_bar;
                    let mut hits: Vec<(usize, usize, bool)> = meter
                        .pulses()
                        .skip(1)
                        .filter(|(start, _)| (in_bar..in_bar + span).contains(start))
                        .map(|(start, len)| (start - in_bar, len.min(3), false))
                        .collect();
                    if hits.len() > 1 && rng.f32() < 0.25 {
                        hits.remove(rng.usize(..hits.len()));
                    }
                    hits
                }
                _ => {
                    // A span of silence now and then, never two in a row.
                    let figure = if !self.laid_out && rng.f32() < 0.05 {
                        &[][..]
                    } else {
                        FIGURES[rng.usize(..FIGURES.len())]
                    };
                    self.laid_out = figure.is_empty();
                    // Bebop comping is short stabs.
                    let most = if feel == Feel::Bebop { 2 } else { usize::MAX };
                    figure
                        .iter()
                        .map(|&(s, l, a)| (s, l.min(most), a))
                        .collect()
                }
            };
            // While the player solos: one hit of the figure, softer.
            let light = cue
                .plans
                .get(base / per_bar)
                .is_some_and(|plan| plan.piano_light);
            let figure = if light {
                figure.into_iter().take(1).collect()
            } else {
                figure
            };
            for (step, len, anticipate) in figure {
                // An anticipation pushes the next chord on the span's last 8th.
                let step = if anticipate {
                    span.saturating_sub(2)
                } else {
                    step
                };
                if step >= span {
                    continue;
                }
                let len = len.min(span - step);
                let at = base + step;
                let chord = if anticipate {
                    harmony.chord_at_step(base + span)
                } else {
                    harmony.chord_at_step(at)
                };
                // Keep a hit inside its chord: stop at the next chord change.
                let mut len = len;
                for s in at + 1..at + len {
                    if !anticipate && harmony.chord_at_step(s) != chord {
                        len = s - at;
                        break;
                    }
                }
                let keys = if feel == Feel::Modal {
                    self.quartal(chord, range)
                        .unwrap_or_else(|| self.voice(chord, range))
                } else {
                    self.voice(chord, range)
                };
                let centre = match feel {
                    Feel::Ballad => 46,
                    Feel::Bebop => 70,
                    _ => 64,
                };
                let centre = if light { centre - 16 } else { centre };
                let top = velocity(rng, centre, 8);
                let notes = keys
                    .iter()
                    .enumerate()
                    .map(|(i, k)| Note {
                        key: *k,
                        // The top voice sings a little over the others.
                        velocity: if i + 1 == keys.len() {
                            top.saturating_add(6).min(127)
                        } else {
                            top
                        },
                    })
                    .collect();
                part.set(at, notes);
                part.hold(at, len);
            }
        }
    }

    /// A quartal voicing: four notes a perfect fourth apart, all in the chord's scale (E A D G
    /// over D Dorian), as near the last voicing as the range allows.
    fn quartal(&mut self, chord: super::harmony::Chord, range: PitchRange) -> Option<Vec<u8>> {
        let target = self.last_centre.unwrap_or(62.0);
        let keys = (range.low..=range.high.saturating_sub(15))
            .map(|bottom| [bottom, bottom + 5, bottom + 10, bottom + 15])
            .filter(|keys| keys.iter().all(|k| chord.scale_contains(*k)))
            .min_by(|a, b| {
                let distance = |keys: &[u8; 4]| {
                    (keys.iter().map(|k| f32::from(*k)).sum::<f32>() / 4.0 - target).abs()
                };
                distance(a).total_cmp(&distance(b))
            })?;
        self.last_centre = Some(keys.iter().map(|k| f32::from(*k)).sum::<f32>() / 4.0);
        Some(keys.to_vec())
    }

    fn voice(&mut self, chord: super::harmony::Chord, range: PitchRange) -> Vec<u8> {
        let target = self.last_centre.unwrap_or(62.0);
        let mut best: Option<(f32, Vec<u8>)> = None;
        for shape in chord.quality.rootless_voicings() {
            for octave in 3..=6u8 {
                let bottom = i32::from(octave) * 12 + i32::from(chord.root);
                let keys: Vec<i32> = shape.iter().map(|i| bottom + i32::from(*i)).collect();
                if keys
                    .iter()
                    .any(|k| !(i32::from(range.low)..=i32::from(range.high)).contains(k))
                {
                    continue;
                }
                let centre = keys.iter().sum::<i32>() as f32 / keys.len() as f32;
                let distance = (centre - target).abs();
                if best.as_ref().is_none_or(|(d, _)| distance < *d) {
                    best = Some((distance, keys.iter().map(|k| *k as u8).collect()));
                }
            }
        }
        let keys = match best {
            Some((_, keys)) => keys,
            // A range too narrow for four notes: play the guide tones (3rd and 7th) folded in.
            None => {
                let pcs = chord.pitch_classes();
                [pcs[1], pcs[3]]
                    .iter()
                    .filter_map(|pc| range.fold(60 + pc))
                    .collect()
            }
        };
        if !keys.is_empty() {
            self.last_centre =
                Some(keys.iter().map(|k| f32::from(*k)).sum::<f32>() / keys.len() as f32);
        }
        keys
    }
}

impl Default for Comping {
    fn default() -> Self {
        Self::new()
    }
}
