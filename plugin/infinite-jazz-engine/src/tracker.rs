//! The plain-text tracker format: the contract between the quartet and a language model.
//!
//! ```text
//! # tempo: 120
//! BASS
//! C2:80
//! ^
//! .
//! ...
//! DRUMS
//! C2:90,F#2:60
//! ```
//!
//! Four blocks (`BASS`, `DRUMS`, `PIANO`, `SAX`), one line per 16th step: `.` rests, `^` ties,
//! `NOTE:VELOCITY[,NOTE:VELOCITY…]` starts notes. Lines starting with `#` are comments, and
//! `# key: value` lines are metadata. A section that is not in 4/4 starts with `# meter: 3/4`;
//! its blocks then hold the 16ths of that meter (12 a bar in 3/4 and 6/8, 20 in 5/4).
//!
//! Reading is forgiving because models decorate their answers (fences, chatter, `**BASS**`,
//! step numbers), and strict in what it lets through: every fix is listed as a [`Repair`], and
//! the resulting [`Section`] always has the configured length, in-range notes and audible
//! velocities.

use super::listen::PlayerPart;
use super::meter::Meter;
use super::pitch::{note_name, parse_note_name};
use super::section::{Instrument, Note, Section, Step, MAX_NOTES_PER_STEP};
use super::timing::RuntimeConfig;
use std::fmt;
use thiserror::Error;

/// Larger input is refused rather than parsed: a 32-step quartet is a few kilobytes.
pub const MAX_INPUT_BYTES: usize = 256 * 1024;
/// Repairs kept per parse; the rest are only counted.
pub const MAX_REPAIRS: usize = 200;
/// Velocity given to a note written without one.
pub const DEFAULT_VELOCITY: u8 = 80;
/// Longer lines are treated as chatter: no step line is this long.
const MAX_LINE_CHARS: usize = 512;
/// Dropped tokens are quoted in repairs up to this many characters.
const MAX_QUOTED_CHARS: usize = 24;

/// Text that cannot be read as a section at all (everything else is repaired).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// More text than any section needs: refused unread.
    #[error("tracker text is {len} bytes, more than the {max}-byte limit")]
    TooLarge {
        /// Bytes given.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// None of the four instrument headers.
    #[error("no instrument block found (expected BASS, DRUMS, PIANO or SAX headers)")]
    NoInstrumentBlocks,
}

/// One thing the parser had to fix. Steps are 0-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// The instrument had no block: it rests for the section.
    MissingInstrument(Instrument),
    /// A second block for the same instrument: ignored.
    DuplicateBlock(Instrument),
    /// A `PLAYER` block (the musician's part a prompt shows, written back): ignored, the band
    /// does not play it.
    PlayerBlockIgnored,
    /// Fewer step lines than the section has: rests were added at the end.
    PaddedSteps {
        /// The part it happened in.
        instrument: Instrument,
        /// Step lines found.
        found: usize,
        /// Steps the section has.
        expected: usize,
    },
    /// More step lines than the section has: the extra ones were cut.
    TruncatedSteps {
        /// The part it happened in.
        instrument: Instrument,
        /// Step lines found.
        found: usize,
        /// Steps the section has.
        expected: usize,
    },
    /// A note outside the instrument's range, moved by octaves from key `from` to `to`.
    FoldedNote {
        /// The part it happened in.
        instrument: Instrument,
        /// The step, 0-based.
        step: usize,
        /// The key as written.
        from: u8,
        /// The key played.
        to: u8,
    },
    /// A note no octave of which fits the range: dropped.
    OutOfRangeNoteDropped {
        /// The part it happened in.
        instrument: Instrument,
        /// The step, 0-based.
        step: usize,
        /// The key.
        key: u8,
    },
    /// A word that is neither a note, a rest nor a tie (quoted, shortened).
    TokenDropped {
        /// The part it happened in.
        instrument: Instrument,
        /// The step, 0-based.
        step: usize,
        /// The word, shortened for display.
        token: String,
    },
    /// A velocity above 127 (`from`): set to 127.
    VelocityClamped {
        /// The part it happened in.
        instrument: Instrument,
        /// The step, 0-based.
        step: usize,
        /// The velocity as written.
        from: u32,
    },
    /// A note without a velocity: given a default one.
    VelocityMissing {
        /// The part it happened in.
        instrument: Instrument,
        /// The step, 0-based.
        step: usize,
    },
    /// A note of velocity 0: dropped.
    SilentNoteDropped {
        /// The part it happened in.
        instrument: Instrument,
        /// The step, 0-based.
        step: usize,
    },
    /// The same key twice in one step: played once, at the louder velocity.
    DuplicateNoteMerged {
        /// The part it happened in.
        instrument: Instrument,
        /// The step, 0-based.
        step: usize,
        /// The key.
        key: u8,
    },
    /// More than [`MAX_NOTES_PER_STEP`] notes in a step: `dropped` of them left out.
    TooManyNotes {
        /// The part it happened in.
        instrument: Instrument,
        /// The step, 0-based.
        step: usize,
        /// Notes left out.
        dropped: usize,
    },
    /// A numbered step line with nothing on it: a rest.
    EmptyStepLine {
        /// The part it happened in.
        instrument: Instrument,
        /// The step, 0-based.
        step: usize,
    },
    /// A line longer than any step line could be; skipped unread.
    LongLineSkipped {
        /// Its length.
        chars: usize,
    },
}

