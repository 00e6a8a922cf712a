//! The band listening to a player through the plugin's note input, in a CLAP host at a steady
//! 180 BPM (debug build with `assert_process_allocs`): the player's notes are played into the
//! plugin block by block, at three times real time so that the worker composes each bar just
//! before it is due, as it would in a DAW.

use integration_tests::clap_host::{
    run_session, BlockSpec, HostMeter, InputNote, OutEvent, Session, TransportSpec,
};
use integration_tests::plugin_library;
use std::path::{Path, PathBuf};

const ID: &str = "com.infinite-jazz.infinite-jazz";
const SAMPLE_RATE: f64 = 48_000.0;
const TEMPO: f64 = 180.0;
const BLOCK: u32 = 512;
const BARS: usize = 20;
const BASS: u16 = 0;
const SAX: u16 = 2;
const PLAYER: u16 = 3;

fn beats_per_sample() -> f64 {
    TEMPO / 60.0 / SAMPLE_RATE
}

fn beats_per_block() -> f64 {
    f64::from(BLOCK) * beats_per_sample()
}

fn library() -> PathBuf {
    // No user config: the built-in composer plays.
    std::env::set_var(
        "XDG_CONFIG_HOME",
        integration_tests::target_dir().join("no-user-config"),
    );
    plugin_library("infinite-jazz", &["assert_process_allocs"])
}

fn leak<T: Clone>(items: &[T]) -> &'static [T] {
    Box::leak(items.to_vec().into_boxed_slice())
}

/// The host's blocks: playing from beat 0 for `BARS` bars of 4/4, then stopped.
fn blocks() -> Vec<BlockSpec> {
    let count = (BARS as f64 * 4.0 / beats_per_block()).ceil() as usize;
    (0..=count)
        .map(|i| BlockSpec {
            samples: BLOCK,
            transport: Some(TransportSpec {
                playing: i < count,
                beat: i as f64 * beats_per_block(),
                tempo: TEMPO,
                meter: HostMeter::COMMON,
            }),
        })
        .collect()
}

/// Note-ons and note-offs of (start beat, length in beats, key), placed in the host's blocks.
fn played(notes: &[(f64, f64, u8)]) -> Vec<InputNote> {
    let at = |beat: f64, key: u8, on: bool| {
        let block = (beat / beats_per_block()).floor() as usize;
        let time = ((beat - block as f64 * beats_per_block()) / beats_per_sample()).round();
        InputNote {
            block,
            time: (time as u32).min(BLOCK - 1),
            channel: 0,
            key,
            on,
        }
    };
    let mut events: Vec<InputNote> = notes
        .iter()
        .flat_map(|(start, length, key)| [at(*start, *key, true), at(start + length, *key, false)])
        .collect();
    events.sort_by_key(|e| (e.block, e.time, e.on));
    events
}

/// A blues lick in each of `bars`: C, Eb, F, G, Bb on and off the beats.
const LICK: [(f64, u8); 5] = [(0.0, 60), (1.0, 63), (1.5, 65), (2.5, 67), (3.0, 70)];

fn licks_in(bars: impl IntoIterator<Item = usize>) -> Vec<(f64, f64, u8)> {
    bars.into_iter()
        .flat_map(|bar| LICK.map(|(at, key)| (bar as f64 * 4.0 + at, 0.4, key)))
        .collect()
}

/// The plugin's saved state with parameter `id` set to the choice `value`.
fn with_choice(json: &str, id: &str, value: &str) -> String {
    let key = format!("\"{id}\":{{");
    let start = json
        .find(&key)
        .unwrap_or_else(|| panic!("no {id} in {json}"));
    let end = start + json[start..].find('}').expect("a closing brace") + 1;
    format!(
        "{}\"{id}\":{{\"string\":\"{value}\"}}{}",
        &json[..start],
        &json[end..]
    )
}

/// Runs the band listening in `listen` mode to the player's `notes`; returns the note-ons
/// as (beat, channel, key).
fn jam(library: &Path, listen: &str, notes: &[(f64, f64, u8)]) -> Vec<(f64, u16, u16)> {
    let library: &'static Path = Box::leak(library.to_path_buf().into_boxed_path());
    let mut session = Session {
        library,
        plugin_id: ID,
        sample_rate: SAMPLE_RATE,
        output_channels: 0,
        state: None,
        settle: std::time::Duration::ZERO,
        pace: None,
        input: &[],
    };
    let first = run_session(&session, &BlockSpec::at_120_bpm(4, 512, SAMPLE_RATE, true));
    let json = String::from_utf8(first.saved_state[8..].to_vec()).expect("state is JSON text");
    let json = with_choice(&json, "listen", listen);
    let mut state = (json.len() as u64).to_le_bytes().to_vec();
    state.extend_from_slice(json.as_bytes());
    session.state = Some(leak(&state));
    session.input = leak(&played(notes));
    session.pace = Some(3.0);
    let result = run_session(&session, &blocks());
    assert_eq!(result.state_loaded, Some(true));
    let mut sounding = [[false; 128]; 16];
    let mut heard = Vec::new();
    for (i, block) in result.blocks.iter().enumerate() {
        for event in &block.events {
            match *event {
                OutEvent::NoteOn {
                    time, channel, key, ..
                } => {
                    let beat = i as f64 * beats_per_block() + f64::from(time) * beats_per_sample();
                    heard.push((beat, channel, key));
                    sounding[usize::from(channel)][usize::from(key)] = true;
                }
                OutEvent::NoteOff { channel, key, .. } => {
                    sounding[usize::from(channel)][usize::from(key)] = false;
                }
                _ => {}
            }
        }
    }
    for (channel, keys) in sounding.iter().enumerate() {
        assert!(
            keys.iter().all(|s| !s),
            "a note left sounding on channel {}",
            channel + 1
        );
    }
    heard
}

