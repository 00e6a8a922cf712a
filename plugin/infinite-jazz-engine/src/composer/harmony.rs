//! Chords, chord symbols and the song forms the built-in composer plays over.

use crate::pitch::parse_note_name;
use serde::{Deserialize, Serialize};
use thiserror::Error;

const NAMES: [&str; 12] = [
    "C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B",
];

/// The kind of seventh chord (or sixth) built on a root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Quality {
    /// Major seventh: 1 3 5 7, Ionian.
    Maj7,
    /// Major sixth: 1 3 5 6, a tonic colour.
    Maj6,
    /// Dominant seventh: 1 3 5 b7, Mixolydian.
    Dom7,
    /// Minor seventh: 1 b3 5 b7, Dorian.
    Min7,
    /// Half-diminished (m7b5): 1 b3 b5 b7, Locrian with a natural 9.
    HalfDim,
    /// Diminished seventh: 1 b3 b5 bb7, the whole-half diminished scale.
    Dim7,
}

impl Quality {
    /// Chord tones as semitones above the root.
    pub fn tones(self) -> [u8; 4] {
        match self {
            Quality::Maj7 => [0, 4, 7, 11],
            Quality::Maj6 => [0, 4, 7, 9],
            Quality::Dom7 => [0, 4, 7, 10],
            Quality::Min7 => [0, 3, 7, 10],
            Quality::HalfDim => [0, 3, 6, 10],
            Quality::Dim7 => [0, 3, 6, 9],
        }
    }

    /// The chord-scale a soloist or walking bass draws passing tones from.
    pub fn scale(self) -> &'static [u8] {
        match self {
            Quality::Maj7 | Quality::Maj6 => &[0, 2, 4, 5, 7, 9, 11],
            // Mixolydian.
            Quality::Dom7 => &[0, 2, 4, 5, 7, 9, 10],
            // Dorian.
            Quality::Min7 => &[0, 2, 3, 5, 7, 9, 10],
            // Locrian with a natural 9, the usual choice over m7b5.
            Quality::HalfDim => &[0, 2, 3, 5, 6, 8, 10],
            // Whole-half diminished.
            Quality::Dim7 => &[0, 2, 3, 5, 6, 8, 9, 11],
        }
    }

    /// Two rootless four-note voicings (Bill Evans "A" and "B" forms), as semitones above
    /// the root. The bass has the root, so the piano plays 3rds, 7ths and colour tones.
    pub fn rootless_voicings(self) -> [[u8; 4]; 2] {
        match self {
            // 3 5 7 9 / 7 9 3 5
            Quality::Maj7 => [[4, 7, 11, 14], [11, 14, 16, 19]],
            // 3 5 6 9 / 6 9 3 5
            Quality::Maj6 => [[4, 7, 9, 14], [9, 14, 16, 19]],
            // 3 13 7 9 / 7 9 3 13
            Quality::Dom7 => [[4, 9, 10, 14], [10, 14, 16, 21]],
            // b3 5 b7 9 / b7 9 b3 5
            Quality::Min7 => [[3, 7, 10, 14], [10, 14, 15, 19]],
            // b3 b5 b7 R / b7 R b3 b5
            Quality::HalfDim => [[3, 6, 10, 12], [10, 12, 15, 18]],
            Quality::Dim7 => [[3, 6, 9, 12], [9, 12, 15, 18]],
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Quality::Maj7 => "maj7",
            Quality::Maj6 => "6",
            Quality::Dom7 => "7",
            Quality::Min7 => "m7",
            Quality::HalfDim => "m7b5",
            Quality::Dim7 => "dim7",
        }
    }
}

/// A chord symbol: a root and a quality, e.g. Dm7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chord {
    /// Pitch class of the root, 0 = C.
    pub root: u8,
    /// Which seventh chord it is.
    pub quality: Quality,
}

impl Chord {
    /// The chord on `root` (any pitch, taken as a pitch class).
    pub fn new(root: u8, quality: Quality) -> Self {
        Chord {
            root: root % 12,
            quality,
        }
    }

