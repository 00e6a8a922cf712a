//! Meters end to end in the engine: the sequencer follows a host's bars (3/4, a change from
//! 4/4 to 3/4, random blocks and tempi), the composer writes whole bars of each meter, and
//! takes and MIDI files keep the meter.

use infinite_jazz_engine::composer::{BuiltinComposer, ComposerSettings};
use infinite_jazz_engine::meter::Meter;
use infinite_jazz_engine::midi_file::{beats_to_ticks, write_smf};
use infinite_jazz_engine::section::{Instrument, Note, Section, Step};
use infinite_jazz_engine::sequencer::prepared::{PreparedSection, SectionOrigin};
use infinite_jazz_engine::sequencer::{
    BarGrid, Clock, LiveSettings, MidiEvent, Sequencer, SequencerStats,
};
use infinite_jazz_engine::take::{read_take, write_take, TakeInfo};
use infinite_jazz_engine::timing::{section_note_spans, RuntimeConfig};
use infinite_jazz_engine::worker::{section_queues, WorkerQueues};
use midly::{MetaMessage, Smf, TrackEventKind};
use std::sync::atomic::Ordering;
use std::sync::Arc;

const KICK: u8 = 36;
const CRASH: u8 = 49;

fn meter(text: &str) -> Meter {
    text.parse().expect("a meter")
}

/// Two bars of `meter`: a crash on the section's first step, a kick on every bar line and a
/// bass note held through each bar, so where sections and bars land can be heard.
fn marked_section(meter: Meter) -> Section {
    let per_bar = meter.steps_per_bar();
    let mut section = Section::empty_in(meter, 2 * per_bar);
    let hit = |key| vec![Note { key, velocity: 90 }];
    section.part_mut(Instrument::Drums).set(0, hit(CRASH));
    for bar in 0..2 {
        let drums = &mut section.part_mut(Instrument::Drums).steps[bar * per_bar];
        match drums {
            Step::Notes(notes) => notes.push(Note {
                key: KICK,
                velocity: 90,
            }),
            _ => *drums = Step::Notes(hit(KICK)),
        }
        let bass = section.part_mut(Instrument::Bass);
        bass.set(bar * per_bar, hit(40 + bar as u8));
        bass.hold(bar * per_bar, per_bar);
    }
    section
}

/// Where a host's bars are at `beat`: 4/4 until `change` (a bar line), `after` from there.
fn host_bars(beat: f64, change: f64, after: Meter) -> BarGrid {
    if beat < change - 1e-9 {
        let bar = (beat / 4.0).floor();
        BarGrid::from_host(Meter::COMMON, Some(bar * 4.0), Some(bar as i32))
    } else {
        let length = after.quarters_per_bar();
        let bars_in = ((beat - change) / length + 1e-9).floor();
        let bars_before = (change / 4.0) as i32;
        BarGrid::from_host(
            after,
            Some(change + bars_in * length),
            Some(bars_before + bars_in as i32),
        )
    }
}

struct Rig {
    sequencer: Sequencer,
    worker: WorkerQueues,
    stats: Arc<SequencerStats>,
}

impl Rig {
    fn new() -> Self {
        let (worker, queues) = section_queues();
        let stats = Arc::new(SequencerStats::default());
        let reserve = Box::new(PreparedSection::new(
            &marked_section(Meter::COMMON),
            SectionOrigin::Reserve,
            0,
        ));
        Rig {
            sequencer: Sequencer::new(queues, stats.clone(), reserve),
            worker,
            stats,
        }
    }

    /// Keeps the ready queue holding at least `n` sections of `meter` after whatever is
    /// already queued, as a worker that has just heard of the meter does.
    fn feed(&mut self, meter: Meter, fresh: &mut usize, n: usize) {
        while let Ok(s) = self.worker.recycle.pop() {
            drop(s);
        }
        while *fresh < n + self.stats.sections_played.load(Ordering::Relaxed) as usize {
            let section = PreparedSection::new(&marked_section(meter), SectionOrigin::Primary, 0);
            if self.worker.ready.push(Box::new(section)).is_err() {
                break;
            }
            *fresh += 1;
        }
    }
}

