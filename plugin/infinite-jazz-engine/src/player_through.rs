//! The player's notes (the plugin's note input), passed through to the output on the player's
//! own channel, in time order with the band's notes, so the player's instrument can sit on the
//! same track as the band's.
//!
//! Fixed storage, no allocation: a block holds at most [`MAX_PLAYER_EVENTS`] of them. A flood
//! loses note-ons, never the note-off of a note that was passed on: note-ons are taken only
//! while there is room left for a note-off of every key, and a note-off the host refuses is
//! sent first in the next block.

use crate::listen::{Listen, SaxGate};
use crate::player_capture::PlayerCapture;
use crate::section::Instrument;
use crate::sequencer::{Clock, LiveSettings, MidiEvent, Sequencer};

/// The player's events one block passes on.
pub const MAX_PLAYER_EVENTS: usize = 512;

/// One of the player's notes starting or ending in this block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct PlayerEvent {
    sample: u32,
    key: u8,
    /// 0 for a note-off.
    velocity: u8,
}

/// The player's events of the current block, and which of the player's notes sound.
pub struct PlayerThrough {
    events: [PlayerEvent; MAX_PLAYER_EVENTS],
    len: usize,
    next: usize,
    /// Channel + 1 of each key passed on as a note-on and not yet released; 0 when silent.
    sounding: [u8; 128],
    /// How many of `sounding` are not 0 (kept, not counted: it is asked every block).
    sounding_count: usize,
    /// Note-offs the host refused, by key (their channel is in `sounding`).
    owed: u128,
    /// The output channel of the block's note-ons, 0-based.
    channel: u8,
    /// Room kept for note-offs this block: the player's notes sounding when it began (nothing
    /// is sent while events are pushed) plus the note-ons pushed since.
    offs_to_keep: usize,
}

impl Default for PlayerThrough {
    fn default() -> Self {
        PlayerThrough {
            events: [PlayerEvent::default(); MAX_PLAYER_EVENTS],
            len: 0,
            next: 0,
            sounding: [0; 128],
            sounding_count: 0,
            owed: 0,
            channel: 3,
            offs_to_keep: 0,
        }
    }
}

impl PlayerThrough {
    /// Starts a block whose note-ons go out on 0-based `channel`.
    pub fn begin_block(&mut self, channel: u8) {
        self.len = 0;
        self.next = 0;
        self.channel = channel.min(15);
        self.offs_to_keep = self.sounding_count;
    }

    /// A note-on (`velocity` 1..=127) or note-off (`velocity` 0) of `key` at `sample`; events
    /// come in time order, as hosts send them.
    pub fn push(&mut self, sample: u32, key: u8, velocity: u8) {
        let key = key.min(127);
        let room = MAX_PLAYER_EVENTS - self.len;
        let admitted = if velocity == 0 {
            room > 0
        } else {
            // Keep room for a note-off of every note that could be sounding.
            room > 1 + self.offs_to_keep
        };
        if admitted {
            if velocity > 0 {
                self.offs_to_keep += 1;
            }
            self.events[self.len] = PlayerEvent {
                sample,
                key,
                velocity,
            };
            self.len += 1;
        } else if velocity == 0 && self.sounding[usize::from(key)] != 0 {
            self.owed |= 1 << key;
        }
    }

    /// Sends what the host refused before, then the block's events up to and including
    /// `sample`; `emit` returns whether the host took the event.
    pub fn emit_until(&mut self, sample: u32, emit: &mut impl FnMut(MidiEvent) -> bool) {
        while self.owed != 0 {
            let key = self.owed.trailing_zeros() as u8;
            let channel = self.sounding[usize::from(key)].saturating_sub(1);
            if !emit(MidiEvent::NoteOff {
                sample: 0,
                channel,
                key,
            }) {
                return;
            }
            self.owed &= !(1 << key);
            self.set_sounding(usize::from(key), 0);
        }
        while self.next < self.len && self.events[self.next].sample <= sample {
            let e = self.events[self.next];
            self.next += 1;
            let slot = usize::from(e.key);
            if e.velocity > 0 {
                if emit(MidiEvent::NoteOn {
                    sample: e.sample,
                    channel: self.channel,
                    key: e.key,
                    velocity: e.velocity,
                }) {
                    self.set_sounding(slot, self.channel + 1);
                }
            } else if self.sounding[slot] != 0 {
                let channel = self.sounding[slot] - 1;
                if emit(MidiEvent::NoteOff {
                    sample: e.sample,
                    channel,
                    key: e.key,
                }) {
                    self.set_sounding(slot, 0);
                } else {
                    self.owed |= 1 << e.key;
                }
            }
        }
    }

