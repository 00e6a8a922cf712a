//! The Infinite Jazz plugin, built as a debug CLAP with `assert_process_allocs` (any allocation
//! in `process()` aborts the test process), driven by a CLAP host through random block sizes,
//! tempo changes, loop jumps and stops.

use integration_tests::clap_host::{
    run_session, BlockSpec, HostMeter, OutEvent, ProcessedBlock, Session, TransportSpec,
};
use integration_tests::{on_swung_grid, plugin_library};
use std::path::PathBuf;

const ID: &str = "com.infinite-jazz.infinite-jazz";
const SAMPLE_RATE: f64 = 48_000.0;
const SWING: f64 = 0.62;

fn library() -> PathBuf {
    // No user config: the built-in composer plays.
    std::env::set_var(
        "XDG_CONFIG_HOME",
        integration_tests::target_dir().join("no-user-config"),
    );
    plugin_library("infinite-jazz", &["assert_process_allocs"])
}

fn session(library: &std::path::Path, state: Option<&[u8]>) -> Session<'static> {
    let library: &'static std::path::Path = Box::leak(library.to_path_buf().into_boxed_path());
    let state: Option<&'static [u8]> = state.map(|s| &*Box::leak(s.to_vec().into_boxed_slice()));
    Session {
        library,
        plugin_id: ID,
        sample_rate: SAMPLE_RATE,
        output_channels: 0,
        state,
        settle: std::time::Duration::ZERO,
        pace: None,
        input: &[],
    }
}