impl fmt::Display for Repair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Repair::*;
        match self {
            LongLineSkipped { chars } => write!(
                f,
                "a line of {chars} characters skipped (step lines are at most {MAX_LINE_CHARS})"
            ),
            MissingInstrument(i) => write!(f, "{i}: block missing, part rests"),
            DuplicateBlock(i) => write!(f, "{i}: second block ignored"),
            PlayerBlockIgnored => write!(f, "PLAYER block ignored (the band does not play it)"),
            PaddedSteps {
                instrument,
                found,
                expected,
            } => write!(
                f,
                "{instrument}: {found} of {expected} steps, padded with rests"
            ),
            TruncatedSteps {
                instrument,
                found,
                expected,
            } => write!(f, "{instrument}: {found} steps, cut to {expected}"),
            FoldedNote {
                instrument,
                step,
                from,
                to,
            } => write!(
                f,
                "{instrument} step {}: {} out of range, moved to {}",
                step + 1,
                note_name(*from),
                note_name(*to)
            ),
            OutOfRangeNoteDropped {
                instrument,
                step,
                key,
            } => write!(
                f,
                "{instrument} step {}: {} out of range, dropped",
                step + 1,
                note_name(*key)
            ),
            TokenDropped {
                instrument,
                step,
                token,
            } => write!(f, "{instrument} step {}: unreadable {token:?} dropped", step + 1),
            VelocityClamped {
                instrument,
                step,
                from,
            } => write!(f, "{instrument} step {}: velocity {from} clamped to 127", step + 1),
            VelocityMissing { instrument, step } => write!(
                f,
                "{instrument} step {}: no velocity, {DEFAULT_VELOCITY} used",
                step + 1
            ),
            SilentNoteDropped { instrument, step } => {
                write!(f, "{instrument} step {}: velocity 0 note dropped", step + 1)
            }
            DuplicateNoteMerged {
                instrument,
                step,
                key,
            } => write!(
                f,
                "{instrument} step {}: {} twice, merged",
                step + 1,
                note_name(*key)
            ),
            TooManyNotes {
                instrument,
                step,
                dropped,
            } => write!(
                f,
                "{instrument} step {}: {dropped} notes over the {MAX_NOTES_PER_STEP}-note limit dropped",
                step + 1
            ),
            EmptyStepLine { instrument, step } => {
                write!(f, "{instrument} step {}: numbered line without content, rests", step + 1)
            }
        }
    }
}

/// The fixes made while parsing, the first [`MAX_REPAIRS`] of them kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairLog {
    /// The first repairs, in the order they were made.
    pub kept: Vec<Repair>,
    /// How many more there were.
    pub omitted: usize,
}

