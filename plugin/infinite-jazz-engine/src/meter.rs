//! Time signatures: how many 16th steps a bar holds, where its beats fall, and whether they
//! swing.
//!
//! The tracker grid stays 16th notes in every meter, so a bar of `n/d` holds `16·n/d` steps and
//! every position can still be given in quarter-note beats (what hosts and MIDI files count).
//! Beats are *pulses* a musician would tap: quarters in `n/4`, dotted quarters in compound
//! `6/8`, `9/8`, `12/8`, groups of two or three 8ths in other `n/8` meters.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU16, Ordering};
use thiserror::Error;

/// The largest numerator accepted; a host may report anything, a quartet plays at most this.
pub const MAX_NUMERATOR: u8 = 32;

/// A time signature the band can play in; see the module notes for how beats fall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Meter {
    numerator: u8,
    denominator: u8,
}

/// A time signature the band cannot play in.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MeterError {
    /// Not written `N/D`.
    #[error("a meter is written like 3/4 or 6/8, not {0:?}")]
    Syntax(String),
    /// A numerator of 0 or more than [`MAX_NUMERATOR`].
    #[error("a bar holds 1 to {MAX_NUMERATOR} beats, not {0}")]
    Numerator(u32),
    /// A note value other than half, quarter, 8th or 16th.
    #[error("the beat unit is 2, 4, 8 or 16, not {0}")]
    Denominator(u32),
}

impl Default for Meter {
    fn default() -> Self {
        Meter::COMMON
    }
}

impl Meter {
    /// 4/4, what the band plays when nobody says otherwise.
    pub const COMMON: Meter = Meter {
        numerator: 4,
        denominator: 4,
    };

    /// A meter of `numerator` beats of `1/denominator` notes.
    pub fn new(numerator: u32, denominator: u32) -> Result<Meter, MeterError> {
        if !(1..=u32::from(MAX_NUMERATOR)).contains(&numerator) {
            return Err(MeterError::Numerator(numerator));
        }
        if ![2, 4, 8, 16].contains(&denominator) {
            return Err(MeterError::Denominator(denominator));
        }
        Ok(Meter {
            numerator: numerator as u8,
            denominator: denominator as u8,
        })
    }

    /// The meter a host reports, or 4/4 when it reports none or one the band cannot play.
    pub fn from_host(numerator: Option<i32>, denominator: Option<i32>) -> Meter {
        match (numerator, denominator) {
            (Some(n), Some(d)) if n > 0 && d > 0 => {
                Meter::new(n as u32, d as u32).unwrap_or(Meter::COMMON)
            }
            _ => Meter::COMMON,
        }
    }

    /// Beats in a bar, as written (the 3 of 3/4).
    pub fn numerator(self) -> u8 {
        self.numerator
    }

    /// The note value of a beat, as written (the 4 of 3/4).
    pub fn denominator(self) -> u8 {
        self.denominator
    }

    /// 16th steps in one bar.
    pub fn steps_per_bar(self) -> usize {
        usize::from(self.numerator) * 16 / usize::from(self.denominator)
    }

    /// Quarter-note beats in one bar (3 in 3/4, 3 in 6/8, 3.5 in 7/8).
    pub fn quarters_per_bar(self) -> f64 {
        self.steps_per_bar() as f64 / 4.0
    }

    /// Compound meters (6/8, 9/8, 12/8) count dotted quarters and are played with straight
    /// 8ths, in groups of three.
    pub fn is_compound(self) -> bool {
        self.denominator == 8 && self.numerator % 3 == 0 && self.numerator >= 6
    }

    /// Whether swing applies: only when the pulse is a quarter or a half note, where the
    /// off-beat 8th sits between two beats. In 8th-note meters the 8ths are the pulse and stay
    /// straight.
    pub fn swings(self) -> bool {
        self.denominator <= 4
    }

    /// The swing ratio to place steps with in this meter: `swing` where the meter swings,
    /// straight otherwise.
    pub fn effective_swing(self, swing: f64) -> f64 {
        if self.swings() {
            swing
        } else {
            crate::timing::MIN_SWING
        }
    }