fn assert_all_passed(heard: &[(f64, u16, u16)], notes: usize) {
    let player = heard.iter().filter(|(_, c, _)| *c == PLAYER).count();
    assert_eq!(player, notes, "every note of the player passes through");
}

fn sax_in_bar(heard: &[(f64, u16, u16)], bar: usize) -> usize {
    let (from, to) = (bar as f64 * 4.0 - 1e-6, (bar + 1) as f64 * 4.0 - 1e-6);
    heard
        .iter()
        .filter(|(b, c, _)| *c == SAX && (from..to).contains(b))
        .count()
}

#[test]
fn accompanying_the_sax_lays_out_while_the_player_solos() {
    let solo_bars: Vec<usize> = (4..8).chain(12..16).collect();
    let notes = licks_in(solo_bars.clone());
    let heard = jam(&library(), "accompany", &notes);
    assert_all_passed(&heard, notes.len());
    // Out from the player's first note to a bar after their last.
    for bar in solo_bars.iter().copied().chain([8, 16]) {
        assert_eq!(
            sax_in_bar(&heard, bar),
            0,
            "the sax played over the player in bar {bar}"
        );
    }
    let resting = [1, 2, 3, 9, 10, 11, 17, 18, 19];
    let with_sax = resting
        .iter()
        .filter(|b| sax_in_bar(&heard, **b) > 0)
        .count();
    assert!(
        with_sax * 2 >= resting.len(),
        "the sax played in only {with_sax} of the {} bars the player rested",
        resting.len()
    );
}

#[test]
fn trading_fours_the_sax_answers_in_its_turns_with_the_players_rhythm() {
    let notes = licks_in((0..4).chain(8..12).chain(16..20));
    let heard = jam(&library(), "trade", &notes);
    assert_all_passed(&heard, notes.len());
    let mut sax_turn_bars_played = 0;
    for bar in 0..BARS {
        let sax = sax_in_bar(&heard, bar);
        if (bar / 4) % 2 == 0 {
            assert_eq!(sax, 0, "the sax played in the player's turn, bar {bar}");
        } else if sax > 0 {
            sax_turn_bars_played += 1;
        }
    }
    assert!(
        sax_turn_bars_played >= 6,
        "the sax played in {sax_turn_bars_played} of its 8 bars"
    );
    // The answer keeps the player's rhythm: its onsets fall where the lick's did (the off-beat
    // 8ths swung later).
    let sax: Vec<f64> = heard
        .iter()
        .filter(|(_, c, _)| *c == SAX)
        .map(|(b, _, _)| b.rem_euclid(4.0))
        .collect();
    let on_lick = sax
        .iter()
        .filter(|at| LICK.iter().any(|(l, _)| (**at - l).abs() <= 0.2))
        .count();
    assert!(
        on_lick * 10 >= sax.len() * 7,
        "{on_lick} of {} sax onsets are the player's",
        sax.len()
    );
}

#[test]
fn following_chords_the_bass_plays_the_held_roots_within_a_bar() {
    let mut notes = Vec::new();
    // Dm7 struck just before bar 4 and held to bar 8; G7 struck a beat into bar 8.
    for key in [50, 53, 57, 60] {
        notes.push((15.5, 16.4, key));
    }
    for key in [55, 59, 62, 65] {
        notes.push((33.0, 14.9, key));
    }
    let heard = jam(&library(), "chords", &notes);
    assert_all_passed(&heard, notes.len());
    let downbeat = |bar: usize| {
        heard
            .iter()
            .find(|(b, c, _)| *c == BASS && (b - bar as f64 * 4.0).abs() < 1e-3)
            .map(|(_, _, k)| k % 12)
    };
    for bar in 4..8 {
        assert_eq!(downbeat(bar), Some(2), "bar {bar}: D, the held Dm7's root");
    }
    for bar in 9..12 {
        assert_eq!(downbeat(bar), Some(7), "bar {bar}: G, the held G7's root");
    }
}

#[test]
fn a_flood_into_a_listening_band_breaks_nothing() {
    // Every key struck 24 times in one bar, without a note-off until the end, into a band
    // following chords: the capture ring fills and drops, nothing sticks, the band plays on.
    let mut notes = Vec::new();
    for i in 0..3072u32 {
        let key = (i % 128) as u8;
        notes.push((8.0 + f64::from(i) / 1000.0, 20.0, key));
    }
    let heard = jam(&library(), "chords", &notes);
    let band_after = heard
        .iter()
        .filter(|(b, c, _)| *c != PLAYER && *b >= 32.0)
        .count();
    assert!(band_after > 50, "the band played on: {band_after} notes");
}