impl RepairLog {
    fn push(&mut self, repair: Repair) {
        if self.kept.len() < MAX_REPAIRS {
            self.kept.push(repair);
        } else {
            self.omitted += 1;
        }
    }

    /// All repairs made, kept or not.
    pub fn total(&self) -> usize {
        self.kept.len() + self.omitted
    }

    /// Whether the text needed no repair.
    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    /// Instruments whose block was absent from the text.
    pub fn missing_instruments(&self) -> Vec<Instrument> {
        self.kept
            .iter()
            .filter_map(|r| match r {
                Repair::MissingInstrument(i) => Some(*i),
                _ => None,
            })
            .collect()
    }
}

/// A parsed section with what had to be fixed and the `# key: value` lines seen.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedSection {
    /// The section, always complete: every part has every step.
    pub section: Section,
    /// What had to be fixed to get it.
    pub repairs: RepairLog,
    /// The `# key: value` lines, in order, as written.
    pub metadata: Vec<(String, String)>,
}

/// Parses one section, sized and range-checked by `config`.
pub fn parse_section(text: &str, config: &RuntimeConfig) -> Result<ParsedSection, ParseError> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(ParseError::TooLarge {
            len: text.len(),
            max: MAX_INPUT_BYTES,
        });
    }
    let total_steps = config.total_steps();
    let mut repairs = RepairLog::default();
    let mut metadata = Vec::new();
    let mut blocks: [Option<Vec<Step>>; 4] = Default::default();
    let mut state = BlockState::Outside;

    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with("```") || line.starts_with("~~~") {
            continue;
        }
        let chars = line.chars().count();
        if chars > MAX_LINE_CHARS {
            repairs.push(Repair::LongLineSkipped { chars });
            continue;
        }
        if is_player_header(line) {
            repairs.push(Repair::PlayerBlockIgnored);
            state = BlockState::Skipping;
            continue;
        }
        if let Some(instrument) = header_of(line) {
            let slot = &mut blocks[instrument.index()];
            if slot.is_some() {
                repairs.push(Repair::DuplicateBlock(instrument));
                state = BlockState::Skipping;
            } else {
                *slot = Some(Vec::with_capacity(total_steps));
                state = BlockState::Inside(instrument);
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            if let Some(entry) = metadata_entry(rest) {
                metadata.push(entry);
            }
            continue;
        }
        if line.starts_with("//") {
            continue;
        }
        let BlockState::Inside(instrument) = state else {
            continue;
        };
        let Some(steps) = blocks[instrument.index()].as_mut() else {
            continue;
        };
        let step_index = steps.len();
        // Lines past the section's end are only counted: their content is cut anyway.
        if step_index >= total_steps {
            if parse_step_line(
                line,
                instrument,
                step_index,
                config,
                &mut RepairLog::default(),
            )
            .is_some()
            {
                steps.push(Step::Rest);
            }
            continue;
        }
        if let Some(step) = parse_step_line(line, instrument, step_index, config, &mut repairs) {
            steps.push(step);
        }
    }

    if blocks.iter().all(Option::is_none) {
        return Err(ParseError::NoInstrumentBlocks);
    }

    let mut section = Section::empty_in(config.meter(), total_steps);
    for instrument in Instrument::ALL {
        match blocks[instrument.index()].take() {
            None => repairs.push(Repair::MissingInstrument(instrument)),
            Some(mut steps) => {
                let found = steps.len();
                if found < total_steps {
                    repairs.push(Repair::PaddedSteps {
                        instrument,
                        found,
                        expected: total_steps,
                    });
                    steps.resize(total_steps, Step::Rest);
                } else if found > total_steps {
                    repairs.push(Repair::TruncatedSteps {
                        instrument,
                        found,
                        expected: total_steps,
                    });
                    steps.truncate(total_steps);
                }
                section.part_mut(instrument).steps = steps;
            }
        }
    }
    Ok(ParsedSection {
        section,
        repairs,
        metadata,
    })
}