/// Frames JSON the way nice-plug's CLAP state does.
fn frame(json: &[u8]) -> Vec<u8> {
    let mut bytes = (json.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(json);
    bytes
}

struct Rng(u64);
impl Rng {
    fn next(&mut self, max: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % max
    }
}

/// Builds a script: play from beat 0 with random block sizes and tempo changes, jump back
/// (a loop), play on, stop, start elsewhere, stop.
fn script(seed: u64) -> Vec<BlockSpec> {
    script_in(seed, HostMeter::COMMON)
}

/// [`script`] with the host in `meter`.
fn script_in(seed: u64, meter: HostMeter) -> Vec<BlockSpec> {
    let mut rng = Rng(seed);
    let mut blocks = Vec::new();
    let mut beat = 0.0;
    let mut tempo = 120.0;
    let play_until = |blocks: &mut Vec<BlockSpec>,
                      beat: &mut f64,
                      tempo: &mut f64,
                      until: f64,
                      rng: &mut Rng| {
        while *beat < until {
            let samples = 1 + rng.next(8192) as u32;
            if rng.next(40) == 0 {
                *tempo = 70.0 + rng.next(160) as f64;
            }
            blocks.push(BlockSpec {
                samples,
                transport: Some(TransportSpec {
                    playing: true,
                    beat: *beat,
                    tempo: *tempo,
                    meter,
                }),
            });
            *beat += f64::from(samples) * *tempo / 60.0 / SAMPLE_RATE;
        }
    };
    play_until(&mut blocks, &mut beat, &mut tempo, 40.0, &mut rng);
    // Loop back to bar 3.
    beat = 8.0;
    play_until(&mut blocks, &mut beat, &mut tempo, 30.0, &mut rng);
    for _ in 0..3 {
        blocks.push(BlockSpec {
            samples: 512,
            transport: Some(TransportSpec {
                playing: false,
                beat,
                tempo,
                meter,
            }),
        });
    }
    // Start again mid-bar somewhere else.
    beat = 61.5;
    play_until(&mut blocks, &mut beat, &mut tempo, 90.0, &mut rng);
    for _ in 0..2 {
        blocks.push(BlockSpec {
            samples: 256,
            transport: Some(TransportSpec {
                playing: false,
                beat,
                tempo,
                meter,
            }),
        });
    }
    blocks
}

struct Timeline {
    note_ons: Vec<(f64, u16, u16)>,
}

/// Checks every block's events and returns the note-ons by beat.
fn check_blocks(blocks: &[ProcessedBlock]) -> Timeline {
    let mut sounding = [[false; 128]; 16];
    let mut note_ons = Vec::new();
    for block in blocks {
        let mut last_time = 0;
        for event in &block.events {
            assert!(
                event.time() < block.spec.samples,
                "event outside its block: {event:?} in {:?}",
                block.spec
            );
            assert!(event.time() >= last_time, "events out of order");
            last_time = event.time();
            match *event {
                OutEvent::NoteOn {
                    time,
                    channel,
                    key,
                    velocity,
                } => {
                    let t = block
                        .spec
                        .transport
                        .expect("notes only while a transport plays");
                    assert!(t.playing);
                    let bps = t.tempo / 60.0 / SAMPLE_RATE;
                    let beat = t.quantized_beat() + f64::from(time) * bps;
                    assert!(on_swung_grid(beat, bps, SWING), "note-on at beat {beat} (sample {time}) is off the swung grid in {:?} after {:?}", block.spec, blocks.iter().position(|b| std::ptr::eq(b, block)).map(|i| (i, blocks[i.saturating_sub(1)].spec, blocks[i.saturating_sub(2)].spec)));
                    assert!((0.0..=1.0).contains(&velocity) && velocity > 0.0);
                    assert!([0, 1, 2, 9].contains(&channel), "channel {channel}");
                    let slot = &mut sounding[usize::from(channel)][usize::from(key)];
                    assert!(!*slot, "double note-on {channel}/{key} at beat {beat}");
                    *slot = true;
                    note_ons.push((beat, channel, key));
                }
                OutEvent::NoteOff { channel, key, .. } => {
                    let slot = &mut sounding[usize::from(channel)][usize::from(key)];
                    assert!(*slot, "note-off without note-on {channel}/{key}");
                    *slot = false;
                }
                OutEvent::Midi { data, .. } => {
                    assert_eq!(data[0] & 0xF0, 0xB0, "only control changes besides notes");
                    assert_eq!(data[1], 123, "all notes off");
                }
                OutEvent::Other { .. } => panic!("unexpected event type"),
            }
        }
    }
    let stuck = sounding.iter().flatten().filter(|s| **s).count();
    assert_eq!(stuck, 0, "notes left sounding after the transport stopped");
    Timeline { note_ons }
}

#[test]
fn host_synced_notes_are_sample_accurate_balanced_and_never_silent() {
    let lib = library();
    for seed in [0x1234_5678u64, 0xBADC_0FFE] {
        let result = run_session(&session(&lib, None), &script(seed));
        let timeline = check_blocks(&result.blocks);
        assert!(
            timeline.note_ons.len() > 300,
            "{} notes",
            timeline.note_ons.len()
        );
        // Every bar the transport played through has music, including after the loop and the
        // restart (the worker may not keep up with a host running faster than real time;
        // fallback sections must fill in).
        for bar_start in (0..40).step_by(4).chain((64..88).step_by(4)) {
            let lo = f64::from(bar_start);
            let notes = timeline
                .note_ons
                .iter()
                .filter(|(b, _, _)| *b >= lo && *b < lo + 4.0)
                .count();
            assert!(notes >= 4, "bar at beat {bar_start}: {notes} notes");
        }
        // The loop replays what was played there before: same notes at the same beats.
        let first_pass: Vec<_> = timeline
            .note_ons
            .iter()
            .take_while(|(b, _, _)| *b < 39.0)
            // Block boundaries differ between passes: compare grid positions (x.00, x.31, …);
            // a note lands within half a sample of its grid point, on either side.
            .map(|(b, c, k)| ((b * 100.0).round() as i64, *c, *k))
            .filter(|(b, _, _)| (1600..2800).contains(b))
            .collect();
        let second_pass: Vec<_> = timeline
            .note_ons
            .iter()
            .skip_while(|(b, _, _)| *b < 39.0)
            // Block boundaries differ between passes: compare grid positions (x.00, x.31, …);
            // a note lands within half a sample of its grid point, on either side.
            .map(|(b, c, k)| ((b * 100.0).round() as i64, *c, *k))
            .filter(|(b, _, _)| (1600..2800).contains(b))
            .collect();
        assert_eq!(first_pass, second_pass, "a loop replays the same music");
    }
}

#[test]
fn without_a_transport_the_band_runs_on_its_own_clock() {
    let lib = library();
    let blocks: Vec<BlockSpec> = (0..400)
        .map(|i| BlockSpec {
            samples: 480 + (i % 7) * 100,
            transport: None,
        })
        .collect();
    let result = run_session(&session(&lib, None), &blocks);
    let bps = 120.0 / 60.0 / SAMPLE_RATE;
    let mut position = 0.0;
    let mut per_bar = [0usize; 8];
    for block in &result.blocks {
        for event in &block.events {
            if let OutEvent::NoteOn { time, .. } = event {
                let beat = position + f64::from(*time) * bps;
                assert!(
                    on_swung_grid(beat, bps, SWING),
                    "beat {beat} block {:?}",
                    block.spec
                );
                if let Some(n) = per_bar.get_mut((beat / 4.0) as usize) {
                    *n += 1;
                }
            }
        }
        position += f64::from(block.spec.samples) * bps;
    }
    // 400 blocks at 120 BPM are a little over 13 beats: three whole bars, each with music.
    assert!(position > 12.0, "{position} beats");
    for (bar, notes) in per_bar.iter().take(3).enumerate() {
        assert!(
            *notes >= 4,
            "bar {bar}: {notes} notes at the plugin's own tempo"
        );
    }
}

#[test]
fn state_round_trips_and_hostile_state_never_breaks_the_plugin() {
    let lib = library();
    let short = BlockSpec::at_120_bpm(41, 1024, SAMPLE_RATE, true);
    let first = run_session(&session(&lib, None), &short);
    // nice-plug's CLAP state: an 8-byte little-endian length, then JSON.
    assert!(first.saved_state.len() > 8);
    let json = String::from_utf8(first.saved_state[8..].to_vec()).expect("state is JSON text");
    assert!(json.contains("\"swing\""), "{json}");
    // Change a value through the state itself, load it, and see it saved back.
    let edited = json.replacen("\"seed\":{\"i32\":1}", "\"seed\":{\"i32\":42}", 1);
    assert_ne!(edited, json, "the seed is in the state: {json}");
    let second = run_session(&session(&lib, Some(&frame(edited.as_bytes()))), &short);
    assert_eq!(second.state_loaded, Some(true));
    assert!(String::from_utf8_lossy(&second.saved_state).contains("\"seed\":{\"i32\":42}"));
    let mut lying_length = u64::MAX.to_le_bytes().to_vec();
    lying_length.extend_from_slice(b"{}");
    let hostile: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"\xff\xfe garbage \x00\x01".to_vec(),
        lying_length,
        frame(b"\xff\xfe not json"),
        frame(b"{\"params\": {\"swing\": {\"string\": \"loud\"}, \"bars\": {\"f32\": 1e38}}}"),
        frame(b"{\"params\": {\"seed\": {\"i32\": -99999999}, \"depth\": {\"i32\": 9999}, \"bass_chan\": {\"i32\": 300}}, \"fields\": 7}"),
        frame(&[b'['; 100_000]),
    ];
    for state in &hostile {
        let result = run_session(&session(&lib, Some(state)), &short);
        let shown = String::from_utf8_lossy(&state[..state.len().min(40)]).to_string();
        assert_eq!(
            result.state_loaded,
            Some(false),
            "hostile state {shown:?} is refused"
        );
        assert_eq!(
            result.saved_state, first.saved_state,
            "and the defaults stay: {shown:?}"
        );
        let ons = result
            .blocks
            .iter()
            .flat_map(|b| &b.events)
            .filter(|e| matches!(e, OutEvent::NoteOn { .. }))
            .count();
        assert!(
            ons > 10,
            "the plugin plays on after hostile state {shown:?}"
        );
        check_blocks(&result.blocks);
    }
    // Well-formed but out of range: accepted, and every value is clamped where it is used.
    let wild = json
        .replacen(
            "\"bass_chan\":{\"i32\":1}",
            "\"bass_chan\":{\"i32\":300}",
            1,
        )
        .replacen("\"depth\":{\"i32\":4}", "\"depth\":{\"i32\":-7}", 1)
        .replacen("\"bars\":{\"i32\":2}", "\"bars\":{\"i32\":100000}", 1)
        .replacen("\"swing\":{\"f32\":0.62}", "\"swing\":{\"f32\":5.0}", 1);
    let result = run_session(&session(&lib, Some(&frame(wild.as_bytes()))), &short);
    assert_eq!(result.state_loaded, Some(true));
    let mut channels = std::collections::BTreeSet::new();
    for event in result.blocks.iter().flat_map(|b| &b.events) {
        if let OutEvent::NoteOn { channel, .. } = event {
            channels.insert(*channel);
        }
    }
    assert!(
        channels.len() >= 3 && channels.iter().all(|c| *c <= 15),
        "{channels:?}"
    );
}