    /// The same chord `semitones` higher.
    pub fn transposed(self, semitones: u8) -> Self {
        Chord::new(self.root + semitones % 12, self.quality)
    }

    /// Pitch classes of the chord tones, root first.
    pub fn pitch_classes(self) -> [u8; 4] {
        self.quality.tones().map(|t| (self.root + t) % 12)
    }

    /// Whether `key` (a MIDI note, any octave) is a chord tone.
    pub fn contains(self, key: u8) -> bool {
        self.pitch_classes().contains(&(key % 12))
    }

    /// Whether `key` belongs to the chord's scale (chord tones and the tensions that fit).
    pub fn scale_contains(self, key: u8) -> bool {
        let interval = (key % 12 + 12 - self.root) % 12;
        self.quality.scale().contains(&interval)
    }

    /// The chord's symbol as a musician writes it, e.g. `Bbmaj7`.
    pub fn symbol(self) -> String {
        format!("{}{}", NAMES[usize::from(self.root)], self.quality.suffix())
    }
}

/// A chord symbol or progression the composer cannot read.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ChordError {
    /// A word that is no chord symbol.
    #[error("{0:?} is not a chord symbol (try Dm7, G7, Cmaj7, Bm7b5, C#dim7)")]
    BadSymbol(String),
    /// A bar with no chords or more than four.
    #[error("a bar holds 1 to 4 chords, found {0}")]
    BadBar(usize),
    /// Nothing to play: no bars at all.
    #[error("the progression has no bars")]
    Empty,
    /// More bars than a form may have.
    #[error("a progression has at most {max} bars")]
    TooLong {
        /// The limit, [`MAX_PROGRESSION_BARS`].
        max: usize,
    },
}

/// Reads `Dm7`, `G7`, `Cmaj7`, `C^7`, `F6`, `Bbm7`, `C-7`, `Bm7b5`, `Bø`, `C#dim7`, `Co7`,
/// `G9`, `G7alt`, `C`, `Am`. Extensions fold into the four qualities the band voices.
pub fn parse_chord_symbol(symbol: &str) -> Result<Chord, ChordError> {
    let bad = || ChordError::BadSymbol(symbol.chars().take(24).collect());
    let mut split = 1;
    let bytes = symbol.as_bytes();
    if bytes.is_empty() {
        return Err(bad());
    }
    if matches!(bytes.get(1), Some(b'#' | b'b')) {
        split = 2;
    }
    if !symbol.is_char_boundary(split) {
        return Err(bad());
    }
    let (root_text, suffix) = symbol.split_at(split);
    let root = parse_note_name(&format!("{root_text}4")).ok_or_else(bad)? % 12;
    let quality = match suffix {
        "maj7" | "M7" | "^7" | "^" | "Δ" | "Δ7" | "maj9" | "maj" | "M" | "" => Quality::Maj7,
        "6" | "69" | "6/9" => Quality::Maj6,
        "7" | "9" | "13" | "7alt" | "7b9" | "7#9" | "7#11" | "7b13" | "7sus" | "9sus" => {
            Quality::Dom7
        }
        "m7" | "-7" | "min7" | "m9" | "-9" | "m" | "-" | "min" | "m6" | "-6" | "m11" => {
            Quality::Min7
        }
        "m7b5" | "-7b5" | "ø" | "ø7" | "h7" => Quality::HalfDim,
        "dim7" | "o7" | "°7" | "dim" | "o" | "°" => Quality::Dim7,
        _ => return Err(bad()),
    };
    Ok(Chord::new(root, quality))
}

/// A chord and how many beats of its bar it fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChordSpan {
    /// The chord.
    pub chord: Chord,
    /// The beat of the bar it starts on (0-based).
    pub start_beat: u8,
    /// How many beats it lasts.
    pub beats: u8,
}

/// Bars of 4/4 harmony that repeat as a chorus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progression {
    bars: Vec<Vec<ChordSpan>>,
}

/// The longest progression a user may type: long enough for any standard form.
pub const MAX_PROGRESSION_BARS: usize = 64;

