//! The sequencer driven like a host drives a plugin: random block sizes, tempo changes,
//! loops, stops. Every note-on is checked against the swung grid computed here, independently,
//! from the clock the test itself supplied.

use infinite_jazz_engine::composer::{BuiltinComposer, ComposerSettings};
use infinite_jazz_engine::section::Section;
use infinite_jazz_engine::sequencer::prepared::{PreparedSection, SectionOrigin};
use infinite_jazz_engine::sequencer::{Clock, LiveSettings, MidiEvent, Sequencer, SequencerStats};
use infinite_jazz_engine::timing::RuntimeConfig;
use infinite_jazz_engine::worker::{section_queues, WorkerQueues};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Counts allocations and frees made by the thread that set `COUNTING`.
struct CountingAllocator;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static EVENTS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            EVENTS.with(|e| e.set(e.get() + 1));
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.with(Cell::get) {
            EVENTS.with(|e| e.set(e.get() + 1));
        }
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

struct Rig {
    sequencer: Sequencer,
    worker: WorkerQueues,
    stats: Arc<SequencerStats>,
    sections: Vec<Section>,
    composer: BuiltinComposer,
    config: RuntimeConfig,
}

impl Rig {
    fn new(seed: u64) -> Self {
        let config = RuntimeConfig::default();
        let (worker, queues) = section_queues();
        let stats = Arc::new(SequencerStats::default());
        let mut composer = BuiltinComposer::new(&ComposerSettings {
            seed,
            ..Default::default()
        });
        let reserve = Box::new(PreparedSection::new(
            &composer.compose_next(&config).section,
            SectionOrigin::Reserve,
            0,
        ));
        // An editor listens: publishing the piano roll must not allocate either.
        let (roll, _view) = triple_buffer::triple_buffer(&Default::default());
        Rig {
            sequencer: Sequencer::new(queues, stats.clone(), reserve).with_roll(roll),
            worker,
            stats,
            sections: Vec::new(),
            composer,
            config,
        }
    }