#[derive(Clone, Copy)]
enum BlockState {
    Outside,
    Inside(Instrument),
    /// In a repeated block, whose lines are ignored.
    Skipping,
}

fn instrument_alias(word: &str) -> Option<Instrument> {
    match word.to_ascii_lowercase().as_str() {
        "bass" | "contrabass" | "upright" => Some(Instrument::Bass),
        "drums" | "drum" | "percussion" | "kit" => Some(Instrument::Drums),
        "piano" | "keys" => Some(Instrument::Piano),
        "sax" | "saxophone" | "tenor" | "alto" => Some(Instrument::Sax),
        _ => None,
    }
}

fn is_decoration(c: char) -> bool {
    c.is_whitespace() || "#*_=>[]`:|-".contains(c)
}

/// Recognises `BASS`, `**Bass**`, `## DRUMS`, `Piano:`, `SAX (channel 3)`, `Bass line:`.
fn header_of(line: &str) -> Option<Instrument> {
    let core = line.trim_matches(is_decoration);
    let word_end = core
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(core.len());
    let instrument = instrument_alias(&core[..word_end])?;
    let rest = core[word_end..].trim_matches(is_decoration);
    let rest_lower = rest.to_ascii_lowercase();
    let plain_suffix =
        ["", "part", "line", "track", "sax", "saxophone"].contains(&rest_lower.as_str());
    if plain_suffix || rest.starts_with('(') {
        Some(instrument)
    } else {
        None
    }
}

/// Recognises `PLAYER`, `**Player**`, `PLAYER (channel 4)`: the musician's part a prompt shows.
fn is_player_header(line: &str) -> bool {
    let core = line.trim_matches(is_decoration).to_ascii_lowercase();
    core == "player" || core.starts_with("player (")
}

/// `# key: value` → (`key`, `value`); keys are short words, lower-cased.
fn metadata_entry(after_hash: &str) -> Option<(String, String)> {
    let body = after_hash.trim_start_matches('#').trim();
    let (key, value) = body.split_once(':')?;
    let key = key.trim();
    let valid_key = !key.is_empty()
        && key.len() <= 32
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == ' ');
    valid_key.then(|| (key.to_ascii_lowercase(), value.trim().to_string()))
}

/// Removes `01 `, `1. `, `[01] `, `01: `, `01) ` prefixes. `36:90` is a note, not a number.
fn strip_step_number(line: &str) -> (&str, bool) {
    let s = line.strip_prefix('[').unwrap_or(line);
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 3 {
        return (line, false);
    }
    let after = &s[digits..];
    let after = match after.chars().next() {
        Some(c @ ('.' | ')' | ']' | ':')) => {
            let rest = &after[c.len_utf8()..];
            if c == ':' && !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
                return (line, false);
            }
            rest
        }
        _ => after,
    };
    if after.is_empty() || after.starts_with(char::is_whitespace) {
        (after.trim_start(), true)
    } else {
        (line, false)
    }
}

fn strip_inline_comment(line: &str) -> &str {
    let mut end = line.len();
    if let Some(i) = line.find("//") {
        end = end.min(i);
    }
    // `C#3` has no space before '#', a comment does.
    if let Some(i) = line.find(" #").or_else(|| line.find("\t#")) {
        end = end.min(i);
    }
    line[..end].trim()
}

enum Token {
    Note { key: u8, velocity: Option<u32> },
    Invalid,
}

fn parse_token(token: &str) -> Token {
    let (pitch, velocity) = match token.find([':', '/', '@', '=']) {
        Some(i) => (&token[..i], Some(&token[i + 1..])),
        None => (token, None),
    };
    let key = if pitch.bytes().all(|b| b.is_ascii_digit()) && !pitch.is_empty() && pitch.len() <= 3
    {
        pitch.parse::<u8>().ok().filter(|k| *k <= 127)
    } else {
        parse_note_name(pitch)
    };
    let Some(key) = key else {
        return Token::Invalid;
    };
    match velocity {
        None => Token::Note {
            key,
            velocity: None,
        },
        Some(v) => match v.parse::<u32>() {
            Ok(v) => Token::Note {
                key,
                velocity: Some(v),
            },
            Err(_) if v.len() <= 9 && v.contains('.') => match v.parse::<f64>() {
                Ok(f) if f.is_finite() && f >= 0.0 => Token::Note {
                    key,
                    velocity: Some(f.round() as u32),
                },
                _ => Token::Invalid,
            },
            Err(_) => Token::Invalid,
        },
    }
}

