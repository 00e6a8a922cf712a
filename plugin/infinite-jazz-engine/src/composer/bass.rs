//! Walking bass: quarter notes that state each chord and lead into the next.
//!
//! Rules: a chord's first beat plays its root (sometimes its third or fifth); other strong
//! beats (1 and 3) play chord tones; beat 2 may pass through the chord's scale; the beat
//! before a chord change approaches the next root by a half step or from its fifth. The line
//! keeps a direction and turns around at the edges of the register.

use super::{idiomatic, nearest_key, velocity, SectionCue};
use crate::feel::Feel;
use crate::section::{Instrument, Note, Part};

/// The bass player: a walking line, a note a beat, that steps towards the next chord's root.
pub struct WalkingBass {
    last: Option<u8>,
    ascending: bool,
}

impl WalkingBass {
    /// A bassist who has not played yet (the first note is the chord's root).
    pub fn new() -> Self {
        WalkingBass {
            last: None,
            ascending: true,
        }
    }

    /// Writes the bass part of one section over the cue's changes, in the bass range; the
    /// line carries on from where the last section left it.
    pub fn play(&mut self, part: &mut Part, cue: &mut SectionCue) {
        if cue.config.feel() == Feel::Bossa {
            return self.bossa(part, cue);
        }
        let ballad = cue.config.feel() == Feel::Ballad;
        let (harmony, rng) = (&cue.harmony, &mut *cue.rng);
        let range = cue.config.range(Instrument::Bass);
        // E1 to G3: where a walking line sits on an upright.
        let range = idiomatic(range, 28, 55);
        let centre = (i32::from(range.low) + i32::from(range.high)) / 2 - 4;
        let meter = harmony.meter;
        let per_bar = meter.steps_per_bar();
        let bars = part.steps.len() / per_bar;
        let beats = (0..bars).flat_map(|bar| {
            meter
                .pulses()
                .enumerate()
                .map(move |(pulse, (start, len))| (pulse, bar * per_bar + start, len))
        });
        for (pulse, step, len) in beats {
            // A ballad's first chorus is in two: a note on each accented beat, held to the
            // next one.
            let two_feel = ballad && harmony.song_bar(step) < harmony.progression.len_bars();
            let strong_pulse = meter.is_strong_pulse(pulse);
            if two_feel && !strong_pulse {
                continue;
            }
            let hold = if two_feel {
                let in_bar = step % per_bar;
                meter
                    .pulses()
                    .skip(pulse + 1)
                    .enumerate()
                    .find(|(i, _)| meter.is_strong_pulse(pulse + 1 + i))
                    .map_or(per_bar - in_bar, |(_, (start, _))| start - in_bar)
            } else {
                len
            };
            let chord = harmony.chord_at_step(step);
            let next = harmony.chord_at_step(step + len);
            let last = self.last.map_or(centre, i32::from);
            if i32::from(range.high) - last < 5 {
                self.ascending = false;
            } else if last - i32::from(range.low) < 5 {
                self.ascending = true;
            }
            let dir = if self.ascending { 1 } else { -1 };
            let strong = meter.is_strong_pulse(pulse);
            let key = if harmony.chord_starts_at_step(step) {
                if rng.f32() < 0.15 && pulse != 0 {
                    let third_or_fifth = chord.pitch_classes()[1 + rng.usize(..2)];
                    nearest_key(last, range, |k| k % 12 == third_or_fifth)
                } else {
                    if rng.f32() < 0.2 {
                        self.ascending = !self.ascending;
                    }
                    nearest_key(last, range, |k| k % 12 == chord.root)
                }
            } else if harmony.chord_starts_at_step(step + len) && !strong {
                let target = nearest_key(last + dir * 2, range, |k| k % 12 == next.root)
                    .map_or(last, i32::from);
                let roll = rng.f32();
                if roll < 0.55 {
                    // Chromatic approach from the side the line is coming from.
                    let side = if last > target { 1 } else { -1 };
                    let k = target + side;
                    if range.contains(k.clamp(0, 127) as u8) {
                        Some(k as u8)
                    } else {
                        Some((target - side).clamp(0, 127) as u8).filter(|k| range.contains(*k))
                    }
                } else if roll < 0.75 {
                    // The next root's fifth, a dominant approach.
                    let fifth = (next.root + 7) % 12;
                    nearest_key(target, range, |k| k % 12 == fifth && i32::from(k) != last)
                } else {
                    nearest_key(target, range, |k| chord.contains(k) && i32::from(k) != last)
                }
            } else if !strong && rng.f32() < 0.35 {
                // A scale step in the walking direction.
                nearest_key(last + dir * 2, range, |k| {
                    chord.scale_contains(k)
                        && i32::from(k) != last
                        && (i32::from(k) - last) * dir > 0
                })
            } else {
                nearest_key(last + dir * 4, range, |k| {
                    chord.contains(k) && i32::from(k) != last
                })
            };
            let key = key
                .or_else(|| nearest_key(last, range, |k| k % 12 == chord.root))
                .unwrap_or(range.low);
            let accent = match (ballad, strong) {
                (true, true) => 78,
                (true, false) => 70,
                (false, true) => 94,
                (false, false) => 86,
            };
            let skip = !two_feel
                && !harmony.chord_starts_at_step(step + len)
                && len >= 4
                && rng.f32() < 0.08;
            part.set(
                step,
                vec![Note {
                    key,
                    velocity: velocity(rng, accent, 6),
                }],
            );
            if skip {
                // The swung "skip" ghost note before the next beat.
                // The swung 8th after the beat: a ghosted repeat.
                let half = len / 2;
                part.hold(step, half);
                part.set(
                    step + half,
                    vec![Note {
                        key,
                        velocity: velocity(rng, 50, 5),
                    }],
                );
                part.hold(step + half, len - half);
            } else if two_feel {
                part.hold(step, hold);
            } else {
                part.hold(step, if rng.f32() < 0.7 { len } else { len.max(2) - 1 });
            }
            self.last = Some(key);
        }
    }

