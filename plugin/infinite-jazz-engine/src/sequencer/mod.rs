//! The audio-thread sequencer: turns prepared sections into MIDI events at exact sample offsets,
//! locked to a beat clock.
//!
//! Sections arrive through `rtrb` queues and leave through another one to be freed on the
//! worker thread; [`Sequencer::process`] never allocates, frees, locks or blocks.
//!
//! Timing rule: an event at beat `b` is emitted at the sample nearest to `b` (a tie goes to the
//! earlier sample, as [`crate::timing::nearest_unit`] rounds). Sample `i` of a block owns the
//! beats `(start + (i − ½)·bps, start + (i + ½)·bps]`, so a block covers `(lo, hi]`; the next
//! block starts where the last one ended, so an event is emitted once even when a host reports
//! positions that wobble slightly, and an event whose nearest sample fell in a previous block
//! that did not cover it (a tempo change) plays at offset 0. A jump larger than
//! [`RELOCATE_BEATS`] is a relocation: the sounding notes are released and playback resumes at
//! the new position. A block that starts at the very position the last one started at is a
//! frozen transport (a host that says "playing" but does not move): it plays nothing new.
//!
//! Output budget: the host's event buffer may fill up. Note-ons are the events given up:
//! pending note-ons leave room for a note-off of every note that could be sounding, a note-on
//! the host refuses is forgotten (its note-off is never sent), and a refused note-off is owed
//! and sent at the start of the next block.
//!
//! Placement rule: sections start on the host's bar lines, in the host's meter (a [`BarGrid`];
//! 4/4 from beat 0 when the host says nothing). The first time the playhead reaches a beat that
//! no remembered section covers, the next queued section in that meter is placed there: right
//! after the previous one when the music continues, otherwise on its own length's grid counted
//! from the grid's bar 0. The last [`HISTORY`] sections stay where they were placed, so a
//! looped range plays the same music again, as a DAW user expects of a loop.
//!
//! Meter rule: queued sections written in another meter than the grid's are handed back
//! unplayed (the worker writes new ones as soon as it hears of the change). When the grid's
//! meter changes, the sections after the current bar line are dropped, the one under the
//! playhead ends at that bar line, and the sounding notes are released. Only the reserve
//! section ever plays in a foreign meter, until the worker's music in the new meter arrives:
//! then it lasts one of the grid's bars (its first bar, cut or followed by rests), so bar
//! lines stay where the host has them and the queues are looked at again on each of them.

pub mod prepared;
pub mod roll;

use crate::meter::Meter;
use crate::section::Instrument;
use prepared::{PreparedSection, SectionOrigin};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

/// Sections remembered at their positions.
pub const HISTORY: usize = 8;
/// Events one block can emit; more than a quartet can play in a block of any size.
pub const MAX_EVENTS_PER_BLOCK: usize = 4096;
/// Position jumps smaller than this (in beats) are host jitter, not relocations.
pub const RELOCATE_BEATS: f64 = 0.01;
/// Humanized timing delays are capped so note order never changes (a 16th step is at least
/// 0.125 beats and a drum hit 0.1 beats long).
pub const MAX_HUMANIZE_BEATS: f64 = 0.02;
/// A sample reaches beat `b` when its position is within this many beats of `b`. Hosts send
/// positions in fixed point (CLAP: 2^-31 beats), so positions are only this exact.
pub const BEAT_EPS: f64 = 1e-9;
/// Sections kept aside when the recycle queue is full.
const UNRETURNED: usize = 16;

/// MIDI produced by the sequencer. `sample` is the offset inside the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MidiEvent {
    /// A note starts.
    NoteOn {
        /// Offset inside the block.
        sample: u32,
        /// 0-based MIDI channel.
        channel: u8,
        /// MIDI key.
        key: u8,
        /// 1..=127.
        velocity: u8,
    },
    /// A note ends.
    NoteOff {
        /// Offset inside the block.
        sample: u32,
        /// 0-based MIDI channel.
        channel: u8,
        /// MIDI key.
        key: u8,
    },
    /// CC 123 on a channel the sequencer has played on, sent after the individual note-offs
    /// when the transport stops.
    AllNotesOff {
        /// Offset inside the block.
        sample: u32,
        /// 0-based MIDI channel.
        channel: u8,
    },
}

