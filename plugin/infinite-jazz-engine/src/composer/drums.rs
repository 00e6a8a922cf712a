//! Swing drums: ride cymbal time, hi-hat on 2 and 4, a feathered kick, snare comping,
//! and fills that mark the end of each four-bar phrase.

use super::{velocity, SectionCue};
use crate::section::{Instrument, Note, Part, STEPS_PER_BAR};

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
        let (harmony, rng) = (&cue.harmony, &mut *cue.rng);
        let range = cue.config.range(Instrument::Drums);
        let bars = part.steps.len() / STEPS_PER_BAR;
        let mut hits: Vec<Vec<Note>> = vec![Vec::new(); part.steps.len()];
        for bar in 0..bars {
            let song_bar = harmony.first_bar + bar;
            let base = bar * STEPS_PER_BAR;
            let phrase_end = song_bar % PHRASE_BARS == PHRASE_BARS - 1;
            let big_fill = song_bar % (PHRASE_BARS * 2) == PHRASE_BARS * 2 - 1;
            let fill_from = if big_fill { 8 } else { 12 };
            if song_bar % (PHRASE_BARS * 2) == 0 {
                self.feathering = rng.f32() < 0.7;
            }
            let mut add = |step: usize, key: u8, vel: u8| {
                if range.contains(key) {
                    hits[base + step].push(Note { key, velocity: vel });
                }
            };
            // Ride: quarters with the swung skip note after 2 and 4.
            for (step, centre) in [(0, 72), (4, 84), (6, 62), (8, 74), (12, 84), (14, 62)] {
                if phrase_end && step >= fill_from {
                    continue;
                }
                let key = if song_bar > 0 && song_bar % PHRASE_BARS == 0 && step == 0 {
                    gm::CRASH
                } else {
                    gm::RIDE
                };
                add(step, key, velocity(rng, centre, 6));
            }
            if rng.f32() < 0.12 {
                add(2, gm::RIDE, velocity(rng, 58, 5));
            }
            // Hi-hat foot on 2 and 4.
            add(4, gm::PEDAL_HAT, velocity(rng, 68, 6));
            add(12, gm::PEDAL_HAT, velocity(rng, 68, 6));
            // Kick: feathered quarters, a downbeat push after fills, the odd "bomb".
            if self.feathering {
                for step in [0, 4, 8, 12] {
                    if !(phrase_end && step >= fill_from) {
                        add(step, gm::KICK, velocity(rng, 32, 5));
                    }
                }
            }
            if song_bar > 0 && song_bar % PHRASE_BARS == 0 {
                add(0, gm::KICK, velocity(rng, 92, 6));
            } else if rng.f32() < 0.15 {
                let step = [6, 10, 14][rng.usize(..3)];
                if !(phrase_end && step >= fill_from) {
                    add(step, gm::KICK, velocity(rng, 78, 8));
                }
            }
            // Snare comping on swung off-beats, sparse and soft.
            let comps = rng.usize(0..=2);
            for _ in 0..comps {
                let step = [2, 6, 10, 14, 3, 11][rng.usize(..6)];
                if !(phrase_end && step >= fill_from) {
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
                for step in fill_from..STEPS_PER_BAR {
                    // Swung 8ths, with 16th pickups that thicken towards the bar line.
                    let on_eighth = step % 2 == 0;
                    let density = (step - fill_from) as f32 / (STEPS_PER_BAR - fill_from) as f32;
                    let pickup = step == STEPS_PER_BAR - 1;
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
        for (step, notes) in hits.into_iter().enumerate() {
            let mut notes = notes;
            notes.sort_by_key(|n| n.key);
            notes.dedup_by_key(|n| n.key);
            part.set(step, notes);
        }
    }
}

impl Default for Drummer {
    fn default() -> Self {
        Self::new()
    }
}