    /// A bossa nova bass: the root on the bar's first beat and the fifth on each accented beat
    /// (beat 3 in 4/4), dotted quarters, each anticipated by an 8th on the same pitch. A chord
    /// that starts on an accented beat gets its root there instead.
    fn bossa(&mut self, part: &mut Part, cue: &mut SectionCue) {
        let (harmony, rng) = (&cue.harmony, &mut *cue.rng);
        let range = idiomatic(cue.config.range(Instrument::Bass), 28, 52);
        let centre = (i32::from(range.low) + i32::from(range.high)) / 2 - 4;
        let meter = harmony.meter;
        let per_bar = meter.steps_per_bar();
        let total = part.steps.len();
        let mut anchors = Vec::new();
        for bar in 0..total / per_bar {
            for (pulse, (start, _)) in meter.pulses().enumerate() {
                if meter.is_strong_pulse(pulse) {
                    anchors.push((bar * per_bar + start, pulse == 0));
                }
            }
        }
        for (i, &(step, downbeat)) in anchors.iter().enumerate() {
            let chord = harmony.chord_at_step(step);
            let last = self.last.map_or(centre, i32::from);
            let pitch_class = if downbeat || harmony.chord_starts_at_step(step) {
                chord.root
            } else {
                (chord.root + 7) % 12
            };
            let key = nearest_key(last, range, |k| k % 12 == pitch_class).unwrap_or(range.low);
            let next = anchors.get(i + 1).map_or(total, |(s, _)| *s);
            // The pickup 8th before the next anchor repeats its pitch: play the anchor, hold,
            // then leave the last 8th to the next anchor's pickup.
            let pickup = next.saturating_sub(2).max(step + 1);
            part.set(
                step,
                vec![Note {
                    key,
                    velocity: velocity(rng, if downbeat { 92 } else { 84 }, 5),
                }],
            );
            part.hold(step, pickup - step);
            if step >= 2 && i > 0 {
                part.set(
                    step - 2,
                    vec![Note {
                        key,
                        velocity: velocity(rng, 70, 5),
                    }],
                );
                part.hold(step - 2, 2);
            }
            self.last = Some(key);
        }
        // The pickup into the next section's first bar: its root.
        if total >= 2 {
            let root = harmony.chord_at_step(total).root;
            let last = self.last.map_or(centre, i32::from);
            if let Some(key) = nearest_key(last, range, |k| k % 12 == root) {
                part.set(
                    total - 2,
                    vec![Note {
                        key,
                        velocity: velocity(rng, 70, 5),
                    }],
                );
                part.hold(total - 2, 2);
            }
        }
    }
}

impl Default for WalkingBass {
    fn default() -> Self {
        Self::new()
    }
}