/// (beat, event) of everything the sequencer emitted, under random blocks and tempi, with the
/// host's meter changing from 4/4 to `after` at beat `change`.
fn play_host(
    start: f64,
    until: f64,
    change: f64,
    after: Meter,
    seed: u64,
) -> Vec<(f64, MidiEvent)> {
    let mut rig = Rig::new();
    let mut heard = Vec::new();
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut beat = start;
    let mut fresh_in = Meter::COMMON;
    let mut fresh = 0;
    let live = LiveSettings::default();
    while beat < until {
        let grid = host_bars(beat, change, after);
        if grid.meter != fresh_in {
            // The worker's answer to a meter change: sections in the new meter, queued after
            // the stale ones still waiting.
            fresh_in = grid.meter;
            fresh = 0;
        }
        rig.feed(fresh_in, &mut fresh, 3);
        rig.sequencer.set_bar_grid(grid);
        let samples = 1 + rng.usize(..700);
        let bps = rng.f64().mul_add(160.0, 60.0) / 60.0 / 48_000.0;
        rig.sequencer
            .process(Clock::rolling(beat, bps), samples, &live, |event| {
                heard.push((beat + f64::from(event.sample()) * bps, event));
            });
        beat += samples as f64 * bps;
    }
    rig.sequencer.process(Clock::Stopped, 64, &live, |event| {
        heard.push((beat, event));
    });
    if after != Meter::COMMON {
        assert!(
            rig.stats.stale_dropped.load(Ordering::Relaxed) > 0 || change <= start,
            "sections in the old meter were skipped"
        );
    }
    heard
}

/// Beats of the note-ons of `key` on the drum channel.
fn hits(heard: &[(f64, MidiEvent)], key: u8) -> Vec<f64> {
    heard
        .iter()
        .filter_map(|(beat, e)| match *e {
            MidiEvent::NoteOn {
                channel: 9, key: k, ..
            } if k == key => Some(*beat),
            _ => None,
        })
        .collect()
}

/// Whether `beat` is within half a sample (at the fastest tempo played) of a multiple of
/// `length` past `origin`: the nearest sample to a bar line.
fn on_line(beat: f64, origin: f64, length: f64) -> bool {
    let off = (beat - origin).rem_euclid(length);
    off.min(length - off) <= 0.5 * 220.0 / 60.0 / 48_000.0 + 1e-9
}

/// No note is left sounding and none is struck twice.
fn assert_balanced(heard: &[(f64, MidiEvent)]) {
    let mut sounding = [[0i32; 128]; 16];
    for (beat, e) in heard {
        match *e {
            MidiEvent::NoteOn { channel, key, .. } => {
                let s = &mut sounding[usize::from(channel)][usize::from(key)];
                *s += 1;
                assert_eq!(*s, 1, "double note-on at beat {beat}: {e:?}");
            }
            MidiEvent::NoteOff { channel, key, .. } => {
                let s = &mut sounding[usize::from(channel)][usize::from(key)];
                *s -= 1;
                assert_eq!(*s, 0, "note-off without note-on at beat {beat}: {e:?}");
            }
            MidiEvent::AllNotesOff { .. } => {}
        }
    }
    assert!(sounding.iter().flatten().all(|c| *c == 0), "a note stuck");
}

#[test]
fn in_three_four_every_bar_and_section_starts_on_the_hosts_bar_lines() {
    for seed in 0..6 {
        // Starting mid-bar, the first section still sits on the host's bars.
        let heard = play_host(4.5, 60.0, 0.0, meter("3/4"), seed);
        let kicks = hits(&heard, KICK);
        assert!(kicks.len() >= 15, "seed {seed}: {} kicks", kicks.len());
        for k in &kicks {
            assert!(on_line(*k, 0.0, 3.0), "seed {seed}: kick at beat {k}");
        }
        for c in hits(&heard, CRASH) {
            assert!(on_line(c, 0.0, 6.0), "seed {seed}: section starts at {c}");
        }
        assert_balanced(&heard);
    }
}

