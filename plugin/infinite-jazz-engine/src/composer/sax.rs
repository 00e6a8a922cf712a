//! The sax: phrases of swung 8th-note lines, separated by breaths, built on a motif that
//! returns and develops from section to section.
//!
//! Rules: notes on beats are chord tones, off-beat 8ths may pass through the chord's scale;
//! a phrase is one to three bars long, starts by restating (or varying) the motif, and ends
//! on a long chord tone, preferably the 3rd or 7th. The line moves mostly stepwise, leaps by
//! chord tones, and turns at the edges of the register.

use super::{idiomatic, nearest_key, velocity, SectionCue, SectionHarmony};
use crate::feel::Feel;
use crate::section::{Instrument, Note, Part, Step};
use crate::timing::PitchRange;

/// A rhythmic and melodic cell: (onset step from the phrase start, length in steps, movement
/// in scale steps from the previous note).
#[derive(Debug, Clone, PartialEq)]
struct Motif {
    cells: Vec<(usize, usize, i32)>,
}

impl Motif {
    fn invent(rng: &mut fastrand::Rng) -> Motif {
        let mut cells = Vec::new();
        let mut step = if rng.bool() { 0 } else { 2 };
        let count = rng.usize(3..=5);
        for i in 0..count {
            let len = if i + 1 == count {
                4 + 2 * rng.usize(0..=2)
            } else {
                [2, 2, 2, 4][rng.usize(..4)]
            };
            let movement = if i == 0 {
                0
            } else {
                [-2, -1, -1, 1, 1, 2, 3, -3][rng.usize(..8)]
            };
            cells.push((step, len, movement));
            step += len;
        }
        Motif { cells }
    }

    /// Development: displace the rhythm, invert the contour, or extend the tail.
    fn develop(&self, rng: &mut fastrand::Rng) -> Motif {
        let mut cells = self.cells.clone();
        match rng.usize(..3) {
            0 => {
                for c in &mut cells {
                    c.0 += 2;
                }
            }
            1 => {
                for c in &mut cells {
                    c.2 = -c.2;
                }
            }
            _ => {
                if let Some(&(step, len, movement)) = cells.last() {
                    cells.push((step + len, 2, -movement.signum()));
                }
            }
        }
        Motif { cells }
    }

    fn length(&self) -> usize {
        self.cells.last().map_or(0, |(s, l, _)| s + l)
    }
}

/// How a feel shapes the sax's phrasing.
struct Phrasing {
    /// Phrase lengths, in bars.
    bars: std::ops::RangeInclusive<usize>,
    /// Rests between phrases, in steps.
    breaths: &'static [usize],
    /// Note lengths of the free line after the motif, in steps.
    lengths: &'static [usize],
    /// How often a phrase starts from the motif.
    motif: f32,
    /// Whether off-beat 8ths before a beat approach its note chromatically.
    approach: bool,
}

impl Phrasing {
    fn of(feel: Feel) -> Phrasing {
        match feel {
            Feel::Ballad => Phrasing {
                bars: 1..=2,
                breaths: &[4, 8, 8],
                lengths: &[4, 6, 8, 8],
                motif: 0.3,
                approach: false,
            },
            Feel::Bebop => Phrasing {
                bars: 2..=4,
                breaths: &[2, 4, 4],
                lengths: &[2],
                motif: 0.4,
                approach: true,
            },
            Feel::Bossa => Phrasing {
                bars: 1..=2,
                breaths: &[6, 8, 12],
                lengths: &[2, 4, 4, 6],
                motif: 0.6,
                approach: false,
            },
            Feel::Modal => Phrasing {
                bars: 1..=2,
                breaths: &[8, 12, 16],
                lengths: &[2, 2, 4],
                motif: 0.8,
                approach: false,
            },
            Feel::Swing | Feel::Waltz => Phrasing {
                bars: 1..=3,
                breaths: &[4, 6, 8, 12, 16],
                lengths: &[2, 2, 2, 2, 4],
                motif: 0.6,
                approach: false,
            },
        }
    }
}

/// The saxophonist: phrases built from a motif that is repeated and varied, chord tones on
/// strong beats, rests between phrases.
pub struct SaxLine {
    motif: Option<Motif>,
    last: Option<u8>,
    /// Steps of rest still owed before the next phrase (carried across sections).
    resting: usize,
    ascending: bool,
}

