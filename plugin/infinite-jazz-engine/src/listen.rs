//! Playing with a musician: what the player played (notes in beats), how the band listens to
//! it ([`Listen`]), and what that means for each bar the band writes ([`BarPlan`]).
//!
//! The band composes ahead, so it decides a bar from what the player played before it: the
//! sax comes back in after the player has rested a whole bar; a held chord becomes the
//! harmony of the bars it is held over; a trade answers the player's last turn.

use crate::composer::harmony::{Chord, Quality};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// Most notes of a player kept; a take with more is cut (a flood is not a part).
pub const MAX_PLAYER_NOTES: usize = 200_000;
/// A chord struck this many beats (eight bars of 4/4) before a bar no longer leads it.
pub const LONGEST_HOLD: f64 = 32.0;

/// How the band listens to the player.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Listen {
    /// The band plays as if nobody else were there.
    #[default]
    Off,
    /// The player solos: the sax lays out while the player plays and the piano comps lighter;
    /// after a bar of rest from the player the sax comes back in.
    Accompany,
    /// The player and the sax take turns of this many bars, the player first; the sax's turn
    /// develops the player's last phrase over the current chords.
    Trade {
        /// Bars per turn: 2, 4 or 8.
        bars: usize,
    },
    /// A chord the player holds becomes the band's harmony for the bars it is held over.
    FollowChords,
}

/// A listening mode nobody knows.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("unknown listening mode {0:?}: off, accompany, trade (or trade2, trade8) or chords")]
pub struct ListenError(pub String);

impl FromStr for Listen {
    type Err = ListenError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(Listen::Off),
            "accompany" => Ok(Listen::Accompany),
            "trade" | "trade4" | "fours" => Ok(Listen::Trade { bars: 4 }),
            "trade2" | "twos" => Ok(Listen::Trade { bars: 2 }),
            "trade8" | "eights" => Ok(Listen::Trade { bars: 8 }),
            "chords" | "follow-chords" => Ok(Listen::FollowChords),
            _ => Err(ListenError(text.chars().take(24).collect())),
        }
    }
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Listen::Off => f.write_str("off"),
            Listen::Accompany => f.write_str("accompany"),
            Listen::Trade { bars } => write!(f, "trade {bars}s"),
            Listen::FollowChords => f.write_str("follow chords"),
        }
    }
}

/// One note the player played, in quarter-note beats from the start of the music.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlayerNote {
    /// Onset.
    pub start: f64,
    /// Release (after `start`).
    pub end: f64,
    /// MIDI key.
    pub key: u8,
    /// 1..=127.
    pub velocity: u8,
}

/// Everything the player played, sorted by onset, and how far it has been heard: a take from
/// a file is heard to its end, a live player only up to the moment the band asks.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayerPart {
    notes: Vec<PlayerNote>,
    heard_until: f64,
}

impl Default for PlayerPart {
    fn default() -> Self {
        PlayerPart {
            notes: Vec::new(),
            heard_until: f64::INFINITY,
        }
    }
}

