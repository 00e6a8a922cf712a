//! Swing drums: ride cymbal time, hi-hat on 2 and 4, a feathered kick, snare comping,
//! and fills that mark the end of each four-bar phrase.

use super::{velocity, SectionCue};
use crate::feel::Feel;
use crate::section::{Instrument, Note, Part};

/// General MIDI percussion keys.
pub mod gm {
    /// Acoustic bass drum.
    pub const KICK: u8 = 36;
    /// Side stick (cross-stick), for soft backbeats.
    pub const SIDE_STICK: u8 = 37;
    /// Acoustic snare.
    pub const SNARE: u8 = 38;
    /// Low tom.
    pub const LOW_TOM: u8 = 45;
    /// Low floor tom.
    pub const LOW_FLOOR_TOM: u8 = 41;
    /// High floor tom.
    pub const HIGH_FLOOR_TOM: u8 = 43;
    /// Hi-hat closed by the foot, on 2 and 4.
    pub const PEDAL_HAT: u8 = 44;
    /// Low-mid tom.
    pub const LOW_MID_TOM: u8 = 47;
    /// High tom.
    pub const HIGH_TOM: u8 = 50;
    /// Crash cymbal, on phrase downbeats.
    pub const CRASH: u8 = 49;
    /// Ride cymbal, the time-keeper.
    pub const RIDE: u8 = 51;
    /// Closed hi-hat.
    pub const CLOSED_HAT: u8 = 42;
}

/// Bars per phrase: fills land in a phrase's last bar, the crash on the next downbeat.
pub const PHRASE_BARS: usize = 4;

/// The drummer: ride pattern and hi-hat on 2 and 4, snare and kick comping, fills at the
/// ends of phrases.
pub struct Drummer {
    /// Whether the kick feathers quarter notes in this chorus.
    feathering: bool,
}

impl Drummer {
    /// A drummer who feathers the kick until a chorus says otherwise.
    pub fn new() -> Self {
        Drummer { feathering: true }
    }