impl SaxLine {
    /// A saxophonist who rests a beat before the first phrase.
    pub fn new() -> Self {
        SaxLine {
            motif: None,
            last: None,
            resting: 4,
            ascending: true,
        }
    }

    /// Writes the sax part of one section over the cue's changes, in the sax range; phrases
    /// may cross the section's end.
    pub fn play(&mut self, part: &mut Part, cue: &mut SectionCue) {
        let (harmony, rng) = (&cue.harmony, &mut *cue.rng);
        let range = cue.config.range(Instrument::Sax);
        // The singing middle of the horn; the extremes are for climaxes a model may write.
        let range = idiomatic(range, 53, 77);
        let total = part.steps.len();
        let phrasing = Phrasing::of(cue.config.feel());
        let mut step = self.resting.min(total);
        self.resting = self.resting.saturating_sub(total);
        while step < total {
            let per_bar = cue.harmony.meter.steps_per_bar();
            let phrase_len = (per_bar * rng.usize(phrasing.bars.clone()))
                .saturating_sub([0, 2, 4][rng.usize(..3)])
                .max(2);
            let phrase_end = (step + phrase_len).min(total);
            self.phrase(part, (harmony, &phrasing), rng, range, step, phrase_end);
            let breath = phrasing.breaths[rng.usize(..phrasing.breaths.len())];
            step = phrase_end + breath;
            if step > total {
                self.resting = step - total;
            }
        }
        self.listen(part, cue, range);
    }

    /// Lays out in the bars the player has (a solo, the player's turn of a trade) and, in a
    /// trade, answers the player's last turn with its rhythm and contour over the current
    /// chords.
    fn listen(&mut self, part: &mut Part, cue: &SectionCue, range: PitchRange) {
        let per_bar = cue.harmony.meter.steps_per_bar();
        let answered: Vec<usize> = cue.answer.iter().map(|(s, _, _)| s / per_bar).collect();
        for (bar, plan) in cue.plans.iter().enumerate() {
            if !plan.sax_plays || answered.contains(&bar) {
                let steps = bar * per_bar..((bar + 1) * per_bar).min(part.steps.len());
                for step in &mut part.steps[steps] {
                    *step = Step::Rest;
                }
            }
        }
        let mut last = self.last.map_or(
            (i32::from(range.low) + i32::from(range.high)) / 2,
            i32::from,
        );
        for (i, &(at, len, direction)) in cue.answer.iter().enumerate() {
            let chord = cue.harmony.chord_at_step(at);
            let fits = |k: u8| {
                if at % 4 == 0 {
                    chord.contains(k)
                } else {
                    chord.scale_contains(k)
                }
            };
            let key = match direction {
                1 => (range.low..=range.high).find(|k| i32::from(*k) > last && fits(*k)),
                -1 => (range.low..=range.high)
                    .rev()
                    .find(|k| i32::from(*k) < last && fits(*k)),
                _ => None,
            }
            .or_else(|| nearest_key(last, range, fits));
            let Some(key) = key else { continue };
            let next = cue
                .answer
                .get(i + 1)
                .map_or(part.steps.len(), |(s, _, _)| *s);
            part.set(at, vec![Note { key, velocity: 84 }]);
            part.hold(at, len.min(next.saturating_sub(at)).max(1));
            last = i32::from(key);
        }
        if !cue.answer.is_empty() {
            self.last = Some(last.clamp(0, 127) as u8);
        }
    }

