//! The timing model shared by the plugin, the standalone and exported MIDI files.
//!
//! Everything musical is placed in *beats* by [`step_to_beats`]; each output then converts
//! beats to its own unit (samples, MIDI ticks) in one rounding step, so all of them agree.

use super::feel::Feel;
use super::meter::Meter;
use super::section::{Instrument, Section, Step, STEPS_PER_BEAT};
use serde::{Deserialize, Serialize};

/// Straight 8ths: the off-beat halfway through the beat.
pub const MIN_SWING: f64 = 0.50;
/// The hardest swing: the off-beat three quarters through the beat (a dotted-8th feel).
pub const MAX_SWING: f64 = 0.75;
/// A medium swing, a little looser than triplets (0.667).
pub const DEFAULT_SWING: f64 = 0.62;
/// The slowest tempo the band follows.
pub const MIN_TEMPO: f64 = 20.0;
/// The fastest tempo the band follows.
pub const MAX_TEMPO: f64 = 400.0;
/// The longest section one request or composition holds.
pub const MAX_BARS_PER_SECTION: usize = 16;
/// Drum hits are short and fixed: shorter than the tightest 16th gap at maximum swing
/// ((1 − 0.75) / 2 = 0.125 beats), so a hit always ends before the next one on that key.
pub const DRUM_NOTE_BEATS: f64 = 0.1;

/// Swing is kept to four decimals, so a value that passed through an `f32` parameter
/// (0.62 → 0.6200000048) lands on the same grid as the decimal the user sees.
pub fn quantize_swing(swing: f64) -> f64 {
    if swing.is_finite() {
        (swing.clamp(MIN_SWING, MAX_SWING) * 10_000.0).round() / 10_000.0
    } else {
        DEFAULT_SWING
    }
}

/// The whole unit (sample, frame or MIDI tick) nearest to a fractional `position`, a tie going
/// to the earlier one. The plugin, the JACK output, MIDI files and offline renders all place an
/// event this way, so they agree to the unit and are never more than half a unit off.
pub fn nearest_unit(position: f64) -> f64 {
    (position - 0.5).ceil()
}

/// Where 16th step `step` of a section in `meter` lands, in quarter-note beats from the
/// section start.
///
/// Within each quarter, with swing ratio `s`: step 0 at 0, step 1 at s/2, step 2 at s (the
/// swung off-beat 8th), step 3 at s + (1 − s)/2. `s = 0.5` is straight 16ths, and meters whose
/// pulse is the 8th (6/8, 7/8) are always straight ([`Meter::effective_swing`]).
pub fn step_to_beats(step: usize, swing: f64, meter: Meter) -> f64 {
    let s = meter.effective_swing(swing).clamp(MIN_SWING, MAX_SWING);
    let beat = (step / STEPS_PER_BEAT) as f64;
    let within = match step % STEPS_PER_BEAT {
        0 => 0.0,
        1 => s / 2.0,
        2 => s,
        _ => s + (1.0 - s) / 2.0,
    };
    beat + within
}

/// An inclusive MIDI key range an instrument is allowed to play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PitchRange {
    /// Lowest key allowed.
    pub low: u8,
    /// Highest key allowed.
    pub high: u8,
}

impl PitchRange {
    /// The keys from `low` to `high`, both included.
    pub const fn new(low: u8, high: u8) -> Self {
        PitchRange { low, high }
    }

    /// Whether `key` is inside the range.
    pub fn contains(self, key: u8) -> bool {
        (self.low..=self.high).contains(&key)
    }

    /// Moves `key` by octaves into the range, or `None` when the range is narrower than an
    /// octave and no octave of the key fits.
    pub fn fold(self, key: u8) -> Option<u8> {
        let mut k = i32::from(key);
        while k < i32::from(self.low) {
            k += 12;
        }
        while k > i32::from(self.high) {
            k -= 12;
        }
        u8::try_from(k).ok().filter(|k| self.contains(*k))
    }
}