/// A token that tries to be `NOTE:VELOCITY` (something on both sides of the colon).
fn looks_like_note_attempt(token: &str) -> bool {
    token
        .split_once(':')
        .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty() && token.len() <= 16)
}

fn quote(token: &str) -> String {
    token.chars().take(MAX_QUOTED_CHARS).collect()
}

/// Reads one line inside an instrument block. `None` means the line is chatter, not a step.
fn parse_step_line(
    line: &str,
    instrument: Instrument,
    step: usize,
    config: &RuntimeConfig,
    repairs: &mut RepairLog,
) -> Option<Step> {
    let line = strip_inline_comment(line).trim_matches(|c: char| c.is_whitespace() || c == '|');
    let (content, numbered) = strip_step_number(line);
    let content = content.trim_matches(|c: char| c.is_whitespace() || c == '|' || c == '`');
    let lower = content.to_ascii_lowercase();
    match lower.as_str() {
        "" if numbered => {
            repairs.push(Repair::EmptyStepLine { instrument, step });
            return Some(Step::Rest);
        }
        "" => return None,
        "." | "-" | "—" | "_" | "rest" | "r" | "·" => return Some(Step::Rest),
        "^" | "~" | "tie" | "hold" => return Some(Step::Tie),
        _ if lower.chars().all(|c| c == '.') => return Some(Step::Rest),
        _ => {}
    }

    let tokens: Vec<&str> = content
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .collect();
    let mut notes: Vec<Note> = Vec::new();
    let mut dropped = Vec::new();
    let mut attempted = false;
    let range = config.range(instrument);
    for token in &tokens {
        match parse_token(token) {
            Token::Invalid => {
                if looks_like_note_attempt(token) {
                    attempted = true;
                }
                dropped.push(*token);
            }
            Token::Note { key, velocity } => {
                attempted = true;
                let velocity = match velocity {
                    None => {
                        repairs.push(Repair::VelocityMissing { instrument, step });
                        DEFAULT_VELOCITY
                    }
                    Some(0) => {
                        repairs.push(Repair::SilentNoteDropped { instrument, step });
                        continue;
                    }
                    Some(v) if v > 127 => {
                        repairs.push(Repair::VelocityClamped {
                            instrument,
                            step,
                            from: v,
                        });
                        127
                    }
                    Some(v) => v as u8,
                };
                let key = if range.contains(key) {
                    key
                } else if instrument.is_percussion() {
                    // Drum keys name sounds, not pitches: an octave away is another instrument.
                    repairs.push(Repair::OutOfRangeNoteDropped {
                        instrument,
                        step,
                        key,
                    });
                    continue;
                } else {
                    match range.fold(key) {
                        Some(to) => {
                            repairs.push(Repair::FoldedNote {
                                instrument,
                                step,
                                from: key,
                                to,
                            });
                            to
                        }
                        None => {
                            repairs.push(Repair::OutOfRangeNoteDropped {
                                instrument,
                                step,
                                key,
                            });
                            continue;
                        }
                    }
                };
                if let Some(existing) = notes.iter_mut().find(|n| n.key == key) {
                    existing.velocity = existing.velocity.max(velocity);
                    repairs.push(Repair::DuplicateNoteMerged {
                        instrument,
                        step,
                        key,
                    });
                } else {
                    notes.push(Note { key, velocity });
                }
            }
        }
    }
    if !attempted {
        return None;
    }
    for token in dropped {
        repairs.push(Repair::TokenDropped {
            instrument,
            step,
            token: quote(token),
        });
    }
    if notes.len() > MAX_NOTES_PER_STEP {
        repairs.push(Repair::TooManyNotes {
            instrument,
            step,
            dropped: notes.len() - MAX_NOTES_PER_STEP,
        });
        notes.truncate(MAX_NOTES_PER_STEP);
    }
    Some(if notes.is_empty() {
        Step::Rest
    } else {
        Step::Notes(notes)
    })
}