/// The bar lines of `meter` in `[from, to)`.
fn bar_lines(meter: HostMeter, from: f64, to: f64) -> Vec<f64> {
    let mut lines = Vec::new();
    let mut beat = from;
    while beat < to {
        let (start, _, n, d) = meter.bar_at(beat);
        if start >= from {
            lines.push(start);
        }
        beat = start + 4.0 * f64::from(n) / f64::from(d);
    }
    lines
}

/// The host in `meter`, at up to 8 times real time so the worker hears of the meter in time:
/// everything on the swung grid, nothing stuck, the bass on every downbeat of the host's bars,
/// and the drummer's crashes only on them.
fn plays_in_the_hosts_bars(meter: HostMeter) {
    let lib = library();
    let mut session = session(&lib, None);
    session.pace = Some(8.0);
    let result = run_session(&session, &script_in(0x3434, meter));
    let timeline = check_blocks(&result.blocks);
    let near = |a: f64, b: f64| (a - b).abs() <= 230.0 / 60.0 / SAMPLE_RATE / 2.0 + 1e-9;
    // The first pass, from beat 0 up to the loop back at beat 40.
    let first_pass: Vec<(f64, u16, u16)> = timeline
        .note_ons
        .iter()
        .copied()
        .take_while(|(b, _, _)| *b < 40.0)
        .collect();
    let lines = bar_lines(meter, 0.0, 38.0);
    let mut downbeat_keys = Vec::new();
    for line in &lines {
        let bass = first_pass
            .iter()
            .find(|(b, c, _)| *c == 0 && near(*b, *line))
            .unwrap_or_else(|| panic!("no bass on the downbeat at beat {line}: {meter:?}"));
        downbeat_keys.push((*line, bass.2));
    }
    for (beat, _, _) in timeline
        .note_ons
        .iter()
        .filter(|(_, c, k)| *c == 9 && *k == 49)
    {
        let lines = bar_lines(meter, 0.0, 100.0);
        assert!(
            lines.iter().any(|l| near(*l, *beat)),
            "crash off the bar lines at beat {beat}"
        );
    }
    // The hi-hat foot keeps the meter's backbeat: beat 2 of each bar in 3/4 (2 and 4 in 4/4).
    for (beat, _, _) in first_pass.iter().filter(|(_, c, k)| *c == 9 && *k == 44) {
        let (start, _, n, d) = meter.bar_at(*beat + 0.01);
        let backbeats = if (n, d) == (4, 4) {
            vec![1.0, 3.0]
        } else {
            vec![1.0]
        };
        assert!(
            backbeats.iter().any(|b| near(start + b, *beat)),
            "hi-hat at beat {beat}, bar from {start} in {n}/{d}"
        );
    }
    // In the new meter the band walks through the changes (fresh sections in that meter, not
    // one bar of the reserve over and over).
    let keys: Vec<u16> = downbeat_keys
        .iter()
        .filter(|(beat, _)| *beat >= meter.since + 8.0)
        .map(|(_, k)| *k)
        .collect();
    assert!(keys.len() >= 3, "{downbeat_keys:?}");
    assert!(
        keys.iter().any(|k| *k != keys[0]),
        "the same bass note on every downbeat: {downbeat_keys:?}"
    );
}