/// Playback settings. Immutable: change it with the `with_*` methods, which clamp to valid
/// values, and share clones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuntimeConfig {
    tempo_bpm: f64,
    swing: f64,
    bars_per_section: usize,
    /// 0-based MIDI channels, indexed by [`Instrument::index`].
    channels: [u8; 4],
    ranges: [PitchRange; 4],
    velocity_scale: [f32; 4],
    #[serde(default)]
    meter: Meter,
    #[serde(default)]
    feel: Feel,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            tempo_bpm: 120.0,
            swing: DEFAULT_SWING,
            bars_per_section: 2,
            // Bass 1, drums 10 (General MIDI percussion), piano 2, sax 3, shown 1-based.
            channels: [0, 9, 1, 2],
            ranges: [
                // Upright bass, E1 to C4.
                PitchRange::new(28, 60),
                // General MIDI percussion map.
                PitchRange::new(35, 81),
                // The comping register of a piano, C2 to C7.
                PitchRange::new(36, 96),
                // Tenor and alto sax sounding range together, Ab2 to F5.
                PitchRange::new(44, 77),
            ],
            velocity_scale: [1.0; 4],
            meter: Meter::COMMON,
            feel: Feel::Swing,
        }
    }
}

impl RuntimeConfig {
    /// Quarter notes per minute.
    pub fn tempo_bpm(&self) -> f64 {
        self.tempo_bpm
    }
    /// Swing ratio, see [`step_to_beats`]; straight in a feel that is never swung (bossa).
    pub fn swing(&self) -> f64 {
        self.feel.swing(self.swing)
    }
    /// The style the band plays in.
    pub fn feel(&self) -> Feel {
        self.feel
    }
    /// Bars in one section.
    pub fn bars_per_section(&self) -> usize {
        self.bars_per_section
    }
    /// The time signature sections are written in.
    pub fn meter(&self) -> Meter {
        self.meter
    }
    /// 16th steps in one section.
    pub fn total_steps(&self) -> usize {
        self.bars_per_section * self.meter.steps_per_bar()
    }
    /// Quarter-note beats in one section.
    pub fn section_beats(&self) -> f64 {
        self.total_steps() as f64 / STEPS_PER_BEAT as f64
    }
    /// 0-based MIDI channel of an instrument.
    pub fn channel(&self, instrument: Instrument) -> u8 {
        self.channels[instrument.index()]
    }
    /// The keys an instrument may play; notes outside are folded in by octaves.
    pub fn range(&self, instrument: Instrument) -> PitchRange {
        self.ranges[instrument.index()]
    }
    /// How much an instrument's velocities are scaled (1.0 leaves them alone).
    pub fn velocity_scale(&self, instrument: Instrument) -> f32 {
        self.velocity_scale[instrument.index()]
    }

    /// The tempo, clamped to [`MIN_TEMPO`]..=[`MAX_TEMPO`] (120 when not a number).
    pub fn with_tempo(mut self, bpm: f64) -> Self {
        self.tempo_bpm = if bpm.is_finite() {
            bpm.clamp(MIN_TEMPO, MAX_TEMPO)
        } else {
            120.0
        };
        self
    }
    /// The swing, clamped and quantised by [`quantize_swing`].
    pub fn with_swing(mut self, swing: f64) -> Self {
        self.swing = quantize_swing(swing);
        self
    }
    /// The style of the sections to write.
    pub fn with_feel(mut self, feel: Feel) -> Self {
        self.feel = feel;
        self
    }
    /// The time signature of the sections to write.
    pub fn with_meter(mut self, meter: Meter) -> Self {
        self.meter = meter;
        self
    }
    /// Bars per section, 1..=[`MAX_BARS_PER_SECTION`].
    pub fn with_bars_per_section(mut self, bars: usize) -> Self {
        self.bars_per_section = bars.clamp(1, MAX_BARS_PER_SECTION);
        self
    }
    /// `channel` is 0-based; values above 15 are clamped.
    pub fn with_channel(mut self, instrument: Instrument, channel: u8) -> Self {
        self.channels[instrument.index()] = channel.min(15);
        self
    }
    /// Ranges narrower than an octave are widened upwards so folding always succeeds.
    pub fn with_range(mut self, instrument: Instrument, range: PitchRange) -> Self {
        let low = range.low.min(115);
        let high = range.high.clamp(low + 12, 127);
        self.ranges[instrument.index()] = PitchRange::new(low, high);
        self
    }
    /// The velocity scale of one instrument, 0.0..=2.0 (1.0 when not a number).
    pub fn with_velocity_scale(mut self, instrument: Instrument, scale: f32) -> Self {
        self.velocity_scale[instrument.index()] = if scale.is_finite() {
            scale.clamp(0.0, 2.0)
        } else {
            1.0
        };
        self
    }