impl Progression {
    /// Parses bars separated by `|`, chords by spaces: `Dm7 G7 | Cmaj7 |`. One chord fills
    /// the bar, two split it 2+2, three 2+1+1, four 1+1+1+1.
    pub fn parse(text: &str) -> Result<Self, ChordError> {
        let mut bars = Vec::new();
        for bar_text in text.split('|') {
            let symbols: Vec<&str> = bar_text.split_whitespace().collect();
            if symbols.is_empty() {
                continue;
            }
            let lengths: &[u8] = match symbols.len() {
                1 => &[4],
                2 => &[2, 2],
                3 => &[2, 1, 1],
                4 => &[1, 1, 1, 1],
                n => return Err(ChordError::BadBar(n)),
            };
            let mut start_beat = 0;
            let mut bar = Vec::with_capacity(symbols.len());
            for (symbol, beats) in symbols.iter().zip(lengths) {
                bar.push(ChordSpan {
                    chord: parse_chord_symbol(symbol)?,
                    start_beat,
                    beats: *beats,
                });
                start_beat += beats;
            }
            bars.push(bar);
            if bars.len() > MAX_PROGRESSION_BARS {
                return Err(ChordError::TooLong {
                    max: MAX_PROGRESSION_BARS,
                });
            }
        }
        if bars.is_empty() {
            return Err(ChordError::Empty);
        }
        Ok(Progression { bars })
    }

    /// Bars in one chorus.
    pub fn len_bars(&self) -> usize {
        self.bars.len()
    }

    /// The chords of bar `bar`, counting from the top of the first chorus; the form repeats.
    pub fn bar(&self, bar: usize) -> &[ChordSpan] {
        &self.bars[bar % self.bars.len()]
    }

    /// The chord sounding on beat `beat` (0..4) of bar `bar`.
    pub fn chord_at(&self, bar: usize, beat: usize) -> Chord {
        let spans = self.bar(bar);
        spans
            .iter()
            .rev()
            .find(|s| usize::from(s.start_beat) <= beat)
            .unwrap_or(&spans[0])
            .chord
    }

    /// The same changes `semitones` higher.
    pub fn transposed(&self, semitones: u8) -> Self {
        Progression {
            bars: self
                .bars
                .iter()
                .map(|bar| {
                    bar.iter()
                        .map(|s| ChordSpan {
                            chord: s.chord.transposed(semitones),
                            ..*s
                        })
                        .collect()
                })
                .collect(),
        }
    }

    /// `| Dm7 G7 | Cmaj7 |` style text, readable by [`Progression::parse`] and by a model.
    pub fn describe(&self, first_bar: usize, bars: usize) -> String {
        let mut out = String::from("|");
        for b in first_bar..first_bar + bars {
            for span in self.bar(b) {
                out.push(' ');
                out.push_str(&span.chord.symbol());
            }
            out.push_str(" |");
        }
        out
    }
}

/// The song forms the composer knows, written in C and transposed to the chosen key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Form {
    /// Eight bars of ii–V–I cadences in the major key and its neighbours.
    TwoFiveOne,
    /// 12-bar jazz blues with the turnaround.
    Blues,
    /// "I Got Rhythm" changes: AABA, 32 bars.
    RhythmChanges,
    /// A minor-key cycle of fifths with ii–V–i cadences, 16 bars.
    MinorCycle,
    /// A 32-bar AABA bossa nova: long major chords, a II7 lift, a bridge a fourth up.
    Bossa,
    /// A 16-bar jazz waltz, a chord a bar, cadencing every four bars.
    Waltz,
    /// A modal AABA, 32 bars: eight bars of one minor (Dorian) chord, the bridge a half
    /// step up.
    Modal,
    /// A 32-bar AABA ballad with a chord on every half bar.
    Ballad,
}

impl Form {
    /// Every form, for pickers and random choice.
    pub const ALL: [Form; 8] = [
        Form::TwoFiveOne,
        Form::Blues,
        Form::RhythmChanges,
        Form::MinorCycle,
        Form::Bossa,
        Form::Waltz,
        Form::Modal,
        Form::Ballad,
    ];

