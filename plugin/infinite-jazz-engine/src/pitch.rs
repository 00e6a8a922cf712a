//! Scientific pitch names (`C4` = MIDI 60) as the tracker format spells them.

/// Sharps are written because a model reads `C#` more reliably than `Db`; flats are accepted.
const SHARP_NAMES: [&str; 12] = [
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
];

/// The canonical name of a MIDI key, e.g. 60 → `C4`, 46 → `A#2`, 0 → `C-1`.
pub fn note_name(key: u8) -> String {
    let octave = i32::from(key / 12) - 1;
    format!("{}{}", SHARP_NAMES[usize::from(key % 12)], octave)
}

/// Parses `C4`, `Bb2`, `F#5`, `c-1`, `E♭3` into a MIDI key. Returns `None` for anything else,
/// including names outside 0..=127.
pub fn parse_note_name(text: &str) -> Option<u8> {
    let mut chars = text.chars().peekable();
    let letter = chars.next()?.to_ascii_uppercase();
    let base: i32 = match letter {
        'C' => 0,
        'D' => 2,
        'E' => 4,
        'F' => 5,
        'G' => 7,
        'A' => 9,
        'B' => 11,
        _ => return None,
    };
    let mut accidental: i32 = 0;
    while let Some(&c) = chars.peek() {
        match c {
            '#' | '♯' => accidental += 1,
            'b' | '♭' => accidental -= 1,
            _ => break,
        }
        chars.next();
        if accidental.abs() > 2 {
            return None;
        }
    }
    let rest: String = chars.collect();
    if rest.is_empty() || rest.len() > 3 {
        return None;
    }
    let octave: i32 = rest.parse().ok()?;
    let key = (octave + 1) * 12 + base + accidental;
    u8::try_from(key).ok().filter(|k| *k <= 127)
}

/// Pitch class (0 = C … 11 = B) of a key.
pub fn pitch_class(key: u8) -> u8 {
    key % 12
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_scientific_pitch() {
        assert_eq!(parse_note_name("C4"), Some(60));
        assert_eq!(parse_note_name("Bb2"), Some(46));
        assert_eq!(parse_note_name("F#5"), Some(78));
        assert_eq!(parse_note_name("c-1"), Some(0));
        assert_eq!(parse_note_name("G9"), Some(127));
        assert_eq!(parse_note_name("G#9"), None);
        assert_eq!(parse_note_name("Cb-1"), None);
        assert_eq!(parse_note_name("H2"), None);
        assert_eq!(parse_note_name("C"), None);
        assert_eq!(parse_note_name("E♭3"), Some(51));
    }

    #[test]
    fn every_key_round_trips_through_its_name() {
        for key in 0..=127u8 {
            assert_eq!(
                parse_note_name(&note_name(key)),
                Some(key),
                "{}",
                note_name(key)
            );
        }
    }
}