/// The metadata key of a section's time signature.
pub const METER_KEY: &str = "meter";

/// The meter a section's text declares in a `# meter: 3/4` line before its first block, if
/// it declares a meter the band can play.
pub fn section_meter(text: &str) -> Option<Meter> {
    text.lines()
        .map(str::trim)
        .take_while(|l| header_of(l).is_none())
        .filter_map(|l| l.strip_prefix('#').and_then(metadata_entry))
        .find(|(k, _)| k == METER_KEY)
        .and_then(|(_, v)| v.parse().ok())
}

/// Writes a section's four blocks, after a `# meter:` line when it is not in 4/4;
/// [`parse_section`] reads it back unchanged given that meter ([`section_meter`]).
pub fn write_section(section: &Section) -> String {
    write_section_with(section, section.meter != Meter::COMMON)
}

fn write_section_with(section: &Section, meter_line: bool) -> String {
    let mut out = String::with_capacity(section.total_steps * 4 * 8);
    if meter_line {
        out.push_str(&format!("# {METER_KEY}: {}\n", section.meter));
    }
    for (i, instrument) in Instrument::ALL.into_iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(instrument.header());
        out.push('\n');
        for step in &section.part(instrument).steps {
            match step {
                Step::Rest => out.push('.'),
                Step::Tie => out.push('^'),
                Step::Notes(notes) => {
                    for (n, note) in notes.iter().enumerate() {
                        if n > 0 {
                            out.push(',');
                        }
                        out.push_str(&note_name(note.key));
                        out.push(':');
                        out.push_str(&note.velocity.to_string());
                    }
                }
            }
            out.push('\n');
        }
    }
    out
}

/// Marks the start of each section in a multi-section document.
pub const SECTION_MARKER_KEY: &str = "section";

/// Writes `# key: value` lines, then each section after a `# section: N` marker. When any
/// section is not in 4/4, every section states its meter, so none depends on the header's.
pub fn write_document(metadata: &[(String, String)], sections: &[Section]) -> String {
    write_sections(metadata, sections, None)
}

/// The lines of a `PLAYER` block: what `player` played in the `steps` 16ths from `from_beat`,
/// on the straight 16th grid (`C4:90` at an onset, several joined by commas, `^` while held,
/// `.` in silence). The band's parser skips such blocks; they are for the reader (a model, a
/// musician looking at a take).
pub fn player_lines(player: &PlayerPart, from_beat: f64, steps: usize) -> Vec<String> {
    let mut lines = vec![String::from("."); steps];
    if steps == 0 {
        return lines;
    }
    let to_beat = from_beat + steps as f64 / 4.0;
    for note in player.starting_in(from_beat, to_beat) {
        let at = (((note.start - from_beat) * 4.0).round() as usize).min(steps - 1);
        let held = (((note.end - note.start) * 4.0).round() as usize).max(1);
        let name = format!("{}:{}", note_name(note.key), note.velocity);
        if lines[at] == "." || lines[at] == "^" {
            lines[at] = name;
        } else {
            lines[at].push(',');
            lines[at].push_str(&name);
        }
        for line in lines.iter_mut().take((at + held).min(steps)).skip(at + 1) {
            if line == "." {
                *line = "^".to_string();
            }
        }
    }
    lines
}

/// [`write_document`] with each section followed by the `PLAYER` block of what `player`
/// played over it (the sections laid end to end from beat 0).
pub fn write_document_with_player(
    metadata: &[(String, String)],
    sections: &[Section],
    player: &PlayerPart,
) -> String {
    write_sections(metadata, sections, Some(player))
}