impl PlayerPart {
    /// The part of these notes: non-finite or negative times are dropped, a note that ends
    /// before it starts lasts a 16th, and past [`MAX_PLAYER_NOTES`] the rest is cut.
    pub fn new(notes: impl IntoIterator<Item = PlayerNote>) -> Self {
        let mut notes: Vec<PlayerNote> = notes
            .into_iter()
            .filter(|n| n.start.is_finite() && n.end.is_finite() && n.start >= 0.0)
            .map(|n| PlayerNote {
                end: if n.end > n.start {
                    n.end
                } else {
                    n.start + 0.25
                },
                key: n.key.min(127),
                velocity: n.velocity.clamp(1, 127),
                ..n
            })
            .take(MAX_PLAYER_NOTES)
            .collect();
        notes.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.key.cmp(&b.key)));
        PlayerPart {
            notes,
            heard_until: f64::INFINITY,
        }
    }

    /// The part of a live player heard up to `beat`: what comes after is not known yet, and
    /// [`plan_bar`] expects the player to go on as in the last bar heard. Notes still held
    /// may end at `f64::MAX`.
    pub fn heard_until(mut self, beat: f64) -> Self {
        if !beat.is_nan() {
            self.heard_until = beat;
        }
        self
    }

    /// The beat up to which the part is known (infinite for a whole take).
    pub fn heard(&self) -> f64 {
        self.heard_until
    }

    /// The notes, by onset.
    pub fn notes(&self) -> &[PlayerNote] {
        &self.notes
    }

    /// Whether any note starts in `[from, to)`.
    pub fn plays_in(&self, from: f64, to: f64) -> bool {
        !self.starting_in(from, to).is_empty()
    }

    /// The notes that start in `[from, to)`.
    pub fn starting_in(&self, from: f64, to: f64) -> &[PlayerNote] {
        let first = self.notes.partition_point(|n| n.start < from);
        let last = self.notes.partition_point(|n| n.start < to);
        &self.notes[first..last.max(first)]
    }

    /// The chord held over `[from, to)`: the notes sounding for at least half of it, read by
    /// [`recognise_chord`]. Only notes struck less than [`LONGEST_HOLD`] beats before `from`
    /// count, so asking costs the same however long the take.
    pub fn chord_held(&self, from: f64, to: f64) -> Option<Chord> {
        let half = (to - from) / 2.0;
        let first = self
            .notes
            .partition_point(|n| n.start < from - LONGEST_HOLD);
        let last = self.notes.partition_point(|n| n.start < to).max(first);
        let keys: Vec<u8> = self.notes[first..last]
            .iter()
            .filter(|n| n.end.min(to) - n.start.max(from) >= half)
            .map(|n| n.key)
            .collect();
        recognise_chord(&keys)
    }
}

/// The player's notes `heard` (beats of the music, in the order they were played) placed on a
/// take made of sections that were heard at `spans` (start beat and length, in order) and are
/// written one after another from beat 0. A host that loops plays the same beats again: each
/// note goes to the pass nearest the one of the note before it. Notes outside every section
/// are left out.
pub fn player_in_take(spans: &[(f64, f64)], heard: &[PlayerNote]) -> PlayerPart {
    let mut offsets = Vec::with_capacity(spans.len());
    let mut total = 0.0;
    for (_, length) in spans {
        offsets.push(total);
        total += length.max(0.0);
    }
    let mut cursor = 0usize;
    let mut placed = Vec::with_capacity(heard.len());
    for note in heard {
        let nearest = spans
            .iter()
            .enumerate()
            .filter(|(_, (start, length))| *start <= note.start && note.start < start + length)
            // A tie goes forward: music moves on.
            .min_by_key(|(i, _)| (i.abs_diff(cursor), usize::MAX - i))
            .map(|(i, _)| i);
        let Some(i) = nearest else {
            continue;
        };
        cursor = i;
        let shift = offsets[i] - spans[i].0;
        placed.push(PlayerNote {
            start: note.start + shift,
            end: note.end.min(note.start + LONGEST_HOLD) + shift,
            ..*note
        });
    }
    PlayerPart::new(placed)
}

/// What the player's notes mean for one bar the band writes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BarPlan {
    /// Whether the sax plays in this bar.
    pub sax_plays: bool,
    /// Whether the piano comps lightly (the player is soloing).
    pub piano_light: bool,
    /// The harmony the player holds, replacing the form's for this bar.
    pub chord: Option<Chord>,
}

impl Default for BarPlan {
    fn default() -> Self {
        BarPlan {
            sax_plays: true,
            piano_light: false,
            chord: None,
        }
    }
}

/// The plan for the song bar `song_bar` that starts at beat `start` and lasts `length` beats.
pub fn plan_bar(
    listen: Listen,
    player: &PlayerPart,
    song_bar: usize,
    start: f64,
    length: f64,
) -> BarPlan {
    match listen {
        Listen::Off => BarPlan::default(),
        Listen::Accompany => {
            // Bars not heard yet are expected to be like the last bar heard: a soloist who
            // is playing goes on playing.
            let heard = player.heard();
            let played = |from: f64, to: f64| {
                player.plays_in(from, to.min(heard))
                    || (to > heard && player.plays_in(heard - length, heard))
            };
            let now = played(start, start + length);
            let before = played(start - length, start);
            BarPlan {
                // Back in only after the player has rested a whole bar.
                sax_plays: !now && !before,
                piano_light: now || before,
                chord: None,
            }
        }
        Listen::Trade { bars } => BarPlan {
            sax_plays: !players_turn(song_bar, bars),
            ..BarPlan::default()
        },
        Listen::FollowChords => BarPlan {
            chord: player.chord_held(start, start + length),
            ..BarPlan::default()
        },
    }
}