    /// The form's name as the command line and presets spell it.
    pub fn name(self) -> &'static str {
        match self {
            Form::TwoFiveOne => "ii-V-I",
            Form::Blues => "blues",
            Form::RhythmChanges => "rhythm changes",
            Form::MinorCycle => "minor cycle",
            Form::Bossa => "bossa AABA",
            Form::Waltz => "jazz waltz",
            Form::Modal => "modal AABA",
            Form::Ballad => "ballad AABA",
        }
    }

    /// The form a name stands for (case, spaces and underscores ignored).
    pub fn from_name(name: &str) -> Option<Form> {
        match name.to_ascii_lowercase().replace(['_', ' '], "-").as_str() {
            "ii-v-i" | "251" | "two-five-one" | "2-5-1" => Some(Form::TwoFiveOne),
            "blues" | "12-bar-blues" => Some(Form::Blues),
            "rhythm" | "rhythm-changes" => Some(Form::RhythmChanges),
            "minor" | "minor-cycle" => Some(Form::MinorCycle),
            "bossa" | "bossa-aaba" => Some(Form::Bossa),
            "waltz" | "jazz-waltz" => Some(Form::Waltz),
            "modal" | "modal-aaba" => Some(Form::Modal),
            "ballad" | "ballad-aaba" => Some(Form::Ballad),
            _ => None,
        }
    }

    fn changes_in_c(self) -> String {
        match self {
            Form::TwoFiveOne => {
                "Dm7 | G7 | Cmaj7 | Cmaj7 | Fm7 Bb7 | Em7 A7 | Dm7 G7 | Cmaj7 A7".to_string()
            }
            Form::Blues => {
                "C7 | F7 | C7 | Gm7 C7 | F7 | F#dim7 | C7 | Em7 A7 | Dm7 | G7 | C7 A7 | Dm7 G7"
                    .to_string()
            }
            Form::RhythmChanges => {
                let a1 =
                    "Cmaj7 A7 | Dm7 G7 | Em7 A7 | Dm7 G7 | Gm7 C7 | Fmaj7 F#dim7 | Em7 A7 | Dm7 G7";
                let a2 =
                    "Cmaj7 A7 | Dm7 G7 | Em7 A7 | Dm7 G7 | Gm7 C7 | Fmaj7 F#dim7 | Dm7 G7 | C6";
                let bridge = "E7 | E7 | A7 | A7 | D7 | D7 | G7 | G7";
                format!("{a1} | {a2} | {bridge} | {a2}")
            }
            Form::MinorCycle => {
                let a = "Dm7 | G7 | Cmaj7 | Fmaj7 | Bm7b5 | E7 | Am7 | Am7";
                let b = "Bm7b5 | E7 | Am7 | Am7 | Dm7 G7 | Cmaj7 Fmaj7 | Bm7b5 E7 | Am7";
                format!("{a} | {b}")
            }
            Form::Bossa => {
                let a1 = "Cmaj7 | Cmaj7 | D7 | D7 | Dm7 | G7 | Cmaj7 | Dm7 G7";
                let a2 = "Cmaj7 | Cmaj7 | D7 | D7 | Dm7 | G7 | Cmaj7 | Cmaj7";
                let bridge = "Fmaj7 | Fmaj7 | Bb7 | Bb7 | Em7 | A7 | Dm7 | G7";
                format!("{a1} | {a2} | {bridge} | {a2}")
            }
            Form::Waltz => "Cmaj7 | Am7 | Dm7 | G7 | Em7 | A7 | Dm7 | G7 | Fmaj7 | Fm7 | Em7 | A7 | Dm7 | G7 | Cmaj7 | Dm7 G7".to_string(),
            Form::Modal => {
                let a = "Cm7 | Cm7 | Cm7 | Cm7 | Cm7 | Cm7 | Cm7 | Cm7";
                let bridge = "C#m7 | C#m7 | C#m7 | C#m7 | C#m7 | C#m7 | C#m7 | C#m7";
                format!("{a} | {a} | {bridge} | {a}")
            }
            Form::Ballad => {
                let a1 = "Cmaj7 Am7 | Dm7 G7 | Em7 A7 | Dm7 G7 | Cmaj7 C7 | Fmaj7 Fm7 | Em7 A7 | Dm7 G7";
                let a2 = "Cmaj7 Am7 | Dm7 G7 | Em7 A7 | Dm7 G7 | Cmaj7 C7 | Fmaj7 Fm7 | Dm7 G7 | Cmaj7";
                let bridge = "Gm7 C7 | Fmaj7 | Fm7 Bb7 | Ebmaj7 | Am7 D7 | Gmaj7 | Dm7 | G7";
                format!("{a1} | {a2} | {bridge} | {a2}")
            }
        }
    }

    /// The form's progression in the key whose tonic is pitch class `key`.
    pub fn progression(self, key: u8) -> Progression {
        // The forms are constants written and tested here; parsing them cannot fail.
        let in_c = Progression::parse(&self.changes_in_c()).unwrap_or_else(|_| Progression {
            bars: vec![vec![ChordSpan {
                chord: Chord::new(0, Quality::Maj7),
                start_beat: 0,
                beats: 4,
            }]],
        });
        in_c.transposed(key % 12)
    }
}

