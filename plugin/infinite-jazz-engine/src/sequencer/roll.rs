//! What the editor's piano roll shows of the section under the playhead, published by the
//! audio thread through a triple buffer (fixed size: copying it allocates nothing).

use super::prepared::PreparedSection;

/// Notes shown per section; a quartet section rarely has more than 300.
pub const MAX_ROLL_NOTES: usize = 512;

/// One note as the roll draws it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RollNote {
    /// Beats from the section start.
    pub start: f32,
    /// Beats from the section start to the release.
    pub end: f32,
    /// [`crate::section::Instrument::index`] of the player.
    pub instrument: u8,
    /// MIDI key.
    pub key: u8,
}

/// The section under the playhead, copied whole into the triple buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct RollSnapshot {
    /// Changes with every new section published.
    pub serial: u64,
    /// Beat of the host timeline where the section starts.
    pub section_start: f64,
    /// Length of the section in beats.
    pub length_beats: f64,
    /// Length of one of its bars in beats (its meter's).
    pub bar_beats: f64,
    /// 0 primary, 1 fallback, 2 reserve.
    pub origin: u8,
    /// How many of `notes` are in use.
    pub count: usize,
    /// The notes, the first `count` of them in use.
    pub notes: [RollNote; MAX_ROLL_NOTES],
}

impl Default for RollSnapshot {
    fn default() -> Self {
        RollSnapshot {
            serial: 0,
            section_start: 0.0,
            length_beats: 0.0,
            bar_beats: 4.0,
            origin: 255,
            count: 0,
            notes: [RollNote::default(); MAX_ROLL_NOTES],
        }
    }
}

impl RollSnapshot {
    /// The notes in use.
    pub fn notes(&self) -> &[RollNote] {
        &self.notes[..self.count.min(MAX_ROLL_NOTES)]
    }

    /// Fills the snapshot in place from a section placed at `start`.
    pub fn fill(&mut self, section: &PreparedSection, start: f64, swing: f64, origin: u8) {
        self.serial = self.serial.wrapping_add(1);
        self.section_start = start;
        self.length_beats = section.length_beats();
        self.bar_beats = section.meter.quarters_per_bar();
        self.origin = origin;
        let mut count = 0;
        for note in section.notes.iter().take(MAX_ROLL_NOTES) {
            self.notes[count] = RollNote {
                start: note.start_beats(swing, section.meter) as f32,
                end: note.end_beats(swing, section.meter) as f32,
                instrument: note.instrument.index() as u8,
                key: note.key,
            };
            count += 1;
        }
        self.count = count;
    }
}