    /// The beats a musician taps through one bar, as `(first step, length in steps)`.
    pub fn pulses(self) -> impl Iterator<Item = (usize, usize)> {
        let steps = self.steps_per_bar();
        let unit = match self.denominator {
            2 => 8,
            4 => 4,
            8 if self.is_compound() => 6,
            _ => 4,
        };
        let mut lengths = [0usize; 2 * MAX_NUMERATOR as usize];
        let mut count = 0;
        let mut at = 0;
        while at < steps {
            let left = steps - at;
            // An odd 8th or 16th left at the end joins the last pulse (2+2+3, 4+4+5).
            let len = if left < 2 * unit && left > unit && self.denominator >= 8 {
                left
            } else {
                unit.min(left)
            };
            lengths[count] = len;
            count += 1;
            at += len;
        }
        let mut start = 0;
        lengths.into_iter().take(count).map(move |len| {
            let pulse = (start, len);
            start += len;
            pulse
        })
    }

    /// Beats in one bar (quarters in 3/4, two dotted quarters in 6/8, three in 7/8).
    pub fn pulse_count(self) -> usize {
        self.pulses().count()
    }

    /// The pulse holding step `step_in_bar` (0 for steps past the bar).
    pub fn pulse_of_step(self, step_in_bar: usize) -> usize {
        self.pulses()
            .position(|(start, len)| (start..start + len).contains(&step_in_bar))
            .unwrap_or(0)
    }

    /// Whether pulse `pulse` begins a group and is accented: the 1 of every bar, the 3 of 4/4,
    /// the 4 of 5/4 (3+2) and the 5 of 7/4 (4+3). Long meters are grouped in fours and a
    /// last three or pair of twos.
    pub fn is_strong_pulse(self, pulse: usize) -> bool {
        let n = self.pulse_count();
        if pulse == 0 {
            return true;
        }
        match n {
            0..=3 => false,
            4 => pulse == 2,
            5 => pulse == 3,
            6 => pulse == 3,
            _ => {
                // Fours, ending 4+3, 3+3 or 3+2 so no group is shorter than two.
                let mut start = 0;
                while start < n {
                    let left = n - start;
                    if start == pulse {
                        return true;
                    }
                    start += match left {
                        5 => 3,
                        6 => 3,
                        _ => 4,
                    };
                }
                false
            }
        }
    }
}

/// The meter the band plays in right now (the host's, a JACK timebase master's, or its own),
/// set by the audio thread and read by the section worker: one atomic, so setting it never
/// blocks or allocates.
#[derive(Debug, Default)]
pub struct BandMeter(AtomicU16);

impl BandMeter {
    /// Records the meter in force; whether it differs from the one recorded before. One
    /// thread writes (the audio or JACK thread); any may read.
    pub fn set(&self, meter: Meter) -> bool {
        let packed = (u16::from(meter.numerator) << 8) | u16::from(meter.denominator);
        // Called every block: a plain load when nothing changed, no read-modify-write.
        if self.0.load(Ordering::Acquire) == packed {
            return false;
        }
        self.0.store(packed, Ordering::Release);
        true
    }

    /// Records the meter in force and, when it is new, tells the worker to read its settings
    /// (which ask [`BandMeter::get`]) again.
    pub fn follow(&self, meter: Meter, changed: &crate::worker::SettingsChanged) {
        if self.set(meter) {
            changed.notify();
        }
    }

    /// The meter last recorded, if any was.
    pub fn get(&self) -> Option<Meter> {
        let packed = self.0.load(Ordering::Acquire);
        Meter::new(u32::from(packed >> 8), u32::from(packed & 0xFF)).ok()
    }
}

impl fmt::Display for Meter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.numerator, self.denominator)
    }
}

impl FromStr for Meter {
    type Err = MeterError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (n, d) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| MeterError::Syntax(text.chars().take(16).collect()))?;
        let parse = |s: &str| {
            s.trim()
                .parse::<u32>()
                .map_err(|_| MeterError::Syntax(text.chars().take(16).collect()))
        };
        Meter::new(parse(n)?, parse(d)?)
    }
}