/// Name of a key's tonic pitch class, as the forms spell it.
pub fn key_name(key: u8) -> &'static str {
    NAMES[usize::from(key % 12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_parse_to_the_expected_chords() {
        assert_eq!(parse_chord_symbol("Dm7"), Ok(Chord::new(2, Quality::Min7)));
        assert_eq!(parse_chord_symbol("Bb7"), Ok(Chord::new(10, Quality::Dom7)));
        assert_eq!(
            parse_chord_symbol("F#m7b5"),
            Ok(Chord::new(6, Quality::HalfDim))
        );
        assert_eq!(
            parse_chord_symbol("Cmaj7"),
            Ok(Chord::new(0, Quality::Maj7))
        );
        assert_eq!(parse_chord_symbol("Ebo7"), Ok(Chord::new(3, Quality::Dim7)));
        assert!(parse_chord_symbol("H7").is_err());
        assert!(parse_chord_symbol("Cfoo").is_err());
        assert!(parse_chord_symbol("").is_err());
        assert!(parse_chord_symbol("é").is_err());
    }

    #[test]
    fn every_form_parses_and_has_its_length() {
        let lengths = [8, 12, 32, 16, 32, 16, 32, 32];
        for (form, len) in Form::ALL.iter().zip(lengths) {
            let p = Progression::parse(&form.changes_in_c()).expect("form parses");
            assert_eq!(p.len_bars(), len, "{}", form.name());
            for b in 0..len {
                let beats: u8 = p.bar(b).iter().map(|s| s.beats).sum();
                assert_eq!(beats, 4);
            }
        }
    }

    #[test]
    fn progressions_transpose_and_describe() {
        let p = Form::TwoFiveOne.progression(5);
        assert_eq!(p.describe(0, 3), "| Gm7 | C7 | Fmaj7 |");
        assert_eq!(p.chord_at(4, 2), Chord::new(3, Quality::Dom7));
        assert_eq!(p.chord_at(8, 0), Chord::new(7, Quality::Min7));
        let round = Progression::parse(&p.describe(0, 8)).expect("parses");
        assert_eq!(round, p);
    }

    #[test]
    fn voicings_hold_the_third_and_seventh() {
        for q in [
            Quality::Maj7,
            Quality::Dom7,
            Quality::Min7,
            Quality::HalfDim,
        ] {
            let tones = q.tones();
            for v in q.rootless_voicings() {
                let pcs: Vec<u8> = v.iter().map(|i| i % 12).collect();
                assert!(pcs.contains(&tones[1]) && pcs.contains(&tones[3]), "{q:?}");
            }
        }
    }
}