    /// Writes the drum part of one section, phrased by [`PHRASE_BARS`].
    pub fn play(&mut self, part: &mut Part, cue: &mut SectionCue) {
        match cue.config.feel() {
            Feel::Ballad => return brushes(part, cue),
            Feel::Bossa => return bossa(part, cue),
            _ => {}
        }
        // Bebop drives: a louder ride with the skip note on every beat, more "bombs".
        let bebop = cue.config.feel() == Feel::Bebop;
        let (harmony, rng) = (&cue.harmony, &mut *cue.rng);
        let range = cue.config.range(Instrument::Drums);
        let meter = harmony.meter;
        let per_bar = meter.steps_per_bar();
        let bars = part.steps.len() / per_bar;
        let mut hits: Vec<Vec<Note>> = vec![Vec::new(); part.steps.len()];
        // The places of the bar a drummer plays off: every pulse's swung 8th, and the 16th
        // before the next pulse on the accented ones (the "a" of 1 and 3 in 4/4).
        let mut off_beats = Vec::new();
        let mut kick_spots = Vec::new();
        for (pulse, (start, len)) in meter.pulses().enumerate() {
            if len > 2 {
                off_beats.push(start + 2);
                if pulse > 0 {
                    kick_spots.push(start + 2);
                }
            }
            if len > 3 && pulse % 2 == 0 {
                off_beats.push(start + 3);
            }
        }
        off_beats.sort_unstable();
        for bar in 0..bars {
            let song_bar = harmony.first_bar + bar;
            let base = bar * per_bar;
            let phrase_end = song_bar % PHRASE_BARS == PHRASE_BARS - 1;
            let big_fill = song_bar % (PHRASE_BARS * 2) == PHRASE_BARS * 2 - 1;
            // The last two beats of a long phrase, the last beat of a short one (in 8ths).
            let fill_from = if big_fill {
                (per_bar / 2) & !1
            } else {
                per_bar.saturating_sub(4) & !1
            };
            if song_bar % (PHRASE_BARS * 2) == 0 {
                self.feathering = rng.f32() < 0.7;
            }
            let mut add = |step: usize, key: u8, vel: u8| {
                if range.contains(key) && step < per_bar {
                    hits[base + step].push(Note { key, velocity: vel });
                }
            };
            let in_fill = |step: usize| phrase_end && step >= fill_from;
            // Ride time: every pulse, the skip note after the even-numbered ones ("2 and 4"),
            // and the 8ths inside a long pulse (compound meters, half notes).
            for (pulse, (start, len)) in meter.pulses().enumerate() {
                let centre = if pulse == 0 {
                    72
                } else if meter.is_strong_pulse(pulse) {
                    74
                } else {
                    84
                };
                let centre = if bebop { centre + 8 } else { centre };
                let mut strokes = [(start, centre), (usize::MAX, 0), (usize::MAX, 0)];
                match len {
                    4 if pulse % 2 == 1 || bebop => strokes[1] = (start + 2, 62),
                    6 => {
                        strokes[1] = (start + 2, 58);
                        strokes[2] = (start + 4, 66);
                    }
                    8 => strokes[1] = (start + 4, 70),
                    _ => {}
                }
                for (step, centre) in strokes {
                    if step == usize::MAX || in_fill(step) {
                        continue;
                    }
                    let key = if song_bar > 0 && song_bar % PHRASE_BARS == 0 && step == 0 {
                        gm::CRASH
                    } else {
                        gm::RIDE
                    };
                    add(step, key, velocity(rng, centre, 6));
                }
            }
            if rng.f32() < 0.12 {
                add(2, gm::RIDE, velocity(rng, 58, 5));
            }
            // Hi-hat foot on the even-numbered beats (2 and 4; 2 in a waltz).
            for (pulse, (start, _)) in meter.pulses().enumerate() {
                if pulse % 2 == 1 {
                    add(start, gm::PEDAL_HAT, velocity(rng, 68, 6));
                }
            }
            if self.feathering {
                for (start, _) in meter.pulses() {
                    if !in_fill(start) {
                        add(start, gm::KICK, velocity(rng, 32, 5));
                    }
                }
            }
            if song_bar > 0 && song_bar % PHRASE_BARS == 0 {
                add(0, gm::KICK, velocity(rng, 92, 6));
            } else if rng.f32() < if bebop { 0.4 } else { 0.15 } && !kick_spots.is_empty() {
                let step = kick_spots[rng.usize(..kick_spots.len())];
                if !in_fill(step) {
                    add(step, gm::KICK, velocity(rng, 78, 8));
                }
            }
            let comps = if bebop {
                rng.usize(1..=3)
            } else {
                rng.usize(0..=2)
            };
            for _ in 0..comps {
                if off_beats.is_empty() {
                    break;
                }
                let step = off_beats[rng.usize(..off_beats.len())];
                if !in_fill(step) {
                    let key = if rng.f32() < 0.2 {
                        gm::SIDE_STICK
                    } else {
                        gm::SNARE
                    };
                    add(step, key, velocity(rng, 48, 10));
                }
            }
            if phrase_end {
                let toms = [
                    gm::SNARE,
                    gm::HIGH_TOM,
                    gm::LOW_MID_TOM,
                    gm::LOW_TOM,
                    gm::HIGH_FLOOR_TOM,
                    gm::LOW_FLOOR_TOM,
                ];
                let mut voice = 0usize;
                for step in fill_from..per_bar {
                    let on_eighth = step % 2 == 0;
                    let density = (step - fill_from) as f32 / (per_bar - fill_from) as f32;
                    let pickup = step == per_bar - 1;
                    if on_eighth || pickup || rng.f32() < 0.2 + density * 0.4 {
                        let key = if voice < 2 {
                            gm::SNARE
                        } else {
                            toms[voice.min(toms.len() - 1)]
                        };
                        let crescendo = 70 + (density * 30.0) as u8;
                        add(step, key, velocity(rng, crescendo, 6));
                        if rng.f32() < 0.6 {
                            voice += 1;
                        }
                    }
                }
                add(fill_from, gm::KICK, velocity(rng, 70, 6));
            }
        }
        write_hits(part, hits);
    }
}

