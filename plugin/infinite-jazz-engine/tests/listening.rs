//! The band listening to a player, measured over many seeds: the sax lays out while the player
//! solos, trades develop the player's phrase, held chords lead the harmony.

use infinite_jazz_engine::composer::{
    BuiltinComposer, ComposedSection, ComposerSettings, Listening,
};
use infinite_jazz_engine::listen::{Listen, PlayerNote, PlayerPart};
use infinite_jazz_engine::section::{Instrument, Note, Step};
use infinite_jazz_engine::timing::RuntimeConfig;

const SEEDS: u64 = 20;

/// A phrase of swung-8th positions (in beats from the bar) with a rising then falling line,
/// played in each of `bars`.
fn soloist(bars: &[usize]) -> PlayerPart {
    let cells = [
        (0.0, 62),
        (0.5, 64),
        (1.0, 67),
        (2.0, 69),
        (2.5, 67),
        (3.0, 64),
    ];
    PlayerPart::new(bars.iter().flat_map(|bar| {
        cells.iter().map(move |(at, key)| PlayerNote {
            start: *bar as f64 * 4.0 + at,
            end: *bar as f64 * 4.0 + at + 0.45,
            key: *key,
            velocity: 90,
        })
    }))
}

fn band(mode: Listen, player: &PlayerPart, seed: u64, sections: usize) -> Vec<ComposedSection> {
    let config = RuntimeConfig::default();
    let mut composer = BuiltinComposer::new(&ComposerSettings {
        seed,
        ..Default::default()
    });
    let mut beat = 0.0;
    (0..sections)
        .map(|_| {
            let listening = Listening {
                mode,
                player,
                start_beat: beat,
            };
            let composed = composer.compose_listening(&config, Some(&listening));
            beat += composed.section.length_beats();
            composed
        })
        .collect()
}

/// (bar of the music, step in bar, notes) of every onset of an instrument.
fn onsets(sections: &[ComposedSection], instrument: Instrument) -> Vec<(usize, usize, Vec<Note>)> {
    let mut out = Vec::new();
    let mut first_bar = 0;
    for s in sections {
        let steps = &s.section.part(instrument).steps;
        for (i, step) in steps.iter().enumerate() {
            if let Step::Notes(n) = step {
                out.push((first_bar + i / 16, i % 16, n.clone()));
            }
        }
        first_bar += steps.len() / 16;
    }
    out
}

#[test]
fn accompanying_the_sax_lays_out_while_the_player_plays_and_returns_after() {
    let player_bars = [0, 1, 2, 3, 8, 9];
    let player = soloist(&player_bars);
    let (mut free_bars, mut free_with_sax) = (0, 0);
    for seed in 0..SEEDS {
        let sections = band(Listen::Accompany, &player, seed, 8);
        let sax = onsets(&sections, Instrument::Sax);
        let piano = onsets(&sections, Instrument::Piano);
        for bar in 0..16 {
            let sax_here = sax.iter().filter(|(b, _, _)| *b == bar).count();
            if player_bars.contains(&bar) {
                assert_eq!(
                    sax_here, 0,
                    "seed {seed}: the sax plays over the player in bar {bar}"
                );
                let hits = piano.iter().filter(|(b, _, _)| *b == bar).count();
                assert!(
                    hits <= 1,
                    "seed {seed}: {hits} piano hits under the solo in bar {bar}"
                );
            } else if !player_bars.contains(&(bar.saturating_sub(1))) || bar == 0 {
                free_bars += 1;
                if sax_here > 0 {
                    free_with_sax += 1;
                }
            }
        }
    }
    let share = f64::from(free_with_sax) / f64::from(free_bars);
    assert!(
        share >= 0.6,
        "the sax plays in {share:.2} of the bars the player leaves it"
    );
}