    /// Keeps `n` sections queued, remembering what was queued, and frees returned ones.
    fn feed(&mut self, n: usize) {
        while let Ok(s) = self.worker.recycle.pop() {
            drop(s);
        }
        while self.worker.ready.slots() > 0 && (32 - self.worker.ready.slots()) < n {
            let section = self.composer.compose_next(&self.config).section;
            self.sections.push(section.clone());
            let prepared = Box::new(PreparedSection::new(&section, SectionOrigin::Primary, 0));
            if self.worker.ready.push(prepared).is_err() {
                break;
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Heard {
    /// Beat of the sample the event was emitted at, and of the sample before it.
    beat: f64,
    prev_beat: f64,
    event: MidiEvent,
}

/// Beat positions of the swung 16th grid near `beat`.
fn grid_points_near(beat: f64, swing: f64) -> Vec<f64> {
    let k = beat.floor();
    let mut points = Vec::new();
    for base in [k - 1.0, k, k + 1.0] {
        for offset in [0.0, swing / 2.0, swing, swing + (1.0 - swing) / 2.0] {
            points.push(base + offset);
        }
    }
    points
}

/// Whether the sample of `h` is the one nearest a grid point: the point lies within half a
/// sample of it (a tie going to the earlier sample).
fn on_grid(h: &Heard, swing: f64) -> bool {
    let half = (h.beat - h.prev_beat) / 2.0;
    grid_points_near(h.beat, swing)
        .iter()
        .any(|g| *g > h.beat - half + 1e-9 && *g <= h.beat + half + 1e-9)
}

/// A block-size generator (xorshift), deterministic per seed.
struct Blocks(u64);
impl Blocks {
    fn next(&mut self, max: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        1 + (self.0 % max as u64) as usize
    }
}

fn play(rig: &mut Rig, clock: Clock, samples: usize, live: &LiveSettings, heard: &mut Vec<Heard>) {
    let (start, bps) = match clock {
        Clock::Rolling {
            start_beat,
            beats_per_sample,
        } => (start_beat, beats_per_sample),
        Clock::Stopped => (0.0, 0.0),
    };
    let mut last_sample = 0;
    rig.sequencer.process(clock, samples, live, |event| {
        let n = event.sample();
        assert!((n as usize) < samples, "event outside the block");
        assert!(n >= last_sample, "events in time order");
        last_sample = n;
        let beat = start + f64::from(n) * bps;
        heard.push(Heard {
            beat,
            prev_beat: beat - bps,
            event,
        });
    });
}

/// Live settings that humanize timing by up to `beats` and velocities by `velocity` (0..=1).
fn humanized(beats: f64, velocity: f32, seed: u64) -> LiveSettings {
    LiveSettings {
        humanize_beats: beats,
        humanize_velocity: velocity,
        humanize_seed: seed,
        ..Default::default()
    }
}

/// Plays fixed-size blocks from `*beat` until `until`, keeping `queued` sections queued.
#[allow(clippy::too_many_arguments)]
fn play_until(
    rig: &mut Rig,
    beat: &mut f64,
    until: f64,
    samples: usize,
    bps: f64,
    queued: usize,
    live: &LiveSettings,
    heard: &mut Vec<Heard>,
) {
    while *beat < until {
        rig.feed(queued);
        play(rig, Clock::rolling(*beat, bps), samples, live, heard);
        *beat += samples as f64 * bps;
    }
}

#[test]
fn notes_land_on_the_swung_grid_under_random_blocks_and_tempo_changes() {
    let mut rig = Rig::new(3);
    let live = LiveSettings::default();
    let sr = 48_000.0;
    let mut beat = 0.0;
    let mut tempo: f64 = 120.0;
    let mut blocks = Blocks(0xDEADBEEF);
    let mut heard = Vec::new();
    while beat < 64.0 {
        rig.feed(4);
        let samples = blocks.next(8192);
        if blocks.next(50) == 1 {
            tempo = 60.0 + blocks.next(180) as f64;
        }
        let bps = tempo / 60.0 / sr;
        play(
            &mut rig,
            Clock::rolling(beat, bps),
            samples,
            &live,
            &mut heard,
        );
        beat += samples as f64 * bps;
    }
    let ons: Vec<&Heard> = heard
        .iter()
        .filter(|h| matches!(h.event, MidiEvent::NoteOn { .. }))
        .collect();
    assert!(ons.len() > 300, "{} notes", ons.len());
    for h in &ons {
        assert!(on_grid(h, live.swing), "off the grid: {h:?}");
    }
    // Every queued note of the sections that fully played was heard once, none twice.
    let played_sections = (beat / 8.0).floor() as usize;
    let expected: usize = rig.sections[..played_sections]
        .iter()
        .map(|s| s.parts.iter().map(|p| p.note_count()).sum::<usize>())
        .sum();
    let heard_in_those = ons
        .iter()
        .filter(|h| h.beat < played_sections as f64 * 8.0 - 1e-9)
        .count();
    assert_eq!(heard_in_those, expected);
    assert_eq!(rig.stats.underruns.load(Ordering::Relaxed), 0);
}

#[test]
fn slightly_wobbling_positions_never_double_or_drop_a_note() {
    let mut rig = Rig::new(4);
    let live = LiveSettings::default();
    let bps = 120.0 / 60.0 / 44_100.0;
    let mut beat = 0.0;
    let mut blocks = Blocks(77);
    let mut heard = Vec::new();
    while beat < 32.0 {
        rig.feed(4);
        let samples = blocks.next(1024);
        // The host reports the block start a little early or late (well under 1/100 beat).
        let wobble = (blocks.next(21) as f64 - 11.0) * 1e-5;
        play(
            &mut rig,
            Clock::rolling(beat + wobble, bps),
            samples,
            &live,
            &mut heard,
        );
        beat += samples as f64 * bps;
    }
    let ons = heard
        .iter()
        .filter(|h| matches!(h.event, MidiEvent::NoteOn { .. }))
        .count();
    let expected: usize = rig.sections[..3]
        .iter()
        .map(|s| s.parts.iter().map(|p| p.note_count()).sum::<usize>())
        .sum();
    let early = heard
        .iter()
        .filter(|h| matches!(h.event, MidiEvent::NoteOn { .. }) && h.beat < 24.0 - 0.01)
        .count();
    assert_eq!(
        early, expected,
        "each note of the first three sections once"
    );
    assert!(ons >= expected);
}

/// Pairs note-ons with note-offs per (channel, key); returns what is left sounding.
fn balance(heard: &[Heard]) -> usize {
    let mut sounding = [[0i32; 128]; 16];
    for h in heard {
        match h.event {
            MidiEvent::NoteOn { channel, key, .. } => {
                sounding[usize::from(channel)][usize::from(key)] += 1;
                assert_eq!(
                    sounding[usize::from(channel)][usize::from(key)],
                    1,
                    "double note-on {h:?}"
                );
            }
            MidiEvent::NoteOff { channel, key, .. } => {
                sounding[usize::from(channel)][usize::from(key)] -= 1;
                assert_eq!(
                    sounding[usize::from(channel)][usize::from(key)],
                    0,
                    "note-off without note-on {h:?}"
                );
            }
            MidiEvent::AllNotesOff { .. } => {}
        }
    }
    sounding.iter().flatten().filter(|c| **c != 0).count()
}

#[test]
fn loops_replay_the_same_music_and_stops_release_everything() {
    let mut rig = Rig::new(5);
    let live = LiveSettings::default();
    let bps = 100.0 / 60.0 / 48_000.0;
    let mut heard = Vec::new();
    let mut blocks = Blocks(9);
    let mut passes: Vec<Vec<(u8, u8, i64)>> = Vec::new();
    // Loop bars 2-3 (beats 4..12) three times, like a DAW loop range.
    for _ in 0..3 {
        let mut beat: f64 = 4.0;
        let mut pass = Vec::new();
        while beat < 12.0 {
            rig.feed(4);
            // The loop end is exclusive: the last block stops before beat 12, as in a DAW.
            let left = ((12.0 - beat) / bps - 1e-9).ceil() as usize;
            if left == 0 {
                break;
            }
            let samples = blocks.next(700).min(left);
            let before = heard.len();
            play(
                &mut rig,
                Clock::rolling(beat, bps),
                samples,
                &live,
                &mut heard,
            );
            for h in &heard[before..] {
                if let MidiEvent::NoteOn { channel, key, .. } = h.event {
                    pass.push((channel, key, (h.beat * 1e6).round() as i64));
                }
            }
            beat += samples as f64 * bps;
        }
        passes.push(pass);
    }
    assert!(!passes[0].is_empty());
    // The loop start may cut a note short, but every pass plays the same notes at the same beats.
    assert_eq!(passes[1], passes[2]);
    assert_eq!(
        passes[0].iter().filter(|p| p.2 > 4_050_000).count(),
        passes[1].iter().filter(|p| p.2 > 4_050_000).count()
    );
    for h in heard
        .iter()
        .filter(|h| matches!(h.event, MidiEvent::NoteOn { .. }))
    {
        assert!(on_grid(h, live.swing));
    }
    play(&mut rig, Clock::Stopped, 256, &live, &mut heard);
    assert_eq!(balance(&heard), 0, "no stuck notes after stop");
    assert!(!rig.sequencer.is_sounding());
    assert!(heard
        .iter()
        .any(|h| matches!(h.event, MidiEvent::AllNotesOff { channel: 9, .. })));
}

#[test]
fn an_empty_queue_plays_the_fallback_not_silence() {
    let mut rig = Rig::new(6);
    let live = LiveSettings::default();
    let bps = 140.0 / 60.0 / 48_000.0;
    let mut heard = Vec::new();
    let mut beat = 0.0;
    // Nothing is ever fed: the reserve section carries the band.
    play_until(&mut rig, &mut beat, 40.0, 512, bps, 0, &live, &mut heard);
    for section in 0..5 {
        let lo = section as f64 * 8.0;
        let count = heard
            .iter()
            .filter(|h| {
                matches!(h.event, MidiEvent::NoteOn { .. }) && h.beat >= lo && h.beat < lo + 8.0
            })
            .count();
        assert!(count > 10, "section {section}: only {count} notes");
    }
    assert!(rig.stats.underruns.load(Ordering::Relaxed) >= 5);
}

#[test]
fn mutes_channels_and_velocity_apply_live() {
    let mut rig = Rig::new(7);
    let mut live = LiveSettings {
        channels: [4, 9, 5, 6],
        velocity_scale: [0.5, 1.0, 1.0, 1.0],
        ..Default::default()
    };
    let bps = 120.0 / 60.0 / 48_000.0;
    let mut heard = Vec::new();
    let mut beat = 0.0;
    play_until(&mut rig, &mut beat, 8.0, 256, bps, 2, &live, &mut heard);
    assert!(heard
        .iter()
        .any(|h| matches!(h.event, MidiEvent::NoteOn { channel: 4, .. })));
    assert!(heard
        .iter()
        .all(|h| !matches!(h.event, MidiEvent::NoteOn { channel: 0, .. })));
    assert!(heard.iter().all(|h| match h.event {
        MidiEvent::NoteOn {
            channel: 4,
            velocity,
            ..
        } => velocity <= 64,
        _ => true,
    }));
    live.muted[3] = true;
    let before = heard.len();
    play_until(&mut rig, &mut beat, 24.0, 256, bps, 2, &live, &mut heard);
    assert!(
        heard[before..]
            .iter()
            .all(|h| !matches!(h.event, MidiEvent::NoteOn { channel: 6, .. })),
        "muted sax is silent"
    );
    play(&mut rig, Clock::Stopped, 64, &live, &mut heard);
    assert_eq!(balance(&heard), 0);
}

#[test]
fn humanize_delays_stay_small_and_keep_notes_balanced() {
    let mut rig = Rig::new(8);
    let live = humanized(0.02, 0.5, 3);
    let bps = 120.0 / 60.0 / 48_000.0;
    let mut heard = Vec::new();
    let mut beat = 0.0;
    let mut blocks = Blocks(5);
    while beat < 32.0 {
        rig.feed(3);
        let n = blocks.next(2048);
        play(&mut rig, Clock::rolling(beat, bps), n, &live, &mut heard);
        beat += n as f64 * bps;
    }
    let ons: Vec<&Heard> = heard
        .iter()
        .filter(|h| matches!(h.event, MidiEvent::NoteOn { .. }))
        .collect();
    let off_grid = ons.iter().filter(|h| !on_grid(h, live.swing)).count();
    assert!(
        off_grid > ons.len() / 2,
        "humanize moves most notes: {off_grid}/{}",
        ons.len()
    );
    for h in &ons {
        // Late by at most 0.02 beats.
        let g = grid_points_near(h.beat, live.swing)
            .into_iter()
            .filter(|g| *g <= h.beat + 1e-9)
            .fold(f64::NEG_INFINITY, f64::max);
        assert!(h.beat - g <= 0.02 + bps, "{h:?}");
    }
    play(&mut rig, Clock::Stopped, 64, &live, &mut heard);
    assert_eq!(balance(&heard), 0);
}

#[test]
fn process_never_allocates_or_frees() {
    let mut rig = Rig::new(9);
    let live = humanized(0.01, 0.3, 0);
    let bps = 180.0 / 60.0 / 48_000.0;
    let mut beat = 0.0;
    let mut blocks = Blocks(1234);
    let mut count = 0usize;
    for round in 0..400 {
        rig.feed(4);
        let samples = blocks.next(4096);
        let clock = if round % 97 == 96 {
            Clock::Stopped
        } else if round % 53 == 52 {
            beat = 3.0;
            Clock::rolling(beat, bps)
        } else {
            Clock::rolling(beat, bps)
        };
        COUNTING.with(|c| c.set(true));
        rig.sequencer.process(clock, samples, &live, |_| count += 1);
        COUNTING.with(|c| c.set(false));
        beat += samples as f64 * bps;
    }
    assert!(count > 500);
    assert_eq!(
        EVENTS.with(Cell::get),
        0,
        "allocations or frees inside process()"
    );
}

/// All swung grid points (in beats) up to `beats`.
fn grid_points(beats: f64, swing: f64) -> Vec<f64> {
    (0..beats.ceil() as usize + 1)
        .flat_map(|b| [0.0, swing / 2.0, swing, swing + (1.0 - swing) / 2.0].map(|o| b as f64 + o))
        .collect()
}

#[test]
fn note_ons_land_on_the_nearest_sample_at_odd_tempi_and_rates() {
    for (tempo, rate) in [
        (137.0, 44_100.0),
        (93.0, 48_000.0),
        (137.0, 96_000.0),
        (93.0, 44_100.0),
    ] {
        let mut rig = Rig::new(21);
        let live = LiveSettings::default();
        let bps = tempo / 60.0 / rate;
        let mut blocks = Blocks(0x5EED ^ tempo as u64);
        // The test's own clock is a sample counter; beats are derived from it per block.
        let mut at: u64 = 0;
        let mut ons: Vec<u64> = Vec::new();
        while (at as f64) * bps < 32.0 {
            rig.feed(4);
            let samples = blocks.next(3000);
            rig.sequencer.process(
                Clock::rolling(at as f64 * bps, bps),
                samples,
                &live,
                |event| {
                    if matches!(event, MidiEvent::NoteOn { .. }) {
                        ons.push(at + u64::from(event.sample()));
                    }
                },
            );
            at += samples as u64;
        }
        // Independently: each grid point's exact position in samples, from the tempo and rate.
        let samples_per_beat = rate * 60.0 / tempo;
        let exact: Vec<f64> = grid_points(32.0, live.swing)
            .iter()
            .map(|g| g * samples_per_beat)
            .collect();
        let mut fractional = 0;
        for on in &ons {
            let nearest = exact
                .iter()
                .map(|x| x - *on as f64)
                .min_by(|a, b| a.abs().total_cmp(&b.abs()))
                .unwrap_or(f64::MAX);
            assert!(
                nearest.abs() <= 0.5 + 1e-6,
                "{tempo} BPM at {rate} Hz: note at sample {on} is {nearest} samples from its grid point"
            );
            if nearest.abs() > 1e-6 {
                fractional += 1;
            }
        }
        assert!(ons.len() > 100, "{} notes", ons.len());
        assert!(
            fractional * 2 > ons.len(),
            "the grid falls between samples here"
        );
    }
}

#[test]
fn a_frozen_transport_plays_nothing_new() {
    let mut rig = Rig::new(8);
    let live = LiveSettings::default();
    let bps = 120.0 / 60.0 / 48_000.0;
    let mut heard = Vec::new();
    let mut beat = 0.0;
    // `blocks` blocks of 512 samples from `*beat`, moving on by `advance` samples each.
    let blocks = |rig: &mut Rig, beat: &mut f64, heard: &mut Vec<Heard>, n, advance: f64| {
        for _ in 0..n {
            rig.feed(4);
            let clock = Clock::rolling(*beat, bps);
            play(rig, clock, 512, &live, heard);
            *beat += advance * bps;
        }
    };
    blocks(&mut rig, &mut beat, &mut heard, 20, 512.0);
    let before = heard.len();
    // "Playing", but the position never moves: 3000 blocks.
    blocks(&mut rig, &mut beat, &mut heard, 3000, 0.0);
    let new_ons = heard[before..]
        .iter()
        .filter(|h| matches!(h.event, MidiEvent::NoteOn { .. }))
        .count();
    // The first frozen block is an ordinary one (it plays its own 512 samples); after it, none.
    let first_block_ons = heard[before..]
        .iter()
        .filter(|h| matches!(h.event, MidiEvent::NoteOn { .. }) && h.beat < beat + 512.0 * bps)
        .count();
    assert_eq!(new_ons, first_block_ons, "{new_ons} note-ons while frozen");
    assert!(new_ons < 10);
    // Moving on from there continues the music: nothing doubled.
    beat += 512.0 * bps;
    blocks(&mut rig, &mut beat, &mut heard, 40, 512.0);
    let mut onsets: Vec<(u8, u8, i64)> = heard
        .iter()
        .filter_map(|h| match h.event {
            MidiEvent::NoteOn { channel, key, .. } => Some((channel, key, (h.beat * 1e6) as i64)),
            _ => None,
        })
        .collect();
    let total = onsets.len();
    onsets.dedup();
    assert_eq!(onsets.len(), total, "a note was played twice");
}

#[test]
fn a_full_output_drops_note_ons_never_note_offs() {
    let mut rig = Rig::new(13);
    let live = LiveSettings::default();
    let bps = 140.0 / 60.0 / 48_000.0;
    let mut blocks = Blocks(77);
    let mut sounding = std::collections::HashSet::new();
    let (mut taken_ons, mut refused) = (0, 0);
    let mut beat = 0.0;
    let mut block = 0u64;
    let mut run = |rig: &mut Rig, clock: Clock, samples: usize, block: u64| {
        // A host buffer with room for 0 to 3 events per block.
        let mut room = (block * 2654435761 % 4) as usize;
        rig.sequencer
            .process_bounded(clock, samples, &live, |event| {
                if room == 0 {
                    refused += 1;
                    return false;
                }
                room -= 1;
                match event {
                    MidiEvent::NoteOn { channel, key, .. } => {
                        taken_ons += 1;
                        sounding.insert((channel, key));
                    }
                    MidiEvent::NoteOff { channel, key, .. } => {
                        sounding.remove(&(channel, key));
                    }
                    MidiEvent::AllNotesOff { channel, .. } => {
                        sounding.retain(|(c, _)| *c != channel);
                    }
                }
                true
            });
    };
    while beat < 48.0 {
        rig.feed(4);
        let samples = blocks.next(4000);
        let clock = Clock::rolling(beat, bps);
        run(&mut rig, clock, samples, block);
        block += 1;
        beat += samples as f64 * bps;
    }
    // Stop, then give the host room again until nothing is owed.
    for _ in 0..64 {
        run(&mut rig, Clock::Stopped, 256, block);
        block += 1;
    }
    assert!(
        refused > 100 && taken_ons > 50,
        "{refused} refused, {taken_ons} taken"
    );
    assert!(!rig.sequencer.owes_note_offs());
    assert!(sounding.is_empty(), "stuck notes: {sounding:?}");
}

/// The piano roll is published only while someone watches it, and at once when they start.
#[test]
fn the_roll_is_published_only_while_watched() {
    let config = RuntimeConfig::default();
    let (_worker, queues) = section_queues();
    let stats = Arc::new(SequencerStats::default());
    let mut composer = BuiltinComposer::new(&ComposerSettings::default());
    let reserve = Box::new(PreparedSection::new(
        &composer.compose_next(&config).section,
        SectionOrigin::Reserve,
        0,
    ));
    let (roll, mut view) = triple_buffer::triple_buffer(&Default::default());
    let mut sequencer = Sequencer::new(queues, stats, reserve).with_roll(roll);
    let bps = 120.0 / 60.0 / 48_000.0;
    let mut beat = 0.0;
    let mut block = |sequencer: &mut Sequencer| {
        sequencer.process(
            Clock::rolling(beat, bps),
            512,
            &LiveSettings::default(),
            |_| {},
        );
        beat += 512.0 * bps;
    };
    sequencer.watch_roll(false);
    for _ in 0..400 {
        block(&mut sequencer);
    }
    assert!(
        !view.updated(),
        "nothing is published while the editor is closed"
    );
    sequencer.watch_roll(true);
    block(&mut sequencer);
    assert!(view.updated(), "the section playing is published at once");
    assert!(view.read().count > 0);
}