    fn set_sounding(&mut self, slot: usize, channel_plus_one: u8) {
        match (self.sounding[slot] != 0, channel_plus_one != 0) {
            (false, true) => self.sounding_count += 1,
            (true, false) => self.sounding_count -= 1,
            _ => {}
        }
        self.sounding[slot] = channel_plus_one;
    }

    /// Plays the band's block with this block's events interleaved in time order.
    fn play_with(
        &mut self,
        sequencer: &mut Sequencer,
        clock: Clock,
        samples: usize,
        live: &LiveSettings,
        emit: &mut impl FnMut(MidiEvent) -> bool,
    ) {
        if self.is_idle() {
            // Most blocks: nobody plays, nothing to interleave.
            sequencer.process_bounded(clock, samples, live, &mut *emit);
            return;
        }
        sequencer.process_bounded(clock, samples, live, |event| {
            self.emit_until(event.sample(), &mut *emit);
            emit(event)
        });
        self.finish_block(emit);
    }

    /// Sends the rest of the block's events.
    pub fn finish_block(&mut self, emit: &mut impl FnMut(MidiEvent) -> bool) {
        self.emit_until(u32::MAX, emit);
    }

    /// The block's events as (sample, key, velocity; 0 for a note-off), in time order.
    pub fn block_events(&self) -> impl Iterator<Item = (u32, u8, u8)> + '_ {
        self.events[..self.len]
            .iter()
            .map(|e| (e.sample, e.key, e.velocity))
    }

    /// Whether the block has nothing of the player's to send.
    pub fn is_idle(&self) -> bool {
        self.len == 0 && self.owed == 0
    }

    /// Whether any of the player's notes is sounding on the output.
    pub fn is_sounding(&self) -> bool {
        self.sounding_count > 0
    }
}

/// The note in raw MIDI bytes, as (key, velocity; 0 for a note-off), on any channel; `None`
/// for anything else (controllers, clock, system messages, a short message).
pub fn note_from_midi(bytes: &[u8]) -> Option<(u8, u8)> {
    match *bytes {
        [status, key, velocity, ..] if status & 0xF0 == 0x90 => Some((key & 0x7F, velocity & 0x7F)),
        [status, key, _, ..] if status & 0xF0 == 0x80 => Some((key & 0x7F, 0)),
        _ => None,
    }
}

/// Everything the real-time side does with the player's notes: passes them through, stamps
/// them with their beats for the worker, and keeps the sax out of the player's way. The
/// plugin and the standalone's outputs play their blocks through it.
#[derive(Default)]
pub struct PlayerInput {
    /// The block's events, pushed before [`PlayerInput::play_block`].
    pub through: PlayerThrough,
    /// The player's notes on their way to the worker (when the band listens).
    pub capture: Option<PlayerCapture>,
    /// How the band listens (read every block).
    pub listen: Listen,
    gate: SaxGate,
}