#[test]
fn in_three_four_the_band_plays_the_hosts_bars() {
    plays_in_the_hosts_bars(HostMeter {
        numerator: 3,
        denominator: 4,
        since: 0.0,
    });
}

#[test]
fn a_change_from_four_four_to_three_four_is_followed_at_its_bar_line() {
    plays_in_the_hosts_bars(HostMeter {
        numerator: 3,
        denominator: 4,
        since: 16.0,
    });
}

#[test]
fn a_waltz_feel_without_a_time_signature_plays_in_its_own_three_four() {
    let lib = library();
    let short = BlockSpec::at_120_bpm(4, 1024, SAMPLE_RATE, true);
    let first = run_session(&session(&lib, None), &short);
    let json = String::from_utf8(first.saved_state[8..].to_vec()).expect("state is JSON text");
    // Choose the feel through the project state, as a host restoring a project does.
    let start = json
        .find("\"feel\":{")
        .unwrap_or_else(|| panic!("no feel in {json}"));
    let end = start + json[start..].find('}').expect("a closing brace") + 1;
    let edited = format!(
        "{}\"feel\":{{\"string\":\"waltz\"}}{}",
        &json[..start],
        &json[end..]
    );
    let mut waltz = session(&lib, Some(&frame(edited.as_bytes())));
    waltz.pace = Some(8.0);
    // No transport at all: the band keeps its own tempo (120) and its own meter, the feel's.
    let blocks: Vec<BlockSpec> = (0..1900)
        .map(|_| BlockSpec {
            samples: 512,
            transport: None,
        })
        .collect();
    let result = run_session(&waltz, &blocks);
    assert_eq!(result.state_loaded, Some(true));
    assert!(String::from_utf8_lossy(&result.saved_state).contains("waltz"));
    let bps = 120.0 / 60.0 / SAMPLE_RATE;
    let mut heard = Vec::new();
    for (i, block) in result.blocks.iter().enumerate() {
        for event in &block.events {
            if let OutEvent::NoteOn {
                time, channel, key, ..
            } = *event
            {
                heard.push(((i * 512) as f64 * bps + f64::from(time) * bps, channel, key));
            }
        }
    }
    let near = |a: f64, b: f64| (a - b).abs() <= bps / 2.0 + 1e-9;
    for bar in 2..12 {
        let line = f64::from(bar) * 3.0;
        assert!(
            heard.iter().any(|(b, c, _)| *c == 0 && near(*b, line)),
            "no bass on the downbeat of bar {bar}"
        );
        // Comping on 2 and 3, never on the waltz's downbeat.
        assert!(
            !heard.iter().any(|(b, c, _)| *c == 1 && near(*b, line)),
            "piano on the downbeat of bar {bar}"
        );
    }
    let hats: Vec<f64> = heard
        .iter()
        .filter(|(b, c, k)| *c == 9 && *k == 44 && *b > 3.0)
        .map(|(b, _, _)| *b)
        .collect();
    assert!(hats.len() >= 8, "{hats:?}");
    for h in hats {
        assert!(near(h.rem_euclid(3.0), 1.0), "hi-hat off beat 2 at {h}");
    }
}

