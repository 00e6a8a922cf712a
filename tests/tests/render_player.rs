//! `infinite-jazz render --player take.mid --listen …`: the band answering a recorded player,
//! run as a user runs it, on MIDI files written here the way a DAW exports them.

use integration_tests::{assert_success, binary, scratch_dir};
use midly::num::{u15, u28, u4, u7};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};
use std::path::Path;
use std::process::Command;

/// A format-0 file at 480 ticks per beat on channel 7: `notes` are (start beat, beats, key).
fn player_file(path: &Path, notes: &[(f64, f64, u8)]) {
    let mut events: Vec<(u32, bool, u8)> = Vec::new();
    for (start, length, key) in notes {
        events.push(((start * 480.0) as u32, true, *key));
        events.push((((start + length) * 480.0) as u32, false, *key));
    }
    events.sort_by_key(|(t, on, _)| (*t, *on));
    let mut track = vec![TrackEvent {
        delta: u28::new(0),
        kind: TrackEventKind::Meta(MetaMessage::Tempo(500_000.into())),
    }];
    let mut now = 0;
    for (tick, on, key) in events {
        let message = if on {
            MidiMessage::NoteOn {
                key: u7::new(key),
                vel: u7::new(96),
            }
        } else {
            MidiMessage::NoteOff {
                key: u7::new(key),
                vel: u7::new(0),
            }
        };
        track.push(TrackEvent {
            delta: u28::new(tick - now),
            kind: TrackEventKind::Midi {
                channel: u4::new(6),
                message,
            },
        });
        now = tick;
    }
    track.push(TrackEvent {
        delta: u28::new(0),
        kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
    });
    let smf = Smf {
        header: Header::new(Format::SingleTrack, Timing::Metrical(u15::new(480))),
        tracks: vec![track],
    };
    let mut bytes = Vec::new();
    smf.write_std(&mut bytes).expect("encodes");
    std::fs::write(path, bytes).expect("write the player's file");
}

/// A blues lick in each of `bars`: C, Eb, F, G, Bb on and off the beats.
fn phrase_in(bars: &[usize]) -> Vec<(f64, f64, u8)> {
    let lick = [(0.0, 60), (1.0, 63), (1.5, 65), (2.5, 67), (3.0, 70)];
    bars.iter()
        .flat_map(|bar| lick.map(|(at, key)| (*bar as f64 * 4.0 + at, 0.4, key)))
        .collect()
}

fn render(dir: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(binary("infinite-jazz-standalone", "infinite-jazz"))
        .current_dir(dir)
        .env(
            "XDG_CONFIG_HOME",
            integration_tests::target_dir().join("no-user-config"),
        )
        .args(["render", "--bars", "16", "--seed", "3", "--out", "jam.mid"])
        .args(extra)
        .output()
        .expect("binary runs")
}

/// A note-on: (beat, 0-based channel, key).
type NoteOn = (f64, u8, u8);

/// (track name, note-ons) of each track.
fn note_ons(path: &Path) -> Vec<(String, Vec<NoteOn>)> {
    let bytes = std::fs::read(path).expect("jam.mid");
    let smf = Smf::parse(&bytes).expect("SMF");
    let Timing::Metrical(ppq) = smf.header.timing else {
        panic!("beats")
    };
    smf.tracks
        .iter()
        .map(|track| {
            let mut tick = 0u32;
            let mut name = String::new();
            let mut ons = Vec::new();
            for e in track {
                tick += e.delta.as_int();
                match e.kind {
                    TrackEventKind::Meta(MetaMessage::TrackName(n)) => {
                        name = String::from_utf8_lossy(n).into_owned()
                    }
                    TrackEventKind::Midi {
                        channel,
                        message: MidiMessage::NoteOn { key, vel },
                    } if vel.as_int() > 0 => ons.push((
                        f64::from(tick) / f64::from(ppq.as_int()),
                        channel.as_int(),
                        key.as_int(),
                    )),
                    _ => {}
                }
            }
            (name, ons)
        })
        .collect()
}