#[test]
fn trading_fours_alternates_and_the_sax_develops_the_players_phrase() {
    let player = soloist(&[0, 1, 2, 3, 8, 9, 10, 11]);
    let positions: Vec<usize> = [0, 2, 4, 8, 10, 12].to_vec();
    let (mut shared, mut total, mut same_way, mut moves) = (0, 0, 0, 0);
    for seed in 0..SEEDS {
        let sections = band(Listen::Trade { bars: 4 }, &player, seed, 8);
        let sax = onsets(&sections, Instrument::Sax);
        for (bar, _, _) in &sax {
            assert!(
                (*bar / 4) % 2 == 1,
                "seed {seed}: the sax plays in the player's turn (bar {bar})"
            );
        }
        for turn in [4usize, 12] {
            let answer: Vec<&(usize, usize, Vec<Note>)> = sax
                .iter()
                .filter(|(b, _, _)| (turn..turn + 4).contains(b))
                .collect();
            assert!(
                answer.len() >= 12,
                "seed {seed}: a short answer in bars {turn}.."
            );
            for (_, step, _) in &answer {
                total += 1;
                if positions.contains(step) {
                    shared += 1;
                }
            }
            // The player's contour: up, up, up, down, down per bar, then down into the next.
            let keys: Vec<i32> = answer.iter().map(|(_, _, n)| i32::from(n[0].key)).collect();
            let wanted = [1, 1, 1, -1, -1, -1];
            for (i, w) in keys.windows(2).enumerate() {
                let direction = (w[1] - w[0]).signum();
                moves += 1;
                if direction == wanted[(i + 1) % 6] {
                    same_way += 1;
                }
            }
        }
    }
    let rhythm = f64::from(shared) / f64::from(total);
    let contour = f64::from(same_way) / f64::from(moves);
    assert!(
        rhythm >= 0.95,
        "{rhythm:.2} of the answer's onsets are the player's"
    );
    assert!(
        contour >= 0.7,
        "{contour:.2} of the answer's moves follow the player's"
    );
}

#[test]
fn held_chords_become_the_bands_harmony() {
    // Dm7, G7, Cmaj7 and Bb7, two bars each, in voicings a pianist would hold.
    let voicings: [&[u8]; 4] = [
        &[50, 53, 57, 60],
        &[55, 59, 62, 65],
        &[48, 52, 55, 59],
        &[46, 50, 53, 56],
    ];
    let roots = [2u8, 7, 0, 10];
    let player = PlayerPart::new(voicings.iter().enumerate().flat_map(|(i, keys)| {
        keys.iter().map(move |key| PlayerNote {
            start: i as f64 * 8.0 + 0.05,
            end: i as f64 * 8.0 + 7.9,
            key: *key,
            velocity: 60,
        })
    }));
    for seed in 0..SEEDS {
        let sections = band(Listen::FollowChords, &player, seed, 6);
        let bass = onsets(&sections, Instrument::Bass);
        // Let go: the form goes on from where it waited, its first bars.
        assert_eq!(sections[4].first_bar, 0, "seed {seed}: the form waited");
        let unled = band(Listen::Off, &player, seed, 1);
        let form_root = |bass: &[(usize, usize, Vec<Note>)], bar: usize| {
            bass.iter()
                .find(|(b, s, _)| *b == bar && *s == 0)
                .map(|(_, _, n)| n[0].key % 12)
        };
        let unled_bass = onsets(&unled, Instrument::Bass);
        assert_eq!(
            form_root(&bass, 8),
            form_root(&unled_bass, 0),
            "seed {seed}: the form's first chord after the player let go"
        );
        let piano = onsets(&sections, Instrument::Piano);
        for bar in 0..8 {
            let root = roots[bar / 2];
            let downbeat = bass
                .iter()
                .find(|(b, s, _)| *b == bar && *s == 0)
                .unwrap_or_else(|| panic!("seed {seed}: no bass on bar {bar}"));
            assert_eq!(downbeat.2[0].key % 12, root, "seed {seed}: bar {bar}");
            // The piano voices the held chord too: its third and seventh are there.
            for (_, _, notes) in piano.iter().filter(|(b, _, _)| *b == bar) {
                let pcs: Vec<u8> = notes.iter().map(|n| n.key % 12).collect();
                let third = [(root + 3) % 12, (root + 4) % 12];
                assert!(
                    pcs.iter().any(|p| third.contains(p)),
                    "seed {seed}: bar {bar} {pcs:?}"
                );
            }
        }
    }
}