#[test]
fn a_change_from_four_four_to_three_four_starts_a_section_at_its_bar_line() {
    for seed in 0..6 {
        let change = 16.0;
        let heard = play_host(0.0, 40.0, change, meter("3/4"), seed);
        let kicks = hits(&heard, KICK);
        for k in &kicks {
            if *k < change - 1e-6 {
                assert!(on_line(*k, 0.0, 4.0), "seed {seed}: 4/4 kick at {k}");
            } else {
                assert!(on_line(*k, change, 3.0), "seed {seed}: 3/4 kick at {k}");
            }
        }
        // The new meter is really played: bars of three after the change.
        assert!(
            kicks
                .iter()
                .filter(|k| on_line(**k, change, 3.0) && !on_line(**k, 0.0, 4.0))
                .count()
                >= 4,
            "seed {seed}: kicks {kicks:?}"
        );
        for c in hits(&heard, CRASH) {
            if c >= change - 1e-6 {
                assert!(on_line(c, change, 6.0), "seed {seed}: 3/4 section at {c}");
            }
        }
        assert_balanced(&heard);
    }
}

#[test]
fn five_four_and_six_eight_play_on_their_bars_too() {
    for (text, length) in [("5/4", 5.0), ("6/8", 3.0), ("7/4", 7.0), ("7/8", 3.5)] {
        let heard = play_host(0.0, 50.0, 0.0, meter(text), 3);
        let kicks = hits(&heard, KICK);
        assert!(kicks.len() >= 6, "{text}: {kicks:?}");
        for k in &kicks {
            assert!(on_line(*k, 0.0, length), "{text}: kick at {k}");
        }
        assert_balanced(&heard);
    }
}

#[test]
fn the_composer_writes_whole_bars_of_every_meter() {
    for text in [
        "4/4", "3/4", "5/4", "6/8", "7/4", "7/8", "2/2", "9/16", "11/8",
    ] {
        let m = meter(text);
        let config = RuntimeConfig::default()
            .with_meter(m)
            .with_bars_per_section(3);
        for seed in 0..20 {
            let mut composer = BuiltinComposer::new(&ComposerSettings {
                seed,
                ..Default::default()
            });
            for _ in 0..4 {
                let composed = composer.compose_next(&config);
                let section = &composed.section;
                assert_eq!(section.meter, m);
                assert_eq!(section.total_steps, 3 * m.steps_per_bar(), "{text}");
                assert_eq!(section.bars(), 3);
                for part in &section.parts {
                    assert_eq!(part.steps.len(), section.total_steps);
                }
                // The bass walks: a note on every beat of the meter, the first of each bar
                // included.
                let bass = &section.part(Instrument::Bass).steps;
                for bar in 0..3 {
                    for (start, _) in m.pulses() {
                        assert!(
                            matches!(bass[bar * m.steps_per_bar() + start], Step::Notes(_)),
                            "{text} seed {seed}: bass rests on beat at step {start} of bar {bar}"
                        );
                    }
                }
                // The ride keeps the pulse outside fills.
                let drums = &section.part(Instrument::Drums).steps;
                let ride_on_one = (0..3)
                    .filter(|bar| match &drums[bar * m.steps_per_bar()] {
                        Step::Notes(n) => n.iter().any(|n| n.key == 51 || n.key == 49),
                        _ => false,
                    })
                    .count();
                assert!(ride_on_one >= 2, "{text} seed {seed}");
                // Nothing sounds past the section's end.
                let spans = section_note_spans(section, &config);
                let end = section.length_beats();
                assert!(spans.iter().all(|s| s.end_beats <= end + 0.1 + 1e-9));
            }
        }
    }
}

#[test]
fn compound_and_eighth_note_meters_play_straight() {
    let config = RuntimeConfig::default().with_swing(0.7);
    for (text, straight) in [("6/8", true), ("7/8", true), ("3/4", false), ("4/4", false)] {
        let m = meter(text);
        let mut section = Section::empty_in(m, m.steps_per_bar());
        section.part_mut(Instrument::Sax).set(
            2,
            vec![Note {
                key: 60,
                velocity: 80,
            }],
        );
        let spans = section_note_spans(&section, &config.clone().with_meter(m));
        let expected = if straight { 0.5 } else { 0.7 };
        assert!((spans[0].start_beats - expected).abs() < 1e-12, "{text}");
    }
}

