//! Sections in the compact form the audio thread plays: notes sorted twice (by start and by
//! end), built on the worker thread so the audio thread only searches and reads.

use crate::meter::Meter;
use crate::section::{Instrument, Section, Step};
use crate::timing::{step_to_beats, tied_end_step, DRUM_NOTE_BEATS};
use serde::{Deserialize, Serialize};

/// Where a section came from, for the status display and statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SectionOrigin {
    /// The configured source (a language model, or the built-in composer when none is set).
    Primary,
    /// The built-in composer standing in because the primary source was late or failed.
    Fallback,
    /// The section held in reserve for when every queue is empty.
    Reserve,
}

/// One note of a prepared section. Times are steps, turned into beats with the swing in force
/// when the note plays, so a swing change applies to queued sections too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreparedNote {
    /// The 16th step the note starts on.
    pub start_step: u16,
    /// Twice the step the note ends on for pitched notes (a step boundary); for drums, twice
    /// the start step plus one (the hit ends [`DRUM_NOTE_BEATS`] after it starts, always
    /// before the next step). Ordering by this value orders ends in time for every swing.
    pub end_key: u16,
    /// Who plays it (channel, mute and velocity scale are applied as it plays).
    pub instrument: Instrument,
    /// MIDI key.
    pub key: u8,
    /// Velocity before scaling, 1..=127.
    pub velocity: u8,
}

impl PreparedNote {
    /// Onset in beats from the section start, at this swing in the section's meter.
    pub fn start_beats(&self, swing: f64, meter: Meter) -> f64 {
        step_to_beats(usize::from(self.start_step), swing, meter)
    }

    /// Release in beats from the section start, at this swing in the section's meter.
    pub fn end_beats(&self, swing: f64, meter: Meter) -> f64 {
        if self.end_key % 2 == 1 {
            self.start_beats(swing, meter) + DRUM_NOTE_BEATS
        } else {
            step_to_beats(usize::from(self.end_key / 2), swing, meter)
        }
    }
}

/// A section ready for the audio thread.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedSection {
    /// Sorted by start step (then instrument, then key).
    pub notes: Vec<PreparedNote>,
    /// Indices into `notes`, sorted by `end_key`.
    pub by_end: Vec<u16>,
    /// Length in 16th steps.
    pub total_steps: u16,
    /// The time signature it was written in: the sequencer places it only where the host's
    /// bars are in the same meter.
    pub meter: Meter,
    /// Where the section came from (the source, the fallback composer or the reserve).
    pub origin: SectionOrigin,
    /// Sections of an older generation were asked for before a "regenerate" and are skipped.
    pub generation: u32,
    /// The worker's number for this section, reported back when the sequencer places it (so
    /// what is archived is what was heard, in the order it was heard).
    pub serial: u64,
}

/// The serial the sequencer reports when it plays its own reserve section.
pub const RESERVE_SERIAL: u64 = u64::MAX;

/// Sections longer than this are cut: the step index must fit the compact form.
pub const MAX_PREPARED_STEPS: usize = 4096;

impl PreparedSection {
    /// The compact, sorted form of `section`: done on the worker, so the audio thread only reads.
    pub fn new(section: &Section, origin: SectionOrigin, generation: u32) -> Self {
        let total_steps = section.total_steps.min(MAX_PREPARED_STEPS);
        let mut notes = Vec::new();
        for instrument in Instrument::ALL {
            let steps = &section.part(instrument).steps;
            for (step, content) in steps.iter().enumerate().take(total_steps) {
                let Step::Notes(chord) = content else {
                    continue;
                };
                // Odd keys mark drum hits, even ones the step a pitched note ends on.
                let end_key =
                    match tied_end_step(instrument, &steps[..total_steps.min(steps.len())], step) {
                        None => 2 * step + 1,
                        Some(end) => 2 * end,
                    };
                for note in chord {
                    notes.push(PreparedNote {
                        start_step: step as u16,
                        end_key: end_key as u16,
                        instrument,
                        key: note.key.min(127),
                        velocity: note.velocity.clamp(1, 127),
                    });
                }
            }
        }
        notes.sort_by_key(|n| (n.start_step, n.instrument, n.key));
        // A key struck twice on one step by one instrument would need two voices; keep one.
        notes.dedup_by_key(|n| (n.start_step, n.instrument, n.key));
        let mut by_end: Vec<u16> = (0..notes.len() as u16).collect();
        by_end.sort_by_key(|i| notes[usize::from(*i)].end_key);
        PreparedSection {
            notes,
            by_end,
            total_steps: total_steps as u16,
            meter: section.meter,
            origin,
            generation,
            serial: 0,
        }
    }

    /// Length in quarter-note beats.
    pub fn length_beats(&self) -> f64 {
        f64::from(self.total_steps) / 4.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::section::Note;
    use crate::timing::{section_note_spans, RuntimeConfig};

    #[test]
    fn prepared_times_match_the_timing_model() {
        let config = RuntimeConfig::default();
        let mut composer = crate::composer::BuiltinComposer::new(&Default::default());
        let section = composer.compose_next(&config).section;
        let prepared = PreparedSection::new(&section, SectionOrigin::Primary, 0);
        let spans = section_note_spans(&section, &config);
        assert_eq!(prepared.notes.len(), spans.len());
        for swing in [0.5, 0.62, 0.75] {
            let mut starts: Vec<(u64, u64, u8)> = prepared
                .notes
                .iter()
                .map(|n| {
                    (
                        (n.start_beats(swing, prepared.meter) * 1e9) as u64,
                        (n.end_beats(swing, prepared.meter) * 1e9) as u64,
                        n.key,
                    )
                })
                .collect();
            let c = config.clone().with_swing(swing);
            let mut expected: Vec<(u64, u64, u8)> = section_note_spans(&section, &c)
                .iter()
                .map(|s| {
                    (
                        (s.start_beats * 1e9) as u64,
                        (s.end_beats * 1e9) as u64,
                        s.key,
                    )
                })
                .collect();
            starts.sort();
            expected.sort();
            assert_eq!(starts, expected);
            // by_end really orders ends in time at this swing.
            let ends: Vec<f64> = prepared
                .by_end
                .iter()
                .map(|i| prepared.notes[usize::from(*i)].end_beats(swing, prepared.meter))
                .collect();
            assert!(ends.windows(2).all(|w| w[0] <= w[1]));
        }
    }

    #[test]
    fn a_tie_at_the_last_step_ends_at_the_section_end() {
        let mut section = Section::empty(16);
        let bass = section.part_mut(Instrument::Bass);
        bass.set(
            14,
            vec![Note {
                key: 40,
                velocity: 90,
            }],
        );
        bass.steps[15] = Step::Tie;
        let p = PreparedSection::new(&section, SectionOrigin::Primary, 0);
        assert_eq!(p.notes[0].end_beats(0.62, Meter::COMMON), 4.0);
    }
}