    /// Scales a velocity for an instrument; a note never becomes silent or exceeds 127.
    pub fn scaled_velocity(&self, instrument: Instrument, velocity: u8) -> u8 {
        let v = (f32::from(velocity) * self.velocity_scale(instrument)).round();
        v.clamp(1.0, 127.0) as u8
    }
}

/// One note of a section placed in time, in beats from the section start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoteSpan {
    /// Who plays it.
    pub instrument: Instrument,
    /// 0-based MIDI channel.
    pub channel: u8,
    /// MIDI key.
    pub key: u8,
    /// 1..=127, already scaled by the instrument's velocity scale.
    pub velocity: u8,
    /// Step the note starts on.
    pub step: usize,
    /// Onset, swung.
    pub start_beats: f64,
    /// Release: the start of the first step after the note's ties, or a drum hit's fixed length.
    pub end_beats: f64,
}

/// Where a note that starts on `step` of `steps` ends: a drum hit is `None` (it lasts
/// [`DRUM_NOTE_BEATS`]); a pitched note ends at the step after its last tied step. The one
/// statement of the tie rule, for the timing model and the audio thread's compact form alike.
pub fn tied_end_step(instrument: Instrument, steps: &[Step], step: usize) -> Option<usize> {
    if instrument.is_percussion() {
        return None;
    }
    let ties = steps
        .get(step + 1..)
        .unwrap_or(&[])
        .iter()
        .take_while(|s| matches!(s, Step::Tie))
        .count();
    Some(step + 1 + ties)
}