#[test]
fn the_players_notes_pass_through_on_their_channel_and_a_flood_breaks_nothing() {
    use integration_tests::clap_host::InputNote;
    let lib = library();
    let mut input = vec![
        InputNote {
            block: 10,
            time: 100,
            channel: 0,
            key: 72,
            on: true,
        },
        InputNote {
            block: 20,
            time: 50,
            channel: 0,
            key: 72,
            on: false,
        },
    ];
    // A flood: 3000 note-ons without note-offs in one block, then every key released.
    for i in 0..3000u32 {
        input.push(InputNote {
            block: 30,
            time: i / 6,
            channel: 5,
            key: (i % 128) as u8,
            on: true,
        });
    }
    for key in 0..128u8 {
        input.push(InputNote {
            block: 31,
            time: 0,
            channel: 5,
            key,
            on: false,
        });
    }
    let input: &'static [InputNote] = Box::leak(input.into_boxed_slice());
    let mut with_player = session(&lib, None);
    with_player.input = input;
    let blocks = BlockSpec::at_120_bpm(60, 4096, SAMPLE_RATE, true);
    let result = run_session(&with_player, &blocks);
    let mut sounding = [[false; 128]; 16];
    let mut player_ons = 0;
    for (index, block) in result.blocks.iter().enumerate() {
        let mut last = 0;
        for event in &block.events {
            assert!(event.time() >= last, "block {index}: events out of order");
            last = event.time();
            match *event {
                OutEvent::NoteOn {
                    time, channel, key, ..
                } => {
                    if channel == 3 {
                        player_ons += 1;
                        if index == 10 {
                            assert_eq!((time, key), (100, 72), "passed on at its own time");
                        }
                    }
                    sounding[usize::from(channel)][usize::from(key)] = true;
                }
                OutEvent::NoteOff {
                    time, channel, key, ..
                } => {
                    if index == 20 && channel == 3 {
                        assert_eq!((time, key), (50, 72));
                    }
                    sounding[usize::from(channel)][usize::from(key)] = false;
                }
                _ => {}
            }
        }
    }
    assert!(
        player_ons > 100,
        "{player_ons} of the player's notes passed on"
    );
    for (channel, keys) in sounding.iter().enumerate() {
        assert!(
            keys.iter().all(|s| !s),
            "a note left sounding on channel {}",
            channel + 1
        );
    }
    // The band played on through the flood.
    let band_ons: usize = result.blocks[30..40]
        .iter()
        .flat_map(|b| &b.events)
        .filter(|e| matches!(e, OutEvent::NoteOn { channel, .. } if *channel != 3))
        .count();
    assert!(band_ons > 0);
}