fn write_sections(
    metadata: &[(String, String)],
    sections: &[Section],
    player: Option<&PlayerPart>,
) -> String {
    let mut out = String::new();
    for (key, value) in metadata {
        out.push_str(&format!("# {key}: {}\n", value.replace('\n', " ")));
    }
    let meter_lines = sections.iter().any(|s| s.meter != Meter::COMMON);
    let mut beat = 0.0;
    for (i, section) in sections.iter().enumerate() {
        out.push_str(&format!("\n# {SECTION_MARKER_KEY}: {}\n", i + 1));
        out.push_str(&write_section_with(section, meter_lines));
        if let Some(player) = player {
            out.push_str("\nPLAYER\n");
            for line in player_lines(player, beat, section.total_steps) {
                out.push_str(&line);
                out.push('\n');
            }
        }
        beat += section.length_beats();
    }
    out
}

/// The `# key: value` lines at the top of a document, before any other line.
pub fn leading_metadata(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take_while(|l| l.starts_with('#'))
        .filter_map(|l| metadata_entry(&l[1..]))
        .filter(|(k, _)| k != SECTION_MARKER_KEY)
        .collect()
}

/// Splits a document at `# section: N` markers. A text without markers is one section; text
/// before the first marker (the document header) is not a section.
pub fn split_sections(text: &str) -> Vec<&str> {
    let mut starts = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix('#') {
            if metadata_entry(rest).is_some_and(|(k, _)| k == SECTION_MARKER_KEY) {
                starts.push(offset);
            }
        }
        offset += line.len();
    }
    if starts.is_empty() {
        return vec![text];
    }
    let mut chunks = Vec::with_capacity(starts.len());
    for (i, start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(text.len());
        chunks.push(&text[*start..end]);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> RuntimeConfig {
        RuntimeConfig::default().with_bars_per_section(1)
    }

    #[test]
    fn headers_accept_decoration_and_reject_prose() {
        assert_eq!(header_of("BASS"), Some(Instrument::Bass));
        assert_eq!(header_of("**Drums**"), Some(Instrument::Drums));
        assert_eq!(header_of("## piano:"), Some(Instrument::Piano));
        assert_eq!(header_of("SAX (channel 3):"), Some(Instrument::Sax));
        assert_eq!(header_of("Tenor sax"), Some(Instrument::Sax));
        assert_eq!(header_of("Bass line:"), Some(Instrument::Bass));
        assert_eq!(header_of("Bass walks down to C"), None);
        assert_eq!(header_of("# bass: 40"), None);
        assert_eq!(header_of("C2:80"), None);
    }

    #[test]
    fn step_numbers_are_stripped_but_numeric_notes_are_not() {
        assert_eq!(strip_step_number("01 C2:80"), ("C2:80", true));
        assert_eq!(strip_step_number("1. C2:80"), ("C2:80", true));
        assert_eq!(strip_step_number("[12] ."), (".", true));
        assert_eq!(strip_step_number("03: ^"), ("^", true));
        assert_eq!(strip_step_number("36:90"), ("36:90", false));
        assert_eq!(strip_step_number("C2:80"), ("C2:80", false));
    }

    #[test]
    fn round_trip_of_a_written_section_is_exact() {
        let mut section = Section::empty(16);
        section.part_mut(Instrument::Bass).set(
            0,
            vec![Note {
                key: 36,
                velocity: 90,
            }],
        );
        section.part_mut(Instrument::Bass).hold(0, 4);
        section.part_mut(Instrument::Piano).set(
            6,
            vec![
                Note {
                    key: 52,
                    velocity: 60,
                },
                Note {
                    key: 57,
                    velocity: 58,
                },
            ],
        );
        let text = write_section(&section);
        let parsed = parse_section(&text, &config()).expect("parses");
        assert_eq!(parsed.section, section);
        assert!(parsed.repairs.is_empty(), "{:?}", parsed.repairs);
    }

    #[test]
    fn a_line_too_long_to_be_a_step_is_skipped_with_a_note() {
        let long = format!("C2:90,{}", "E2:80,".repeat(200));
        let text = format!("BASS\n{long}\nC2:90\nDRUMS\nC2:90\n");
        let parsed = parse_section(&text, &RuntimeConfig::default()).expect("parses");
        let notes: Vec<String> = parsed.repairs.kept.iter().map(|r| r.to_string()).collect();
        assert!(
            notes.iter().any(|n| n.contains("characters skipped")),
            "{notes:?}"
        );
    }

    #[test]
    fn repairs_are_reported() {
        let text = "bass\nC0:80\nC2\nX9:50\nC2:300,c2:10\n";
        let parsed = parse_section(text, &config()).expect("parses");
        let bass = &parsed.section.part(Instrument::Bass).steps;
        assert_eq!(
            bass[0],
            Step::Notes(vec![Note {
                key: 36,
                velocity: 80
            }])
        );
        assert_eq!(
            bass[1],
            Step::Notes(vec![Note {
                key: 36,
                velocity: 80
            }])
        );
        assert_eq!(bass[2], Step::Rest);
        assert_eq!(
            bass[3],
            Step::Notes(vec![Note {
                key: 36,
                velocity: 127
            }])
        );
        let kinds = &parsed.repairs.kept;
        assert!(kinds.iter().any(|r| matches!(
            r,
            Repair::FoldedNote {
                from: 12,
                to: 36,
                ..
            }
        )));
        assert!(kinds
            .iter()
            .any(|r| matches!(r, Repair::VelocityMissing { step: 1, .. })));
        assert!(kinds
            .iter()
            .any(|r| matches!(r, Repair::TokenDropped { step: 2, .. })));
        assert!(kinds
            .iter()
            .any(|r| matches!(r, Repair::VelocityClamped { from: 300, .. })));
        assert!(kinds
            .iter()
            .any(|r| matches!(r, Repair::DuplicateNoteMerged { .. })));
        assert!(kinds
            .iter()
            .any(|r| matches!(r, Repair::PaddedSteps { found: 4, .. })));
        assert_eq!(parsed.repairs.missing_instruments().len(), 3);
    }

    #[test]
    fn no_blocks_is_an_error_and_oversized_input_is_refused() {
        assert_eq!(
            parse_section("Sure! Here is some jazz.", &config()),
            Err(ParseError::NoInstrumentBlocks)
        );
        let huge = "BASS\n".to_string() + &".\n".repeat(MAX_INPUT_BYTES);
        assert!(matches!(
            parse_section(&huge, &config()),
            Err(ParseError::TooLarge { .. })
        ));
    }

    #[test]
    fn documents_split_at_section_markers() {
        let mut a = Section::empty(16);
        a.part_mut(Instrument::Sax).set(
            3,
            vec![Note {
                key: 60,
                velocity: 70,
            }],
        );
        let b = Section::empty(16);
        let meta = vec![("tempo".to_string(), "140".to_string())];
        let doc = write_document(&meta, &[a.clone(), b.clone()]);
        assert_eq!(leading_metadata(&doc), meta);
        let chunks = split_sections(&doc);
        assert_eq!(chunks.len(), 2);
        assert_eq!(
            parse_section(chunks[0], &config()).map(|p| p.section),
            Ok(a)
        );
        assert_eq!(
            parse_section(chunks[1], &config()).map(|p| p.section),
            Ok(b)
        );
    }

    #[test]
    fn a_player_block_written_back_is_left_out() {
        let mut section = Section::empty(16);
        section.part_mut(Instrument::Sax).set(
            3,
            vec![Note {
                key: 65,
                velocity: 90,
            }],
        );
        let written = write_section(&section);
        // A model echoing the prompt's PLAYER block between the piano and the sax.
        let player = format!("**PLAYER**\n{}", "D5:100\n".repeat(16));
        let answer = written.replacen("SAX\n", &format!("{player}SAX\n"), 1);
        let parsed = parse_section(&answer, &config()).expect("parses");
        assert_eq!(parsed.section, section);
        assert_eq!(parsed.repairs.kept, [Repair::PlayerBlockIgnored]);
    }
}