    fn phrase(
        &mut self,
        part: &mut Part,
        (harmony, phrasing): (&SectionHarmony, &Phrasing),
        rng: &mut fastrand::Rng,
        range: PitchRange,
        start: usize,
        end: usize,
    ) {
        let centre = (i32::from(range.low) + i32::from(range.high)) / 2;
        let mut last = self.last.map_or(centre, i32::from);
        // Start the phrase with the motif (stated or developed) when it fits.
        let motif = match &self.motif {
            None => {
                let m = Motif::invent(rng);
                self.motif = Some(m.clone());
                Some(m)
            }
            Some(m) if rng.f32() < phrasing.motif => Some(if rng.bool() {
                m.clone()
            } else {
                m.develop(rng)
            }),
            Some(_) => None,
        };
        let mut onsets: Vec<(usize, usize, Option<i32>)> = Vec::new();
        let mut cursor = start;
        if let Some(m) = motif.filter(|m| start + m.length() <= end) {
            for (s, l, movement) in &m.cells {
                onsets.push((start + s, *l, Some(*movement)));
            }
            cursor = start + m.length();
        }
        // Continue with an 8th-note line, with the odd quarter, then a long final note.
        while cursor + 2 <= end {
            let remaining = end - cursor;
            let len = if remaining <= 6 && !phrasing.approach {
                remaining
            } else {
                phrasing.lengths[rng.usize(..phrasing.lengths.len())].min(remaining)
            };
            onsets.push((cursor, len, None));
            cursor += len;
        }
        let count = onsets.len();
        // (step, key) of the notes written, for the approach notes.
        let mut written: Vec<(usize, u8)> = Vec::with_capacity(count);
        for (i, (at, len, movement)) in onsets.into_iter().enumerate() {
            let chord = harmony.chord_at_step(at);
            let on_beat = at % 4 == 0;
            let final_note = i + 1 == count;
            if i32::from(range.high) - last < 4 {
                self.ascending = false;
            } else if last - i32::from(range.low) < 4 {
                self.ascending = true;
            } else if rng.f32() < 0.15 {
                self.ascending = !self.ascending;
            }
            let dir = if self.ascending { 1 } else { -1 };
            let key = if final_note {
                // End on a guide tone: the 3rd or the 7th.
                let pcs = chord.pitch_classes();
                let guide = [pcs[1], pcs[3]];
                nearest_key(last, range, |k| guide.contains(&(k % 12)))
            } else if let Some(movement) = movement {
                scale_move(last, movement, range, |k| chord.scale_contains(k))
                    .filter(|k| !on_beat || chord.contains(*k))
                    .or_else(|| nearest_key(last + movement, range, |k| chord.contains(k)))
            } else if on_beat || rng.f32() < 0.25 {
                let leap = if rng.f32() < 0.3 { 4 } else { 2 };
                nearest_key(last + dir * leap, range, |k| {
                    chord.contains(k) && i32::from(k) != last
                })
            } else {
                scale_move(last, dir, range, |k| chord.scale_contains(k))
            };
            let Some(key) = key else { continue };
            // Jazz phrasing leans on the off-beats; the last note of a phrase is softer.
            let centre_vel = if final_note {
                74
            } else if on_beat {
                80
            } else {
                88
            };
            part.set(
                at,
                vec![Note {
                    key,
                    velocity: velocity(rng, centre_vel, 6),
                }],
            );
            part.hold(at, len);
            // Bebop: the 8th before a beat leans into the beat's chord tone from a half step
            // below or above (an enclosure when the note before came from the other side).
            if phrasing.approach && at % 4 == 0 {
                if let Some(&(prev_at, prev_key)) = written.last() {
                    if prev_at + 2 == at && prev_at % 4 == 2 {
                        let from_below = i32::from(prev_key) < i32::from(key);
                        let approach = if from_below {
                            key.saturating_sub(1)
                        } else {
                            key.saturating_add(1)
                        };
                        if range.contains(approach) && rng.f32() < 0.7 {
                            if let Step::Notes(notes) = &mut part.steps[prev_at] {
                                for n in notes.iter_mut() {
                                    n.key = approach;
                                }
                            }
                        }
                    }
                }
            }
            written.push((at, key));
            last = i32::from(key);
        }
        self.last = Some(last.clamp(0, 127) as u8);
    }
}

/// Moves `steps` scale degrees from `from` (degrees are keys passing `in_scale`).
fn scale_move(
    from: i32,
    steps: i32,
    range: PitchRange,
    in_scale: impl Fn(u8) -> bool,
) -> Option<u8> {
    if steps == 0 {
        return nearest_key(from, range, in_scale);
    }
    let mut key = from;
    let mut moved = 0;
    while moved < steps.abs() {
        key += steps.signum();
        if key < i32::from(range.low) || key > i32::from(range.high) {
            return None;
        }
        if in_scale(key as u8) {
            moved += 1;
        }
    }
    Some(key as u8)
}

impl Default for SaxLine {
    fn default() -> Self {
        Self::new()
    }
}