impl MidiEvent {
    /// The event's offset inside the block.
    pub fn sample(&self) -> u32 {
        match *self {
            MidiEvent::NoteOn { sample, .. }
            | MidiEvent::NoteOff { sample, .. }
            | MidiEvent::AllNotesOff { sample, .. } => sample,
        }
    }

    /// At the same sample: note-offs first (so a repeated key is released, then struck), then
    /// all-notes-off, then note-ons.
    fn order(&self) -> (u32, u8) {
        match self {
            MidiEvent::NoteOff { sample, .. } => (*sample, 0),
            MidiEvent::AllNotesOff { sample, .. } => (*sample, 1),
            MidiEvent::NoteOn { sample, .. } => (*sample, 2),
        }
    }
}

/// Where the music is during one block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Clock {
    /// The transport stands still: sounding notes are released, nothing new plays.
    Stopped,
    /// The transport moves through this block.
    Rolling {
        /// Beat position of the block's first sample.
        start_beat: f64,
        /// Beats per sample: tempo / 60 / sample rate.
        beats_per_sample: f64,
    },
}

impl Clock {
    /// A rolling clock: the block starts at `start_beat` and moves `beats_per_sample` a sample.
    pub fn rolling(start_beat: f64, beats_per_sample: f64) -> Self {
        Clock::Rolling {
            start_beat,
            beats_per_sample,
        }
    }
}

/// Where the host's bars are: their meter, and a beat on which a bar of that meter starts.
/// Sections are placed on this grid; see the module's placement and meter rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BarGrid {
    /// The host's time signature.
    pub meter: Meter,
    /// A bar line, in quarter-note beats; bars of `meter` repeat from it both ways. Counted
    /// back to the host's bar 0 when the host numbers its bars, so sections of several bars
    /// start on the same bars however the transport got there.
    pub origin: f64,
}

impl Default for BarGrid {
    fn default() -> Self {
        BarGrid {
            meter: Meter::COMMON,
            origin: 0.0,
        }
    }
}

impl BarGrid {
    /// The grid of a host that reports its meter, the start of the current bar and (maybe) that
    /// bar's number. Non-finite values are ignored.
    pub fn from_host(meter: Meter, bar_start: Option<f64>, bar_number: Option<i32>) -> Self {
        let bar_start = bar_start.filter(|b| b.is_finite()).unwrap_or(0.0);
        let bars_back = bar_number.map_or(0.0, f64::from);
        BarGrid {
            meter,
            origin: bar_start - bars_back * meter.quarters_per_bar(),
        }
    }

    /// The last bar line at or before `beat`.
    pub fn bar_line_at_or_before(&self, beat: f64) -> f64 {
        let bar = self.meter.quarters_per_bar();
        self.origin + ((beat - self.origin) / bar + BEAT_EPS).floor() * bar
    }
}

/// Settings read on the audio thread every block (from plugin parameters or a command line).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveSettings {
    /// Swing ratio for placing steps, see [`crate::timing::step_to_beats`].
    pub swing: f64,
    /// Instruments that play nothing (by [`Instrument::index`]); a mute releases their notes.
    pub muted: [bool; 4],
    /// 0-based MIDI channels, indexed by [`Instrument::index`].
    pub channels: [u8; 4],
    /// Velocity multipliers, 0.0..=2.0, by [`Instrument::index`].
    pub velocity_scale: [f32; 4],
    /// Largest random delay of a note-on, in beats (capped at [`MAX_HUMANIZE_BEATS`]).
    pub humanize_beats: f64,
    /// 0..=1: how far velocities may wander (up to ±20).
    pub humanize_velocity: f32,
    /// Seed of the humanizing randomness, so a take humanizes the same way each time.
    pub humanize_seed: u64,
}

impl Default for LiveSettings {
    fn default() -> Self {
        LiveSettings {
            swing: crate::timing::DEFAULT_SWING,
            muted: [false; 4],
            channels: [0, 9, 1, 2],
            velocity_scale: [1.0; 4],
            humanize_beats: 0.0,
            humanize_velocity: 0.0,
            humanize_seed: 0,
        }
    }
}