/// Whether bar `bar` of the music (counted from its beat 0) is in one of the player's turns
/// when trading `turn_bars`-bar turns: the player takes the first.
pub fn players_turn(bar: usize, turn_bars: usize) -> bool {
    (bar / turn_bars.max(1)) % 2 == 0
}

/// The bar of the music that beat `beat` falls in, for bars of `bar_beats` beats from beat 0.
pub fn bar_of_beat(beat: f64, bar_beats: f64) -> usize {
    if beat.is_finite() && beat > 0.0 && bar_beats > 0.0 {
        // A beat a hair before a bar line (rounding) belongs to that bar.
        (beat / bar_beats + 1e-9).floor() as usize
    } else {
        0
    }
}

/// Keeps the sax out of the player's way the moment it matters, on the audio thread: the
/// composer plans each bar from what it heard before it, but a player who comes in mid-bar,
/// or a section written before the player was heard (a fallback), must not be played over.
#[derive(Debug, Clone, Copy)]
pub struct SaxGate {
    last_onset: f64,
}

impl Default for SaxGate {
    fn default() -> Self {
        SaxGate {
            last_onset: f64::NEG_INFINITY,
        }
    }
}

impl SaxGate {
    /// The player struck a note at `beat`.
    pub fn note_on(&mut self, beat: f64) {
        if beat.is_finite() {
            self.last_onset = beat;
        }
    }

    /// Whether the sax stays silent in the block from `start_beat` to `end_beat`: while the
    /// player plays and for a bar after their last note when accompanying, and through the
    /// player's turns when trading (a block that reaches into the sax's turn is the sax's).
    pub fn sax_out(
        &self,
        listen: Listen,
        start_beat: f64,
        end_beat: f64,
        bar_beats: f64,
        player_sounding: bool,
    ) -> bool {
        match listen {
            Listen::Accompany => player_sounding || start_beat - self.last_onset < bar_beats,
            Listen::Trade { bars } => {
                let theirs = |beat: f64| players_turn(bar_of_beat(beat, bar_beats), bars);
                theirs(start_beat) && theirs(end_beat)
            }
            Listen::Off | Listen::FollowChords => false,
        }
    }
}

/// The rhythm and contour of a phrase, to answer it: (onset in steps from the phrase's first
/// bar line, length in steps, direction from the previous note: -1, 0 or 1).
pub fn phrase_shape(notes: &[PlayerNote], bar_start: f64) -> Vec<(usize, usize, i32)> {
    let mut shape = Vec::with_capacity(notes.len());
    let mut last_key: Option<u8> = None;
    let mut last_step: Option<usize> = None;
    for note in notes {
        let step = ((note.start - bar_start).max(0.0) * 4.0).round() as usize;
        if last_step == Some(step) {
            // Chords in a line: the top note speaks.
            continue;
        }
        let length = (((note.end - note.start) * 4.0).round() as usize).clamp(1, 8);
        let direction = last_key.map_or(0, |k| (i32::from(note.key) - i32::from(k)).signum());
        shape.push((step, length, direction));
        last_key = Some(note.key);
        last_step = Some(step);
    }
    shape
}