impl TryFrom<String> for Meter {
    type Error = MeterError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Meter> for String {
    fn from(meter: Meter) -> String {
        meter.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meter(text: &str) -> Meter {
        text.parse().expect("a meter")
    }

    fn pulses(text: &str) -> Vec<usize> {
        meter(text).pulses().map(|(_, len)| len).collect()
    }

    #[test]
    fn bars_hold_sixteenths_of_the_written_meter() {
        assert_eq!(meter("4/4").steps_per_bar(), 16);
        assert_eq!(meter("3/4").steps_per_bar(), 12);
        assert_eq!(meter("6/8").steps_per_bar(), 12);
        assert_eq!(meter("7/8").steps_per_bar(), 14);
        assert_eq!(meter("5/4").steps_per_bar(), 20);
        assert_eq!(meter("2/2").steps_per_bar(), 16);
        assert_eq!(meter("7/16").steps_per_bar(), 7);
        assert_eq!(meter("7/8").quarters_per_bar(), 3.5);
    }

    #[test]
    fn pulses_group_the_way_musicians_count() {
        assert_eq!(pulses("4/4"), [4, 4, 4, 4]);
        assert_eq!(pulses("3/4"), [4, 4, 4]);
        assert_eq!(pulses("6/8"), [6, 6]);
        assert_eq!(pulses("12/8"), [6, 6, 6, 6]);
        assert_eq!(pulses("7/8"), [4, 4, 6]);
        assert_eq!(pulses("5/8"), [4, 6]);
        assert_eq!(pulses("2/2"), [8, 8]);
        assert_eq!(pulses("9/16"), [4, 5]);
        assert_eq!(pulses("1/16"), [1]);
        for n in 1..=MAX_NUMERATOR {
            for d in [2u32, 4, 8, 16] {
                let m = Meter::new(u32::from(n), d).expect("in range");
                let total: usize = m.pulses().map(|(_, len)| len).sum();
                assert_eq!(total, m.steps_per_bar(), "{m}");
            }
        }
    }

    #[test]
    fn odd_meters_are_accented_in_their_groups() {
        let strong = |text: &str| -> Vec<usize> {
            let m = meter(text);
            (0..m.pulse_count())
                .filter(|p| m.is_strong_pulse(*p))
                .collect()
        };
        assert_eq!(strong("4/4"), [0, 2]);
        assert_eq!(strong("3/4"), [0]);
        assert_eq!(strong("5/4"), [0, 3]);
        assert_eq!(strong("7/4"), [0, 4]);
        assert_eq!(strong("6/8"), [0]);
        assert_eq!(strong("9/4"), [0, 4, 7]);
    }

    #[test]
    fn only_quarter_and_half_note_meters_swing() {
        assert!(meter("4/4").swings() && meter("3/4").swings() && meter("2/2").swings());
        assert!(!meter("6/8").swings() && !meter("7/8").swings());
        assert_eq!(meter("6/8").effective_swing(0.7), 0.5);
        assert_eq!(meter("3/4").effective_swing(0.7), 0.7);
        assert!(meter("6/8").is_compound() && !meter("3/8").is_compound());
    }

    #[test]
    fn the_band_meter_reports_changes_only() {
        let shared = BandMeter::default();
        assert_eq!(shared.get(), None);
        assert!(shared.set(meter("3/4")));
        assert!(!shared.set(meter("3/4")));
        assert_eq!(shared.get(), Some(meter("3/4")));
        assert!(shared.set(meter("12/8")));
        assert_eq!(shared.get(), Some(meter("12/8")));
    }

    #[test]
    fn bad_meters_are_refused_and_a_host_falls_back_to_four_four() {
        assert!(matches!(
            "3/5".parse::<Meter>(),
            Err(MeterError::Denominator(5))
        ));
        assert!(matches!(
            "0/4".parse::<Meter>(),
            Err(MeterError::Numerator(0))
        ));
        assert!(matches!(
            "99/4".parse::<Meter>(),
            Err(MeterError::Numerator(99))
        ));
        assert!(matches!(
            "waltz".parse::<Meter>(),
            Err(MeterError::Syntax(_))
        ));
        assert_eq!(Meter::from_host(Some(3), Some(4)), meter("3/4"));
        assert_eq!(Meter::from_host(Some(-3), Some(4)), Meter::COMMON);
        assert_eq!(Meter::from_host(Some(3), Some(3)), Meter::COMMON);
        assert_eq!(Meter::from_host(None, None), Meter::COMMON);
        assert_eq!(meter(" 6 / 8 ").to_string(), "6/8");
    }
}