#[test]
fn takes_in_mixed_meters_read_back_exactly() {
    let mut sections = Vec::new();
    for (i, text) in ["3/4", "3/4", "5/4", "6/8", "4/4", "7/8"]
        .iter()
        .enumerate()
    {
        let m = meter(text);
        let config = RuntimeConfig::default()
            .with_meter(m)
            .with_bars_per_section(2);
        let mut composer = BuiltinComposer::new(&ComposerSettings {
            seed: i as u64,
            ..Default::default()
        });
        sections.push(composer.compose_next(&config).section);
    }
    let config = RuntimeConfig::default().with_meter(meter("3/4"));
    let info = TakeInfo::from_config(&config);
    let text = write_take(&info, &sections);
    assert!(text.contains("# meter: 3/4") && text.contains("# meter: 6/8"));
    let read = read_take(&text, RuntimeConfig::default()).expect("reads");
    assert_eq!(read.repairs_total, 0, "{:?}", read.repairs);
    assert_eq!(read.config.meter(), meter("3/4"));
    assert_eq!(read.sections, sections);

    // A 4/4 take from before meters existed reads as before: no meter line is written.
    let old = RuntimeConfig::default();
    let mut composer = BuiltinComposer::new(&ComposerSettings::default());
    let four = vec![composer.compose_next(&old).section];
    let text = write_take(&TakeInfo::from_config(&old), &four);
    assert!(!text.contains("meter"));
    assert_eq!(read_take(&text, old).expect("reads").sections, four);
}

#[test]
fn midi_files_carry_each_meter_where_it_starts() {
    let plan = [("3/4", 2), ("3/4", 2), ("5/4", 1), ("6/8", 2), ("4/4", 1)];
    let mut sections = Vec::new();
    let mut expected = Vec::new();
    let mut beats = 0.0;
    for (text, bars) in plan {
        let m = meter(text);
        let config = RuntimeConfig::default()
            .with_meter(m)
            .with_bars_per_section(bars);
        if expected.last().is_none_or(|(_, last)| *last != m) {
            expected.push((beats_to_ticks(beats), m));
        }
        let section = BuiltinComposer::new(&ComposerSettings::default())
            .compose_next(&config)
            .section;
        beats += section.length_beats();
        sections.push(section);
    }
    let bytes = write_smf(&sections, &RuntimeConfig::default()).expect("encodes");
    let smf = Smf::parse(&bytes).expect("parses");
    let mut found = Vec::new();
    let mut end = 0;
    for track in &smf.tracks {
        let mut tick = 0u32;
        for event in track {
            tick += event.delta.as_int();
            if let TrackEventKind::Meta(MetaMessage::TimeSignature(n, d, _, _)) = event.kind {
                found.push((tick, Meter::new(u32::from(n), 1 << d).expect("a meter")));
            }
        }
        end = end.max(tick);
    }
    assert_eq!(found, expected);
    assert_eq!(end, beats_to_ticks(beats));
}

#[test]
fn with_nothing_queued_the_reserve_keeps_the_hosts_bars_in_a_foreign_meter() {
    // The reserve is 4/4 and nothing in 3/4 has arrived yet: it plays a bar at a time.
    let mut rig = Rig::new();
    let live = LiveSettings::default();
    let bps = 120.0 / 60.0 / 48_000.0;
    let mut heard = Vec::new();
    let mut beat = 0.0;
    rig.sequencer
        .set_bar_grid(BarGrid::from_host(meter("3/4"), Some(0.0), Some(0)));
    while beat < 24.0 {
        rig.sequencer
            .process(Clock::rolling(beat, bps), 512, &live, |event| {
                heard.push((beat + f64::from(event.sample()) * bps, event));
            });
        beat += 512.0 * bps;
    }
    rig.sequencer.process(Clock::Stopped, 64, &live, |event| {
        heard.push((beat, event));
    });
    let starts = hits(&heard, CRASH);
    assert_eq!(starts.len(), 8, "{starts:?}");
    for c in starts {
        assert!(on_line(c, 0.0, 3.0), "reserve bar at {c}");
    }
    assert_balanced(&heard);
}