impl Default for Drummer {
    fn default() -> Self {
        Self::new()
    }
}

/// Writes `hits` (one list per step) into the part, one hit per key and step.
fn write_hits(part: &mut Part, hits: Vec<Vec<Note>>) {
    for (step, mut notes) in hits.into_iter().enumerate() {
        notes.sort_by_key(|n| n.key);
        notes.dedup_by_key(|n| n.key);
        part.set(step, notes);
    }
}

/// A ballad with brushes: a soft sweep on every beat, a tap on its swung 8th, the backbeat
/// tapped a little louder, the hi-hat foot on 2 and 4, a whisper of kick on 1, and a few soft
/// 16th taps to close each phrase. Nothing loud, no cymbal crashes.
fn brushes(part: &mut Part, cue: &mut SectionCue) {
    let (harmony, rng) = (&cue.harmony, &mut *cue.rng);
    let range = cue.config.range(Instrument::Drums);
    let meter = harmony.meter;
    let per_bar = meter.steps_per_bar();
    let mut hits: Vec<Vec<Note>> = vec![Vec::new(); part.steps.len()];
    for bar in 0..part.steps.len() / per_bar {
        let base = bar * per_bar;
        let phrase_end = (harmony.first_bar + bar) % PHRASE_BARS == PHRASE_BARS - 1;
        let mut add = |step: usize, key: u8, vel: u8| {
            if range.contains(key) && step < per_bar {
                hits[base + step].push(Note { key, velocity: vel });
            }
        };
        for (pulse, (start, len)) in meter.pulses().enumerate() {
            let backbeat = pulse % 2 == 1;
            add(
                start,
                gm::SNARE,
                velocity(rng, if backbeat { 40 } else { 28 }, 4),
            );
            if len >= 4 && rng.f32() < 0.7 {
                add(start + 2, gm::SNARE, velocity(rng, 22, 4));
            }
            if backbeat {
                add(start, gm::PEDAL_HAT, velocity(rng, 40, 5));
            }
        }
        add(0, gm::KICK, velocity(rng, 24, 4));
        if phrase_end {
            for step in per_bar.saturating_sub(4)..per_bar {
                if rng.f32() < 0.6 {
                    add(step, gm::SNARE, velocity(rng, 34, 6));
                }
            }
        }
    }
    write_hits(part, hits);
}

/// A bossa nova: closed hi-hat 8ths (the shaker part, off-beats a touch louder), the
/// cross-stick on the two-bar bossa clave, and the kick with the bass (1, the 8th before 3, 3,
/// the 8th before the next 1). Straight 8ths come from the feel, not from here.
fn bossa(part: &mut Part, cue: &mut SectionCue) {
    let (harmony, rng) = (&cue.harmony, &mut *cue.rng);
    let range = cue.config.range(Instrument::Drums);
    let per_bar = harmony.meter.steps_per_bar();
    let mut hits: Vec<Vec<Note>> = vec![Vec::new(); part.steps.len()];
    for bar in 0..part.steps.len() / per_bar {
        let base = bar * per_bar;
        let mut add = |step: usize, key: u8, vel: u8| {
            if range.contains(key) && step < per_bar {
                hits[base + step].push(Note { key, velocity: vel });
            }
        };
        for step in (0..per_bar).step_by(2) {
            let off_beat = step % 4 == 2;
            add(
                step,
                gm::CLOSED_HAT,
                velocity(rng, if off_beat { 62 } else { 50 }, 4),
            );
        }
        for &step in bossa_clave((harmony.first_bar + bar) % 2 == 1) {
            add(step, gm::SIDE_STICK, velocity(rng, 70, 5));
        }
        for (step, centre) in [(0, 70), (6, 52), (8, 64), (14, 52)] {
            add(step, gm::KICK, velocity(rng, centre, 5));
        }
    }
    write_hits(part, hits);
}

/// The cross-stick's steps in the first or second bar of the two-bar bossa clave.
pub fn bossa_clave(second_bar: bool) -> &'static [usize] {
    if second_bar {
        &[4, 10]
    } else {
        &[0, 6, 12]
    }
}
