//! Feels: the styles a jazz rhythm section is asked for by name — medium swing, a ballad, a
//! burning bebop tempo, a bossa nova, a jazz waltz, a modal vamp.
//!
//! A feel is data the whole band reads: the meter and forms that suit it, the tempi and swing
//! it is played at. How each player plays it is in the composer's players (see
//! [`crate::composer`]); what a language model is told is in its prompt presets.

use crate::composer::harmony::Form;
use crate::meter::Meter;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// The style the band plays in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Feel {
    /// Medium swing: walking bass, ride and hi-hat on 2 and 4, Charleston comping, 8th-note
    /// lines.
    #[default]
    Swing,
    /// Slow, with brushes: soft snare taps, bass in half notes on the first chorus then
    /// walking, sparse comping, long sax notes.
    Ballad,
    /// Fast: 8th-note sax lines with chromatic approaches, a driving ride, short comping stabs.
    Bebop,
    /// Bossa nova: straight 8ths, root–fifth bass, cross-stick clave and hi-hat 8ths, the
    /// bossa comping rhythm.
    Bossa,
    /// Jazz waltz in 3/4: bass on every downbeat walking in three, the ride in three, comping
    /// on 2 and 3.
    Waltz,
    /// Modal: long stretches of one minor chord, quartal piano voicings, Dorian lines.
    Modal,
}

/// A feel name nobody plays.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("unknown feel {0:?}: swing, ballad, bebop, bossa, waltz or modal")]
pub struct FeelError(pub String);

impl Feel {
    /// Every feel, in the order pickers show them.
    pub const ALL: [Feel; 6] = [
        Feel::Swing,
        Feel::Ballad,
        Feel::Bebop,
        Feel::Bossa,
        Feel::Waltz,
        Feel::Modal,
    ];

    /// The name the command line, takes and presets use.
    pub fn name(self) -> &'static str {
        match self {
            Feel::Swing => "swing",
            Feel::Ballad => "ballad",
            Feel::Bebop => "bebop",
            Feel::Bossa => "bossa",
            Feel::Waltz => "waltz",
            Feel::Modal => "modal",
        }
    }

    /// The meter the feel is played in when nobody says otherwise.
    pub fn default_meter(self) -> Meter {
        match self {
            Feel::Waltz => Meter::new(3, 4).unwrap_or(Meter::COMMON),
            _ => Meter::COMMON,
        }
    }

    /// The tempi (BPM) the feel is usually played at.
    pub fn tempo_range(self) -> (f64, f64) {
        match self {
            Feel::Swing => (110.0, 200.0),
            Feel::Ballad => (50.0, 80.0),
            Feel::Bebop => (200.0, 320.0),
            Feel::Bossa => (110.0, 150.0),
            Feel::Waltz => (110.0, 190.0),
            Feel::Modal => (120.0, 180.0),
        }
    }

    /// A tempo in the middle of the feel's range.
    pub fn default_tempo(self) -> f64 {
        match self {
            Feel::Swing => 120.0,
            Feel::Ballad => 66.0,
            Feel::Bebop => 240.0,
            Feel::Bossa => 130.0,
            Feel::Waltz => 150.0,
            Feel::Modal => 140.0,
        }
    }

    /// The swing ratio the feel is played with by default: fast tempi swing flatter, a bossa
    /// not at all.
    pub fn default_swing(self) -> f64 {
        match self {
            Feel::Swing | Feel::Modal => 0.62,
            Feel::Ballad => 0.66,
            Feel::Bebop => 0.58,
            Feel::Bossa => 0.50,
            Feel::Waltz => 0.64,
        }
    }

    /// Whether the feel is played with straight 8ths whatever the swing setting says.
    pub fn plays_straight(self) -> bool {
        self == Feel::Bossa
    }

    /// The swing ratio this feel plays `swing` at: straight in a feel that is never swung.
    pub fn swing(self, swing: f64) -> f64 {
        if self.plays_straight() {
            crate::timing::MIN_SWING
        } else {
            swing
        }
    }

    /// The forms that suit the feel; the composer picks among them when no form is set.
    pub fn forms(self) -> &'static [Form] {
        match self {
            Feel::Swing => &[
                Form::TwoFiveOne,
                Form::Blues,
                Form::RhythmChanges,
                Form::MinorCycle,
            ],
            Feel::Ballad => &[Form::Ballad, Form::TwoFiveOne],
            Feel::Bebop => &[Form::RhythmChanges, Form::Blues],
            Feel::Bossa => &[Form::Bossa],
            Feel::Waltz => &[Form::Waltz],
            Feel::Modal => &[Form::Modal],
        }
    }
}

impl fmt::Display for Feel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Feel {
    type Err = FeelError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let word = text.trim().to_ascii_lowercase();
        let word = match word.as_str() {
            "medium" | "medium-swing" => "swing",
            "bossa-nova" | "bossanova" => "bossa",
            "jazz-waltz" => "waltz",
            "bop" => "bebop",
            other => other,
        };
        Feel::ALL
            .into_iter()
            .find(|f| f.name() == word)
            .ok_or_else(|| FeelError(text.chars().take(24).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_feels_are_refused() {
        for feel in Feel::ALL {
            assert_eq!(feel.name().parse::<Feel>(), Ok(feel));
        }
        assert_eq!(
            "Bossa Nova".replace(' ', "-").parse::<Feel>(),
            Ok(Feel::Bossa)
        );
        assert!("polka".parse::<Feel>().is_err());
    }

    #[test]
    fn defaults_sit_inside_each_feels_ranges() {
        for feel in Feel::ALL {
            let (lo, hi) = feel.tempo_range();
            assert!((lo..=hi).contains(&feel.default_tempo()), "{feel}");
            assert!((0.5..=0.75).contains(&feel.default_swing()), "{feel}");
            assert!(!feel.forms().is_empty());
        }
        assert_eq!(Feel::Waltz.default_meter().to_string(), "3/4");
        assert_eq!(Feel::Bossa.default_swing(), 0.5);
    }
}