/// Counters the audio thread publishes for displays and tests (relaxed atomics).
#[derive(Debug, Default)]
pub struct SequencerStats {
    /// Sections placed from the primary queue.
    pub sections_played: AtomicU64,
    /// Times the primary queue was empty when a section was due.
    pub underruns: AtomicU64,
    /// Sections dropped because they were asked for before a "regenerate".
    pub stale_dropped: AtomicU64,
    /// Sections that could not be handed back for freeing and were leaked instead.
    pub leaked: AtomicU64,
    /// Current generation: queued sections of older generations are skipped.
    pub generation: AtomicU32,
    /// [`SectionOrigin`] of the section under the playhead (0 primary, 1 fallback, 2 reserve,
    /// 255 none).
    pub playing_origin: AtomicU8,
    /// Bits of the `f64` beat position at the end of the last block.
    pub position_bits: AtomicU64,
    /// Bits of the `f64` origin of the bar grid in force ([`BarGrid::origin`]), so a display
    /// counts bars as the host does.
    pub bar_origin_bits: AtomicU64,
    /// Bits of the `f64` beat where the section under the playhead ends: where the next one
    /// will be placed, unless the host jumps.
    pub section_end_bits: AtomicU64,
}

impl SequencerStats {
    /// Where the playhead was at the end of the last block, in beats.
    pub fn position_beats(&self) -> f64 {
        f64::from_bits(self.position_bits.load(Ordering::Relaxed))
    }

    /// A bar line of the grid in force, in beats (0 until a host reports its bars).
    pub fn bar_origin(&self) -> f64 {
        f64::from_bits(self.bar_origin_bits.load(Ordering::Relaxed))
    }

    /// Where the section under the playhead ends, in beats (0 before anything played).
    pub fn section_end(&self) -> f64 {
        f64::from_bits(self.section_end_bits.load(Ordering::Relaxed))
    }
}

fn origin_code(origin: SectionOrigin) -> u8 {
    match origin {
        SectionOrigin::Primary => 0,
        SectionOrigin::Fallback => 1,
        SectionOrigin::Reserve => 2,
    }
}

/// The audio thread's ends of the queues.
pub struct SequencerQueues {
    /// Sections from the configured source, in order.
    pub ready: rtrb::Consumer<Box<PreparedSection>>,
    /// Built-in composer sections for when `ready` runs dry.
    pub fallback: rtrb::Consumer<Box<PreparedSection>>,
    /// Finished sections going back to be freed off the audio thread.
    pub recycle: rtrb::Producer<Box<PreparedSection>>,
    /// The serial of each section as it is placed, and the beat it was placed at, in the
    /// order the music is heard.
    pub placed: rtrb::Producer<(u64, f64)>,
}

enum SectionRef {
    Queued(Box<PreparedSection>),
    /// The sequencer's own reserve section, shared by any number of entries.
    Reserve,
}

struct Entry {
    start: f64,
    end: f64,
    section: SectionRef,
}

/// Plays prepared sections as MIDI on a beat clock, on the audio thread; see the module's
/// timing, budget and placement rules.
pub struct Sequencer {
    queues: SequencerQueues,
    stats: Arc<SequencerStats>,
    reserve: Box<PreparedSection>,
    entries: [Option<Entry>; HISTORY],
    voices: Voices,
    /// `hi` of the last block while rolling.
    window_end: Option<f64>,
    /// Where the last rolling block started, to tell a frozen transport.
    last_start: Option<f64>,
    /// Note-offs (per channel, a bit per key) and all-notes-offs the host refused, sent first
    /// in the next block.
    owed_offs: [u128; 16],
    owed_all_off: u16,
    last_muted: [bool; 4],
    unreturned: [Option<Box<PreparedSection>>; UNRETURNED],
    /// The editor's view of the section under the playhead, when an editor listens.
    roll: Option<triple_buffer::Input<roll::RollSnapshot>>,
    roll_start: f64,
    roll_watched: bool,
    grid: BarGrid,
    /// The grid's meter changed and the next rolling block cuts the music at its bar line.
    meter_changed: bool,
}