impl PlayerInput {
    /// Plays one block of the band with the player's events of the block (pushed to
    /// `self.through` first) in time order among the band's. `bar_beats` is the length of a
    /// bar of the music, `emit` returns whether the output took the event.
    pub fn play_block(
        &mut self,
        sequencer: &mut Sequencer,
        clock: Clock,
        samples: usize,
        live: &LiveSettings,
        bar_beats: f64,
        mut emit: impl FnMut(MidiEvent) -> bool,
    ) {
        let listen = self.listen;
        let mut sax_out = false;
        if let Clock::Rolling {
            start_beat,
            beats_per_sample,
        } = clock
        {
            // Not listening (most sessions): nothing to stamp, nothing to gate.
            if listen != Listen::Off {
                for (sample, key, velocity) in self.through.block_events() {
                    let beat = start_beat + f64::from(sample) * beats_per_sample;
                    if velocity > 0 {
                        self.gate.note_on(beat);
                    }
                    if let Some(capture) = self.capture.as_mut() {
                        capture.push(beat, key, velocity);
                    }
                }
                let end_beat = start_beat + samples as f64 * beats_per_sample;
                let sounding = self.through.is_sounding();
                sax_out = self
                    .gate
                    .sax_out(listen, start_beat, end_beat, bar_beats, sounding);
            }
        }
        if sax_out {
            let mut gated = *live;
            gated.muted[Instrument::Sax.index()] = true;
            self.through
                .play_with(sequencer, clock, samples, &gated, &mut emit);
        } else {
            self.through
                .play_with(sequencer, clock, samples, live, &mut emit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(through: &mut PlayerThrough, take: usize) -> Vec<MidiEvent> {
        let mut out = Vec::new();
        let mut taken = 0;
        through.finish_block(&mut |e| {
            if taken < take {
                taken += 1;
                out.push(e);
                true
            } else {
                false
            }
        });
        out
    }

    #[test]
    fn midi_bytes_become_notes() {
        assert_eq!(note_from_midi(&[0x93, 60, 100]), Some((60, 100)));
        assert_eq!(note_from_midi(&[0x90, 60, 0]), Some((60, 0)));
        assert_eq!(note_from_midi(&[0x8F, 200, 64]), Some((72, 0)));
        assert_eq!(note_from_midi(&[0xB0, 64, 127]), None);
        assert_eq!(note_from_midi(&[0x90, 60]), None);
        assert_eq!(note_from_midi(&[0xF8]), None);
    }

    #[test]
    fn notes_pass_on_the_players_channel_and_end_on_the_channel_they_began() {
        let mut through = PlayerThrough::default();
        through.begin_block(3);
        through.push(10, 60, 90);
        let out = run(&mut through, usize::MAX);
        assert_eq!(
            out,
            [MidiEvent::NoteOn {
                sample: 10,
                channel: 3,
                key: 60,
                velocity: 90
            }]
        );
        // The channel changes while the note sounds: its note-off still goes to channel 4.
        through.begin_block(7);
        through.push(5, 60, 0);
        through.push(6, 61, 0);
        let out = run(&mut through, usize::MAX);
        assert_eq!(
            out,
            [MidiEvent::NoteOff {
                sample: 5,
                channel: 3,
                key: 60
            }],
            "a stray note-off is not passed on"
        );
        assert!(!through.is_sounding());
    }

    #[test]
    fn a_key_struck_twice_is_released_once() {
        let mut through = PlayerThrough::default();
        through.begin_block(3);
        through.push(1, 60, 90);
        through.push(2, 60, 90);
        through.push(3, 62, 90);
        run(&mut through, usize::MAX);
        assert!(through.is_sounding());
        through.begin_block(3);
        through.push(0, 60, 0);
        run(&mut through, usize::MAX);
        assert!(through.is_sounding(), "62 still sounds");
        through.begin_block(3);
        through.push(0, 62, 0);
        run(&mut through, usize::MAX);
        assert!(!through.is_sounding());
    }

    #[test]
    fn a_flood_loses_note_ons_never_note_offs() {
        let mut through = PlayerThrough::default();
        through.begin_block(3);
        // Thousands of note-ons without note-offs in one block.
        for i in 0..4000u32 {
            through.push(i / 8, (i % 128) as u8, 100);
        }
        let ons = run(&mut through, usize::MAX).len();
        assert!(
            (100..=MAX_PLAYER_EVENTS).contains(&ons),
            "{ons} note-ons passed"
        );
        // Releasing everything: every passed note gets its note-off, even when the host's
        // buffer is full in this block (they are owed and sent first in the next).
        through.begin_block(3);
        for key in 0..128u8 {
            through.push(0, key, 0);
        }
        let first = run(&mut through, 40);
        through.begin_block(3);
        let rest = run(&mut through, usize::MAX);
        let offs = first.len() + rest.len();
        assert!(offs >= 100, "{offs} note-offs");
        assert!(!through.is_sounding(), "nothing left sounding");
    }
}