/// The chord a set of held keys spells (any voicing or octave), if it spells one: seventh
/// chords, triads and sus chords, each mapped to the harmony the band plays over (a major
/// triad as a major sixth chord, a minor triad as a minor seventh, a sus chord as a dominant
/// seventh, a diminished triad as a diminished seventh). The lowest note is favoured as the
/// root, and a seventh chord wins a tie with a triad or sixth chord.
pub fn recognise_chord(keys: &[u8]) -> Option<Chord> {
    if keys.len() < 2 {
        return None;
    }
    let lowest = keys.iter().min().copied().unwrap_or(0) % 12;
    let held: u16 = keys.iter().fold(0, |set, k| set | 1 << (k % 12));
    // (required intervals, optional intervals, the band's quality)
    const SHAPES: [(&[u8], &[u8], Quality); 10] = [
        (&[0, 4, 11], &[7, 2, 9, 6], Quality::Maj7),
        (&[0, 4, 10], &[7, 2, 9, 1, 3, 8], Quality::Dom7),
        (&[0, 3, 10], &[7, 2, 5], Quality::Min7),
        (&[0, 3, 6, 10], &[5, 2], Quality::HalfDim),
        (&[0, 3, 6, 9], &[], Quality::Dim7),
        (&[0, 5, 7], &[10, 2], Quality::Dom7),
        (&[0, 4, 7], &[9, 2], Quality::Maj6),
        (&[0, 3, 7], &[2, 5, 9], Quality::Min7),
        (&[0, 3, 6], &[], Quality::Dim7),
        (&[0, 4, 9], &[2], Quality::Maj6),
    ];
    // (score, preference: earlier shapes win a tie, chord)
    let mut best: Option<(i32, usize, Chord)> = None;
    for root in 0..12u8 {
        for (index, (required, optional, quality)) in SHAPES.into_iter().enumerate() {
            let has = |interval: u8| held & (1 << ((root + interval) % 12)) != 0;
            if !required.iter().all(|i| has(*i)) {
                continue;
            }
            let extra = (0..12u8)
                .filter(|i| has(*i) && !required.contains(i) && !optional.contains(i))
                .count() as i32;
            // More than one note foreign to the chord and its tensions: not this chord.
            if extra > 1 {
                continue;
            }
            let score = 10 * required.len() as i32
                + optional.iter().filter(|i| has(**i)).count() as i32
                - 6 * extra
                + if root == lowest { 3 } else { 0 };
            if best.is_none_or(|(s, i, _)| (score, usize::MAX - index) > (s, usize::MAX - i)) {
                best = Some((score, index, Chord::new(root, quality)));
            }
        }
    }
    best.filter(|(score, _, _)| *score > 0)
        .map(|(_, _, chord)| chord)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chord(keys: &[u8]) -> Option<String> {
        recognise_chord(keys).map(Chord::symbol)
    }

    #[test]
    fn chords_are_recognised_in_any_voicing() {
        assert_eq!(chord(&[50, 53, 57, 60]).as_deref(), Some("Dm7"));
        // Second inversion: still Dm7 (a seventh chord wins a tie with a sixth chord)...
        assert_eq!(chord(&[57, 60, 62, 65]).as_deref(), Some("Dm7"));
        // ...but with F in the bass the same notes are F6, as a bassist would read them.
        assert_eq!(chord(&[53, 57, 60, 62]).as_deref(), Some("F6"));
        assert_eq!(chord(&[43, 59, 65]).as_deref(), Some("G7"));
        assert_eq!(chord(&[48, 52, 55, 59]).as_deref(), Some("Cmaj7"));
        assert_eq!(chord(&[59, 62, 65, 69]).as_deref(), Some("Bm7b5"));
        assert_eq!(
            chord(&[61, 64, 67, 70]).map(|s| s.contains("dim7")),
            Some(true)
        );
        // Triads and sus chords map to the harmony the band plays over.
        assert_eq!(chord(&[60, 64, 67]).as_deref(), Some("C6"));
        assert_eq!(chord(&[57, 60, 64]).as_deref(), Some("Am7"));
        assert_eq!(chord(&[55, 60, 62]).as_deref(), Some("G7"), "Gsus4");
        assert_eq!(chord(&[60]), None);
        assert_eq!(
            chord(&[60, 61, 62, 63, 64, 65]),
            None,
            "a cluster is no chord"
        );
    }

    #[test]
    fn accompany_lays_the_sax_out_until_the_player_rests_a_bar() {
        let note = |start: f64| PlayerNote {
            start,
            end: start + 0.5,
            key: 70,
            velocity: 90,
        };
        // The player plays in bars 0 and 1 (beats 0..8), rests from bar 2.
        let player = PlayerPart::new([note(0.5), note(3.0), note(5.0)]);
        let plan = |bar: usize| plan_bar(Listen::Accompany, &player, bar, bar as f64 * 4.0, 4.0);
        assert!(!plan(0).sax_plays && plan(0).piano_light);
        assert!(!plan(1).sax_plays);
        assert!(
            !plan(2).sax_plays,
            "the first bar of rest is still the player's"
        );
        assert!(plan(3).sax_plays && !plan(3).piano_light);
    }

    #[test]
    fn a_live_soloist_is_expected_to_go_on_until_heard_resting() {
        let note = |start: f64| PlayerNote {
            start,
            end: start + 0.5,
            key: 70,
            velocity: 90,
        };
        let plan = |part: &PlayerPart, bar: usize| {
            plan_bar(Listen::Accompany, part, bar, bar as f64 * 4.0, 4.0)
        };
        // Heard up to beat 7.9: the player played in bar 1, so bars 2 and 3 (not heard yet)
        // are expected to be theirs too.
        let playing = PlayerPart::new([note(5.0)]).heard_until(7.9);
        assert!(!plan(&playing, 2).sax_plays && !plan(&playing, 3).sax_plays);
        // Heard resting through the whole of bar 1: the sax comes back in bar 2.
        let resting = PlayerPart::new([note(1.0)]).heard_until(7.9);
        assert!(plan(&resting, 2).sax_plays);
        // A whole take is never predicted.
        let take = PlayerPart::new([note(5.0)]);
        assert!(plan(&take, 3).sax_plays);
    }

    #[test]
    fn the_sax_gate_opens_a_bar_after_the_soloist_and_in_the_saxs_turns() {
        let mut gate = SaxGate::default();
        assert!(!gate.sax_out(Listen::Accompany, 0.0, 0.1, 4.0, false));
        gate.note_on(5.0);
        assert!(gate.sax_out(Listen::Accompany, 5.0, 5.1, 4.0, false));
        assert!(gate.sax_out(Listen::Accompany, 8.9, 9.0, 4.0, false));
        assert!(!gate.sax_out(Listen::Accompany, 9.0, 9.1, 4.0, false));
        assert!(
            gate.sax_out(Listen::Accompany, 20.0, 20.1, 4.0, true),
            "a held note"
        );
        let trade = Listen::Trade { bars: 2 };
        assert!(gate.sax_out(trade, 7.0, 7.9, 4.0, false));
        assert!(
            !gate.sax_out(trade, 7.9, 8.1, 4.0, false),
            "into the sax's turn"
        );
        assert!(!gate.sax_out(trade, 9.0, 9.1, 4.0, false));
        assert!(gate.sax_out(trade, 16.0, 16.1, 4.0, false));
        assert!(!gate.sax_out(Listen::FollowChords, 5.0, 5.1, 4.0, true));
    }

    #[test]
    fn the_players_notes_follow_the_sections_they_were_heard_with() {
        let note = |start: f64| PlayerNote {
            start,
            end: start + 0.5,
            key: 60,
            velocity: 90,
        };
        // Heard at beats 16..24, then the host looped back to 16 and played 16..20 again.
        let spans = [(16.0, 4.0), (20.0, 4.0), (16.0, 4.0)];
        let heard = [note(17.0), note(21.0), note(17.5), note(40.0)];
        let take = player_in_take(&spans, &heard);
        let starts: Vec<f64> = take.notes().iter().map(|n| n.start).collect();
        assert_eq!(
            starts,
            [1.0, 5.0, 9.5],
            "the loop's note goes to the second pass"
        );
    }

    #[test]
    fn trades_alternate_with_the_player_first_and_held_chords_lead() {
        let player = PlayerPart::default();
        let sax = |bars, bar| plan_bar(Listen::Trade { bars }, &player, bar, 0.0, 4.0).sax_plays;
        assert_eq!(
            (0..8).map(|b| sax(4, b)).collect::<Vec<_>>(),
            [false, false, false, false, true, true, true, true]
        );
        assert!(!sax(2, 1) && sax(2, 2));
        let held = PlayerPart::new([50, 53, 57, 60].map(|key| PlayerNote {
            start: 4.1,
            end: 7.9,
            key,
            velocity: 60,
        }));
        let bar = |b: usize| plan_bar(Listen::FollowChords, &held, b, b as f64 * 4.0, 4.0).chord;
        assert_eq!(bar(1).map(Chord::symbol).as_deref(), Some("Dm7"));
        assert_eq!(bar(0), None);
        assert_eq!(bar(2), None);
    }

    #[test]
    fn hostile_notes_are_tamed() {
        let part = PlayerPart::new([
            PlayerNote {
                start: f64::NAN,
                end: 1.0,
                key: 60,
                velocity: 9,
            },
            PlayerNote {
                start: 2.0,
                end: 1.0,
                key: 200,
                velocity: 0,
            },
        ]);
        assert_eq!(part.notes().len(), 1);
        assert_eq!(part.notes()[0].end, 2.25);
        assert_eq!(part.notes()[0].key, 127);
        assert_eq!(part.notes()[0].velocity, 1);
        assert!(part.plays_in(2.0, 2.1) && !part.plays_in(2.1, 9.0));
    }
}