impl Sequencer {
    /// `reserve` plays when every queue is empty; it must have at least one step.
    pub fn new(
        queues: SequencerQueues,
        stats: Arc<SequencerStats>,
        mut reserve: Box<PreparedSection>,
    ) -> Self {
        reserve.origin = SectionOrigin::Reserve;
        if reserve.total_steps == 0 {
            reserve.total_steps = 16;
        }
        stats.playing_origin.store(255, Ordering::Relaxed);
        Sequencer {
            queues,
            stats,
            reserve,
            entries: Default::default(),
            voices: Voices {
                sounding: [[0; 128]; 4],
                used_channels: 0,
                pending: Vec::with_capacity(MAX_EVENTS_PER_BLOCK),
            },
            window_end: None,
            last_start: None,
            owed_offs: [0; 16],
            owed_all_off: 0,
            last_muted: [false; 4],
            unreturned: Default::default(),
            roll: None,
            roll_start: f64::NAN,
            roll_watched: true,
            grid: BarGrid::default(),
            meter_changed: false,
        }
    }

    /// Whether anyone looks at the piano roll (an editor is open): the section under the
    /// playhead is published only then, and at once when someone starts looking.
    pub fn watch_roll(&mut self, watched: bool) {
        if watched != self.roll_watched {
            self.roll_watched = watched;
            self.roll_start = f64::NAN;
        }
    }

    /// Publishes the section under the playhead to `roll` whenever it changes, while the
    /// roll is watched (see [`Sequencer::watch_roll`]; watched from the start).
    pub fn with_roll(mut self, roll: triple_buffer::Input<roll::RollSnapshot>) -> Self {
        self.roll = Some(roll);
        self
    }

    /// Follows the host's bars from the next block on (see the module's meter rule). A host
    /// that reports its time signature calls this every block; it costs nothing when nothing
    /// changed.
    pub fn set_bar_grid(&mut self, grid: BarGrid) {
        if !grid.origin.is_finite() {
            return;
        }
        self.meter_changed |= grid.meter != self.grid.meter;
        if grid.origin != self.grid.origin {
            self.stats
                .bar_origin_bits
                .store(grid.origin.to_bits(), Ordering::Relaxed);
        }
        self.grid = grid;
    }

    /// The new meter starts at the bar line at or before `start` (the first block that plays
    /// in it): the music before that line stays where it was, the rest is dropped.
    fn cut_at_meter_change(&mut self, start: f64) {
        self.meter_changed = false;
        let cut = self.grid.bar_line_at_or_before(start);
        for slot in 0..HISTORY {
            match self.entries[slot].as_mut() {
                Some(e) if e.start >= cut => self.evict(slot),
                Some(e) if e.end > cut => e.end = cut,
                _ => {}
            }
        }
        self.voices.release_all(0);
        self.roll_start = f64::NAN;
    }

    /// The counters it publishes.
    pub fn stats(&self) -> &Arc<SequencerStats> {
        &self.stats
    }

    /// Whether any note is sounding.
    pub fn is_sounding(&self) -> bool {
        self.voices.is_sounding()
    }

    /// Plays one block of `samples` samples, calling `emit` for each event in time order, to an
    /// output that takes every event.
    pub fn process(
        &mut self,
        clock: Clock,
        samples: usize,
        live: &LiveSettings,
        mut emit: impl FnMut(MidiEvent),
    ) {
        self.process_bounded(clock, samples, live, |event| {
            emit(event);
            true
        });
    }