fn bars_with_notes(notes: &[NoteOn]) -> Vec<usize> {
    let mut bars: Vec<usize> = notes.iter().map(|(b, _, _)| (*b / 4.0) as usize).collect();
    bars.dedup();
    bars
}

#[test]
fn the_band_accompanies_a_recorded_player_and_keeps_its_part() {
    let dir = scratch_dir("render_player_accompany");
    let solo = [0, 1, 2, 3, 8, 9];
    player_file(&dir.join("take.mid"), &phrase_in(&solo));
    assert_success(&render(
        &dir,
        &["--player", "take.mid", "--listen", "accompany"],
    ));
    let tracks = note_ons(&dir.join("jam.mid"));
    let names: Vec<&str> = tracks.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["Bass", "Drums", "Piano", "Sax", "Player"]);
    let player = &tracks[4].1;
    assert_eq!(player.len(), 30, "every note of the player's file");
    assert!(
        player.iter().all(|(_, channel, _)| *channel == 3),
        "channel 4"
    );
    for bar in bars_with_notes(&tracks[3].1) {
        assert!(
            !solo.contains(&bar),
            "the sax plays over the solo in bar {bar}"
        );
    }
    let sax_bars = bars_with_notes(&tracks[3].1);
    assert!(sax_bars.iter().any(|b| (5..8).contains(b)), "{sax_bars:?}");
}

#[test]
fn trading_and_following_chords_from_the_command_line() {
    let dir = scratch_dir("render_player_trade");
    player_file(
        &dir.join("take.mid"),
        &phrase_in(&[0, 1, 2, 3, 8, 9, 10, 11]),
    );
    assert_success(&render(
        &dir,
        &["--player", "take.mid", "--listen", "trade"],
    ));
    let tracks = note_ons(&dir.join("jam.mid"));
    let sax_bars = bars_with_notes(&tracks[3].1);
    assert!(!sax_bars.is_empty());
    for bar in &sax_bars {
        assert_eq!(
            (bar / 4) % 2,
            1,
            "the sax's turns are bars 5-8 and 13-16: {sax_bars:?}"
        );
    }

    let dir = scratch_dir("render_player_chords");
    // Held chords: Dm7 for four bars, then G7 for four.
    let mut held = Vec::new();
    for key in [50, 53, 57, 60] {
        held.push((0.0, 15.9, key));
    }
    for key in [55, 59, 62, 65] {
        held.push((16.0, 15.9, key));
    }
    player_file(&dir.join("take.mid"), &held);
    assert_success(&render(
        &dir,
        &["--player", "take.mid", "--listen", "chords"],
    ));
    let tracks = note_ons(&dir.join("jam.mid"));
    for bar in 0..8 {
        let root = if bar < 4 { 2 } else { 7 };
        let downbeat = tracks[0]
            .1
            .iter()
            .find(|(b, _, _)| (*b - bar as f64 * 4.0).abs() < 1e-6)
            .unwrap_or_else(|| panic!("no bass on bar {bar}"));
        assert_eq!(
            downbeat.2 % 12,
            root,
            "bar {bar}: the bass plays the held chord's root"
        );
    }
}

#[test]
fn a_bad_player_file_or_mode_is_a_clear_error() {
    let dir = scratch_dir("render_player_errors");
    std::fs::write(dir.join("junk.mid"), b"MThd not really").expect("write");
    let out = render(&dir, &["--player", "junk.mid"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a readable MIDI file"), "{err}");
    assert!(!dir.join("jam.mid").exists());
    player_file(&dir.join("take.mid"), &phrase_in(&[0]));
    let out = render(&dir, &["--player", "take.mid", "--listen", "polka"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--listen"));
    let out = render(&dir, &["--player", "missing.mid"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.mid"));
}