/// Places every note of a section in time.
///
/// A pitched note lasts from its step to the end of its last tied step; a drum hit lasts
/// [`DRUM_NOTE_BEATS`]. A tie on a section's first step has nothing to continue and rests.
/// Sorted by start time, then instrument, then key.
pub fn section_note_spans(section: &Section, config: &RuntimeConfig) -> Vec<NoteSpan> {
    let swing = config.swing();
    let meter = section.meter;
    let mut spans = Vec::new();
    for instrument in Instrument::ALL {
        let steps = &section.part(instrument).steps;
        for (step, content) in steps.iter().enumerate() {
            let Step::Notes(notes) = content else {
                continue;
            };
            let start_beats = step_to_beats(step, swing, meter);
            let end_beats = match tied_end_step(instrument, steps, step) {
                None => start_beats + DRUM_NOTE_BEATS,
                Some(end) => step_to_beats(end, swing, meter),
            };
            for note in notes {
                spans.push(NoteSpan {
                    instrument,
                    channel: config.channel(instrument),
                    key: note.key,
                    velocity: config.scaled_velocity(instrument, note.velocity),
                    step,
                    start_beats,
                    end_beats,
                });
            }
        }
    }
    spans.sort_by(|a, b| {
        a.start_beats
            .total_cmp(&b.start_beats)
            .then(a.instrument.cmp(&b.instrument))
            .then(a.key.cmp(&b.key))
    });
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::section::{Note, Part};

    #[test]
    fn swing_grid_follows_the_formula() {
        let s = 0.62;
        assert_eq!(step_to_beats(0, s, Meter::COMMON), 0.0);
        assert!((step_to_beats(1, s, Meter::COMMON) - 0.31).abs() < 1e-12);
        assert!((step_to_beats(2, s, Meter::COMMON) - 0.62).abs() < 1e-12);
        assert!((step_to_beats(3, s, Meter::COMMON) - 0.81).abs() < 1e-12);
        assert_eq!(step_to_beats(4, s, Meter::COMMON), 1.0);
        assert!((step_to_beats(6, 0.5, Meter::COMMON) - 1.5).abs() < 1e-12);
        // Out-of-range swing is clamped, not extrapolated.
        assert_eq!(step_to_beats(2, 0.9, Meter::COMMON), 0.75);
    }

    #[test]
    fn swing_from_an_f32_parameter_lands_on_the_decimal_grid() {
        assert_eq!(quantize_swing(f64::from(0.62f32)), 0.62);
        assert_eq!(quantize_swing(f64::from(0.7153f32)), 0.7153);
        assert_eq!(quantize_swing(f64::NAN), DEFAULT_SWING);
        assert_eq!(
            RuntimeConfig::default()
                .with_swing(f64::from(0.66f32))
                .swing(),
            0.66
        );
    }

    #[test]
    fn grid_is_strictly_increasing_for_every_swing() {
        for i in 0..=25 {
            let s = MIN_SWING + (MAX_SWING - MIN_SWING) * f64::from(i) / 25.0;
            for step in 0..64 {
                assert!(
                    step_to_beats(step + 1, s, Meter::COMMON)
                        > step_to_beats(step, s, Meter::COMMON)
                );
            }
        }
    }

    #[test]
    fn ties_extend_notes_and_drums_stay_short() {
        let mut section = Section::empty(16);
        let bass = section.part_mut(Instrument::Bass);
        bass.set(
            0,
            vec![Note {
                key: 36,
                velocity: 90,
            }],
        );
        bass.hold(0, 3);
        let drums = section.part_mut(Instrument::Drums);
        drums.set(
            2,
            vec![Note {
                key: 38,
                velocity: 50,
            }],
        );
        drums.steps[3] = Step::Tie;
        let config = RuntimeConfig::default().with_swing(0.6);
        let spans = section_note_spans(&section, &config);
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].key, 36);
        assert!((spans[0].end_beats - step_to_beats(3, 0.6, Meter::COMMON)).abs() < 1e-12);
        assert_eq!(spans[1].key, 38);
        assert!((spans[1].end_beats - (0.6 + DRUM_NOTE_BEATS)).abs() < 1e-12);
        assert_eq!(spans[1].channel, 9);
    }

    #[test]
    fn leading_tie_rests_and_last_note_ends_at_section_end() {
        let mut part = Part::resting(16);
        part.steps[0] = Step::Tie;
        part.set(
            15,
            vec![Note {
                key: 60,
                velocity: 70,
            }],
        );
        let mut section = Section::empty(16);
        section.parts[Instrument::Sax.index()] = part;
        let spans = section_note_spans(&section, &RuntimeConfig::default());
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].end_beats, 4.0);
    }

    #[test]
    fn velocity_scaling_never_silences_or_overflows() {
        let c = RuntimeConfig::default()
            .with_velocity_scale(Instrument::Piano, 0.0)
            .with_velocity_scale(Instrument::Sax, 2.0);
        assert_eq!(c.scaled_velocity(Instrument::Piano, 100), 1);
        assert_eq!(c.scaled_velocity(Instrument::Sax, 100), 127);
        assert_eq!(c.scaled_velocity(Instrument::Bass, 64), 64);
    }

    #[test]
    fn fold_moves_by_octaves() {
        let r = PitchRange::new(28, 60);
        assert_eq!(r.fold(24), Some(36));
        assert_eq!(r.fold(72), Some(60));
        assert_eq!(r.fold(40), Some(40));
        assert_eq!(PitchRange::new(60, 62).fold(51), None);
    }
}