    /// [`Sequencer::process`] for an output that may refuse events (a full host buffer):
    /// `emit` returns whether the event was taken.
    pub fn process_bounded(
        &mut self,
        clock: Clock,
        samples: usize,
        live: &LiveSettings,
        mut emit: impl FnMut(MidiEvent) -> bool,
    ) {
        self.flush_unreturned();
        if samples == 0 {
            return;
        }
        // While older note-offs are still refused, nothing new may start.
        let mut host_full = !self.pay_owed_offs(&mut emit);
        for instrument in Instrument::ALL {
            let i = instrument.index();
            if live.muted[i] && !self.last_muted[i] {
                self.voices.release_instrument(i, 0);
            }
        }
        self.last_muted = live.muted;

        match clock {
            Clock::Stopped => {
                if self.window_end.is_some() || self.is_sounding() {
                    self.voices.release_all(0);
                    for channel in 0..16u8 {
                        if self.voices.used_channels & (1 << channel) != 0 {
                            self.voices
                                .push(MidiEvent::AllNotesOff { sample: 0, channel });
                        }
                    }
                    self.voices.used_channels = 0;
                }
                self.window_end = None;
                self.last_start = None;
            }
            Clock::Rolling {
                start_beat,
                beats_per_sample,
            } if start_beat.is_finite()
                && beats_per_sample.is_finite()
                && beats_per_sample > 0.0 =>
            {
                self.roll(start_beat, beats_per_sample, samples, live);
            }
            Clock::Rolling { .. } => {}
        }
        self.voices.pending.sort_unstable_by_key(MidiEvent::order);
        let mut refused_ons = [0u128; 16];
        for index in 0..self.voices.pending.len() {
            let event = self.voices.pending[index];
            match event {
                MidiEvent::NoteOn { channel, key, .. } => {
                    let bit = 1u128 << key;
                    if host_full || !emit(event) {
                        host_full = true;
                        refused_ons[usize::from(channel)] |= bit;
                        self.voices.forget(channel, key);
                    }
                }
                MidiEvent::NoteOff { channel, key, .. } => {
                    let bit = 1u128 << key;
                    if refused_ons[usize::from(channel)] & bit != 0 {
                        // Its note-on never reached the host.
                        refused_ons[usize::from(channel)] &= !bit;
                    } else if !emit(event) {
                        host_full = true;
                        self.owed_offs[usize::from(channel)] |= bit;
                    }
                }
                MidiEvent::AllNotesOff { channel, .. } => {
                    if !emit(event) {
                        host_full = true;
                        self.owed_all_off |= 1 << channel;
                    }
                }
            }
        }
        self.voices.pending.clear();
    }

    /// Sends the note-offs a full host refused earlier, at the block's first sample; whether
    /// all of them went out.
    fn pay_owed_offs(&mut self, emit: &mut impl FnMut(MidiEvent) -> bool) -> bool {
        for channel in 0..16u8 {
            let mut keys = self.owed_offs[usize::from(channel)];
            while keys != 0 {
                let key = keys.trailing_zeros() as u8;
                keys &= keys - 1;
                if emit(MidiEvent::NoteOff {
                    sample: 0,
                    channel,
                    key,
                }) {
                    self.owed_offs[usize::from(channel)] &= !(1u128 << key);
                } else {
                    return false;
                }
            }
        }
        for channel in 0..16u8 {
            if self.owed_all_off & (1 << channel) != 0 {
                if emit(MidiEvent::AllNotesOff { sample: 0, channel }) {
                    self.owed_all_off &= !(1 << channel);
                } else {
                    return false;
                }
            }
        }
        true
    }

    /// Whether note-offs are still owed to the output.
    pub fn owes_note_offs(&self) -> bool {
        self.owed_all_off != 0 || self.owed_offs.iter().any(|k| *k != 0)
    }

