//! The quartet's music as data: four parts of 16th-note steps, in a meter.

use crate::meter::Meter;
use serde::{Deserialize, Serialize};

/// Steps per 4/4 bar: the tracker's grid is 16th notes (see [`Meter::steps_per_bar`]).
pub const STEPS_PER_BAR: usize = 16;
/// Steps per quarter-note beat.
pub const STEPS_PER_BEAT: usize = 4;
/// Most notes one step may hold; more is not music a quartet plays.
pub const MAX_NOTES_PER_STEP: usize = 8;

/// The four players, in the order the tracker format lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Instrument {
    /// Upright bass.
    Bass,
    /// Drum kit (General MIDI drum keys).
    Drums,
    /// Piano.
    Piano,
    /// Tenor saxophone.
    Sax,
}

impl Instrument {
    /// All four, in tracker order (and [`Instrument::index`] order).
    pub const ALL: [Instrument; 4] = [
        Instrument::Bass,
        Instrument::Drums,
        Instrument::Piano,
        Instrument::Sax,
    ];

    /// Header word in the tracker format.
    pub fn header(self) -> &'static str {
        match self {
            Instrument::Bass => "BASS",
            Instrument::Drums => "DRUMS",
            Instrument::Piano => "PIANO",
            Instrument::Sax => "SAX",
        }
    }

    /// Position in [`Instrument::ALL`] and in a section's parts.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether keys are drum sounds rather than pitches.
    pub fn is_percussion(self) -> bool {
        self == Instrument::Drums
    }
}

impl std::fmt::Display for Instrument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.header())
    }
}

/// One sounding pitch at a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// MIDI key, 0..=127.
    pub key: u8,
    /// 1..=127; the parser never lets a silent note through.
    pub velocity: u8,
}

/// What one instrument does on one 16th step.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Step {
    /// Silence: a note still sounding ends here.
    #[default]
    Rest,
    /// The previous step's notes keep sounding.
    Tie,
    /// New notes start here (a chord when more than one); never empty.
    Notes(Vec<Note>),
}

/// One instrument's steps for a section.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Part {
    /// One step per 16th note.
    pub steps: Vec<Step>,
}

impl Part {
    /// A part that rests for `total_steps` steps.
    pub fn resting(total_steps: usize) -> Self {
        Part {
            steps: vec![Step::Rest; total_steps],
        }
    }

    /// How many note starts the part holds (chords count each note).
    pub fn note_count(&self) -> usize {
        self.steps
            .iter()
            .map(|s| match s {
                Step::Notes(n) => n.len(),
                _ => 0,
            })
            .sum()
    }

    /// Sets notes at a step, ignoring indices past the end.
    pub fn set(&mut self, step: usize, notes: Vec<Note>) {
        if let Some(slot) = self.steps.get_mut(step) {
            *slot = if notes.is_empty() {
                Step::Rest
            } else {
                Step::Notes(notes)
            };
        }
    }

    /// Ties `len - 1` steps after `step`, so notes there last `len` steps (clipped at the end).
    pub fn hold(&mut self, step: usize, len: usize) {
        for s in step + 1..(step + len).min(self.steps.len()) {
            self.steps[s] = Step::Tie;
        }
    }
}

/// A stretch of music for the whole quartet, starting on a bar line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    /// Length in 16th-note steps, the same for every part.
    pub total_steps: usize,
    /// Indexed by [`Instrument::index`].
    pub parts: [Part; 4],
    /// The time signature its bars are in (4/4 for music saved before meters existed).
    #[serde(default)]
    pub meter: Meter,
}

impl Section {
    /// A 4/4 section of `total_steps` steps in which nobody plays.
    pub fn empty(total_steps: usize) -> Self {
        Section::empty_in(Meter::COMMON, total_steps)
    }

    /// A section in `meter` of `total_steps` steps in which nobody plays.
    pub fn empty_in(meter: Meter, total_steps: usize) -> Self {
        Section {
            total_steps,
            parts: std::array::from_fn(|_| Part::resting(total_steps)),
            meter,
        }
    }

    /// The part of one instrument.
    pub fn part(&self, instrument: Instrument) -> &Part {
        &self.parts[instrument.index()]
    }

    /// The part of one instrument, to write.
    pub fn part_mut(&mut self, instrument: Instrument) -> &mut Part {
        &mut self.parts[instrument.index()]
    }

    /// Whole bars in the section, in its meter.
    pub fn bars(&self) -> usize {
        self.total_steps / self.meter.steps_per_bar()
    }

    /// Length in quarter-note beats.
    pub fn length_beats(&self) -> f64 {
        self.total_steps as f64 / STEPS_PER_BEAT as f64
    }
}