    fn roll(&mut self, start: f64, bps: f64, samples: usize, live: &LiveSettings) {
        if self.meter_changed {
            self.cut_at_meter_change(start);
        }
        if self.window_end.is_some() && self.last_start == Some(start) {
            // Frozen: the host says it plays but does not move. Nothing new to play.
            return;
        }
        self.last_start = Some(start);
        let natural_lo = start - 0.5 * bps + BEAT_EPS;
        let hi = start + (samples as f64 - 0.5) * bps + BEAT_EPS;
        let lo = match self.window_end {
            Some(prev) if (prev - natural_lo).abs() <= RELOCATE_BEATS => prev,
            Some(_) => {
                self.voices.release_all(0);
                natural_lo
            }
            None => natural_lo,
        };
        self.window_end = Some(hi.max(lo));
        self.stats
            .position_bits
            .store(hi.to_bits(), Ordering::Relaxed);
        if hi <= lo {
            return;
        }
        // Make sure every beat of the block has a section.
        let mut c = lo.max(0.0);
        let mut guard = 0;
        while c <= hi && guard < 4 * HISTORY {
            let e = self.entry_at(c);
            c = self.entries[e].as_ref().map_or(hi + 1.0, |en| en.end);
            guard += 1;
        }
        if let Some(e) = self
            .entries
            .iter()
            .flatten()
            .find(|e| e.start <= hi && hi < e.end)
        {
            let section: &PreparedSection = match &e.section {
                SectionRef::Queued(s) => s,
                SectionRef::Reserve => &self.reserve,
            };
            let code = origin_code(section.origin);
            self.stats.playing_origin.store(code, Ordering::Relaxed);
            self.stats
                .section_end_bits
                .store(e.end.to_bits(), Ordering::Relaxed);
            if let Some(roll) = self.roll.as_mut().filter(|_| self.roll_watched) {
                if e.start != self.roll_start {
                    self.roll_start = e.start;
                    roll.input_buffer_mut()
                        .fill(section, e.start, live.swing, code);
                    roll.publish();
                }
            }
        }
        // Gather from every section the block touches, earliest first.
        let h = live.humanize_beats.clamp(0.0, MAX_HUMANIZE_BEATS);
        let mut order = [usize::MAX; HISTORY];
        let mut count = 0;
        for (i, e) in self.entries.iter().enumerate() {
            if let Some(e) = e {
                if e.start <= hi && e.end > lo - h {
                    order[count] = i;
                    count += 1;
                }
            }
        }
        order[..count].sort_unstable_by(|a, b| {
            let sa = self.entries[*a].as_ref().map_or(0.0, |e| e.start);
            let sb = self.entries[*b].as_ref().map_or(0.0, |e| e.start);
            sa.total_cmp(&sb)
        });
        let window = Window {
            lo,
            hi,
            start,
            bps,
            samples,
            humanize: h,
        };
        for &i in &order[..count] {
            if let Some(e) = self.entries[i].as_ref() {
                let section: &PreparedSection = match &e.section {
                    SectionRef::Queued(s) => s,
                    SectionRef::Reserve => &self.reserve,
                };
                self.voices
                    .gather(section, e.start, e.end - e.start, &window, live);
            }
        }
    }

    /// Index of the entry covering beat `c`, placing the next section there if none does.
    fn entry_at(&mut self, c: f64) -> usize {
        if let Some(i) = self
            .entries
            .iter()
            .position(|e| e.as_ref().is_some_and(|e| e.start <= c && c < e.end))
        {
            return i;
        }
        let section = self.next_section();
        let length = match &section {
            SectionRef::Queued(s) => s.length_beats(),
            SectionRef::Reserve => self.reserve_length(),
        };
        let previous_end = self
            .entries
            .iter()
            .flatten()
            .filter(|e| e.end <= c)
            .map(|e| e.end)
            .fold(f64::NEG_INFINITY, f64::max);
        let origin = self.grid.origin;
        let start = if previous_end + length > c {
            previous_end
        } else {
            origin + ((c - origin) / length + BEAT_EPS / length).floor() * length
        };
        let end = start + length;
        let serial = match &section {
            SectionRef::Queued(s) => s.serial,
            SectionRef::Reserve => prepared::RESERVE_SERIAL,
        };
        let _ = self.queues.placed.push((serial, start));
        // Sections never overlap: anything in the way was placed before a jump.
        for slot in 0..HISTORY {
            if self.entries[slot]
                .as_ref()
                .is_some_and(|e| e.start < end && e.end > start)
            {
                self.evict(slot);
            }
        }
        let slot = match self.entries.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                let farthest = (0..HISTORY)
                    .max_by(|a, b| {
                        let d = |i: usize| {
                            self.entries[i]
                                .as_ref()
                                .map_or(0.0, |e| ((e.start + e.end) / 2.0 - c).abs())
                        };
                        d(*a).total_cmp(&d(*b))
                    })
                    .unwrap_or(0);
                self.evict(farthest);
                farthest
            }
        };
        self.entries[slot] = Some(Entry {
            start,
            end,
            section,
        });
        slot
    }

    /// The reserve's length on the grid: its own in its meter, else one of the grid's bars.
    fn reserve_length(&self) -> f64 {
        if self.reserve.meter == self.grid.meter {
            self.reserve.length_beats()
        } else {
            self.grid.meter.quarters_per_bar()
        }
    }

    fn next_section(&mut self) -> SectionRef {
        let generation = self.stats.generation.load(Ordering::Relaxed);
        let meter = self.grid.meter;
        while let Ok(section) = self.queues.ready.pop() {
            if section.generation < generation || section.total_steps == 0 || section.meter != meter
            {
                self.stats.stale_dropped.fetch_add(1, Ordering::Relaxed);
                self.give_back(section);
                continue;
            }
            self.stats.sections_played.fetch_add(1, Ordering::Relaxed);
            return SectionRef::Queued(section);
        }
        self.stats.underruns.fetch_add(1, Ordering::Relaxed);
        while let Ok(mut section) = self.queues.fallback.pop() {
            if section.total_steps == 0 || section.meter != meter {
                self.give_back(section);
                continue;
            }
            section.origin = SectionOrigin::Fallback;
            return SectionRef::Queued(section);
        }
        SectionRef::Reserve
    }

    fn evict(&mut self, slot: usize) {
        if let Some(Entry {
            section: SectionRef::Queued(s),
            ..
        }) = self.entries[slot].take()
        {
            self.give_back(s);
        }
    }

    fn give_back(&mut self, section: Box<PreparedSection>) {
        if let Err(rtrb::PushError::Full(section)) = self.queues.recycle.push(section) {
            match self.unreturned.iter_mut().find(|s| s.is_none()) {
                Some(slot) => *slot = Some(section),
                None => {
                    // Freeing here would break the real-time rules; leaking one section is
                    // the lesser harm, and only happens when the worker is gone.
                    self.stats.leaked.fetch_add(1, Ordering::Relaxed);
                    std::mem::forget(section);
                }
            }
        }
    }

    fn flush_unreturned(&mut self) {
        for slot in self.unreturned.iter_mut() {
            if let Some(section) = slot.take() {
                if let Err(rtrb::PushError::Full(section)) = self.queues.recycle.push(section) {
                    *slot = Some(section);
                    return;
                }
            }
        }
    }
}

/// The beats one block covers, `(lo, hi]`, and how they map to its samples.
struct Window {
    lo: f64,
    hi: f64,
    start: f64,
    bps: f64,
    samples: usize,
    humanize: f64,
}

/// What is sounding, and the events being collected for the current block.
struct Voices {
    /// Channel + 1 of the sounding note per instrument and key; 0 when silent.
    sounding: [[u8; 128]; 4],
    used_channels: u16,
    pending: Vec<MidiEvent>,
}

impl Voices {
    fn is_sounding(&self) -> bool {
        self.sounding
            .iter()
            .any(|keys| keys.iter().any(|c| *c != 0))
    }

    /// Emits the notes of `section` (placed at beat `base`, lasting `limit` beats there) that
    /// fall in the window, merging note-ons and note-offs in time order so the sounding table
    /// stays true. Nothing starts at or after `limit`, and what sounds then ends there.
    fn gather(
        &mut self,
        section: &PreparedSection,
        base: f64,
        limit: f64,
        w: &Window,
        live: &LiveSettings,
    ) {
        let (lo, hi, start, bps, samples, h) = (w.lo, w.hi, w.start, w.bps, w.samples, w.humanize);
        let (swing, meter) = (live.swing, section.meter);
        let (rel_lo, rel_hi) = (lo - base, hi - base);
        let notes = &section.notes;
        let end_of = |k: &u16| notes[usize::from(*k)].end_beats(swing, meter).min(limit);
        let mut i = notes.partition_point(|n| n.start_beats(swing, meter) <= rel_lo - h);
        let mut j = section.by_end.partition_point(|k| end_of(k) <= rel_lo);
        let to_sample = |beat: f64| -> u32 {
            let n = crate::timing::nearest_unit((base + beat - BEAT_EPS - start) / bps);
            n.clamp(0.0, samples as f64 - 1.0) as u32
        };
        loop {
            let next_on = notes
                .get(i)
                .map(|n| n.start_beats(swing, meter))
                .filter(|b| *b <= rel_hi && *b < limit);
            let next_off = section.by_end.get(j).map(end_of).filter(|b| *b <= rel_hi);
            match (next_on, next_off) {
                (None, None) => break,
                (Some(on), off) if off.is_none_or(|off| on < off) => {
                    let note = notes[i];
                    let index = i;
                    i += 1;
                    let inst = note.instrument.index();
                    let delay = if h > 0.0 {
                        h * unit_hash(live.humanize_seed, base.to_bits(), index as u64, 0)
                    } else {
                        0.0
                    };
                    let at = on + delay;
                    if at <= rel_lo || at > rel_hi || at >= limit || live.muted[inst] {
                        continue;
                    }
                    let sample = to_sample(at);
                    let channel = live.channels[inst].min(15);
                    if self.sounding[inst][usize::from(note.key)] != 0 {
                        let old = self.sounding[inst][usize::from(note.key)] - 1;
                        self.sounding[inst][usize::from(note.key)] = 0;
                        self.push(MidiEvent::NoteOff {
                            sample,
                            channel: old,
                            key: note.key,
                        });
                    }
                    if !self.has_room_for_note_on() {
                        continue;
                    }
                    let mut velocity =
                        (f32::from(note.velocity) * live.velocity_scale[inst]).round();
                    if live.humanize_velocity > 0.0 {
                        let wobble = unit_hash(live.humanize_seed, base.to_bits(), index as u64, 1)
                            * 2.0
                            - 1.0;
                        velocity += (wobble as f32) * 20.0 * live.humanize_velocity.min(1.0);
                    }
                    self.push(MidiEvent::NoteOn {
                        sample,
                        channel,
                        key: note.key,
                        velocity: velocity.round().clamp(1.0, 127.0) as u8,
                    });
                    self.sounding[inst][usize::from(note.key)] = channel + 1;
                    self.used_channels |= 1 << channel;
                }
                (_, Some(off)) => {
                    let note = notes[usize::from(section.by_end[j])];
                    j += 1;
                    if off <= rel_lo {
                        continue;
                    }
                    let inst = note.instrument.index();
                    let slot = &mut self.sounding[inst][usize::from(note.key)];
                    if *slot != 0 {
                        let channel = *slot - 1;
                        *slot = 0;
                        let sample = to_sample(off);
                        self.push(MidiEvent::NoteOff {
                            sample,
                            channel,
                            key: note.key,
                        });
                    }
                }
                _ => break,
            }
        }
    }

    fn push(&mut self, event: MidiEvent) {
        // Capacity is fixed; nothing allocates. Note-ons are admitted only with room to spare
        // (see `has_room_for_note_on`), so what does not fit is never a note-off.
        if self.pending.len() < self.pending.capacity() {
            self.pending.push(event);
        }
    }

    /// Whether a note-on fits and still leaves room for a note-off of every key that could be
    /// sounding and an all-notes-off per channel.
    fn has_room_for_note_on(&self) -> bool {
        const RESERVE: usize = 4 * 128 + 16;
        self.pending.len() + 1 + RESERVE < self.pending.capacity()
    }

    /// A note the output never received: no note-off will be sent for it.
    fn forget(&mut self, channel: u8, key: u8) {
        for keys in self.sounding.iter_mut() {
            if keys[usize::from(key)] == channel + 1 {
                keys[usize::from(key)] = 0;
            }
        }
    }

    fn release_instrument(&mut self, inst: usize, sample: u32) {
        for key in 0..128u8 {
            let slot = self.sounding[inst][usize::from(key)];
            if slot != 0 {
                self.sounding[inst][usize::from(key)] = 0;
                self.push(MidiEvent::NoteOff {
                    sample,
                    channel: slot - 1,
                    key,
                });
            }
        }
    }

    fn release_all(&mut self, sample: u32) {
        for inst in 0..4 {
            self.release_instrument(inst, sample);
        }
    }
}

/// A deterministic value in [0, 1) from a seed and a note's identity (SplitMix64).
fn unit_hash(seed: u64, a: u64, b: u64, salt: u64) -> f64 {
    let mut z = seed
        ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ b.wrapping_mul(0xBF58_476D_1CE4_E5B9)
        ^ salt.wrapping_mul(0x94D0_49BB_1331_11EB);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}
