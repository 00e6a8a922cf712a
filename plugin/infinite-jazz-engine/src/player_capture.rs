//! The player's notes on their way from the audio thread to the worker that composes the
//! band's answer.
//!
//! The audio thread knows each note's exact beat (the block's clock and the note's sample
//! offset); the worker needs whole notes (onset and release) to read phrases and chords. So
//! the audio thread only stamps and queues note-ons and note-offs ([`PlayerCapture`], a
//! fixed-size `rtrb` ring: no allocation, no lock), and the worker pairs them into notes
//! ([`HeardPlayer`]). A flood fills the ring and the rest of it is counted and dropped: the
//! worker hears less of the player, the audio thread never waits.

use crate::listen::{PlayerNote, PlayerPart, MAX_PLAYER_NOTES};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Events the ring holds: far more than a player plays between two turns of the worker.
pub const CAPTURE_CAPACITY: usize = 4096;
/// How far back the worker keeps the player's notes, in beats: two of the longest trades
/// (8 bars) in the longest common bars, and more than the longest chord hold.
pub const KEPT_BEATS: f64 = 128.0;
/// A note-on this far (in beats) before the latest note heard means the host jumped back:
/// what was heard belongs to another pass through the song.
const RELOCATION_BEATS: f64 = 2.0;

/// A note-on (`velocity` 1..=127) or note-off (`velocity` 0) at a beat of the band's clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CapturedEvent {
    /// The beat the event happened on.
    pub beat: f64,
    /// MIDI key.
    pub key: u8,
    /// 0 for a note-off.
    pub velocity: u8,
}

/// The audio thread's end: queues events, dropping them (and counting) when the ring is full.
pub struct PlayerCapture {
    ring: rtrb::Producer<CapturedEvent>,
    dropped: Arc<AtomicU64>,
}

impl PlayerCapture {
    /// Queues one event; a full ring drops it. Never blocks, never allocates.
    pub fn push(&mut self, beat: f64, key: u8, velocity: u8) {
        let event = CapturedEvent {
            beat,
            key: key.min(127),
            velocity: velocity.min(127),
        };
        if !beat.is_finite() || self.ring.push(event).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The worker's end: pairs the events into the player's notes of the last [`KEPT_BEATS`].
pub struct HeardPlayer {
    ring: rtrb::Consumer<CapturedEvent>,
    dropped: Arc<AtomicU64>,
    /// Onset and velocity of each key held down.
    held: [Option<(f64, u8)>; 128],
    notes: Vec<PlayerNote>,
    /// Notes ended since [`HeardPlayer::take_finished`] last took them, in the order they
    /// ended, for the session's take.
    finished: Vec<PlayerNote>,
    latest: f64,
}

/// A capture ring: the audio thread's end and the worker's.
pub fn player_capture() -> (PlayerCapture, HeardPlayer) {
    let (producer, consumer) = rtrb::RingBuffer::new(CAPTURE_CAPACITY);
    let dropped = Arc::new(AtomicU64::new(0));
    (
        PlayerCapture {
            ring: producer,
            dropped: dropped.clone(),
        },
        HeardPlayer {
            ring: consumer,
            dropped,
            held: [None; 128],
            notes: Vec::new(),
            finished: Vec::new(),
            latest: f64::NEG_INFINITY,
        },
    )
}

impl HeardPlayer {
    /// Takes in the events queued since the last call; returns how many there were.
    pub fn receive(&mut self) -> usize {
        let mut count = 0;
        while let Ok(event) = self.ring.pop() {
            self.take(event);
            count += 1;
        }
        count
    }

    fn take(&mut self, event: CapturedEvent) {
        if event.beat < self.latest - RELOCATION_BEATS {
            // The transport jumped back: this is a new pass, the old one is no guide.
            self.notes.clear();
            self.held = [None; 128];
        }
        self.latest = event.beat;
        let slot = usize::from(event.key);
        // A repeated note-on ends the note before it, as it does on a keyboard.
        if let Some((start, velocity)) = self.held[slot].take() {
            let note = PlayerNote {
                start,
                end: event.beat,
                key: event.key,
                velocity,
            };
            self.notes.push(note);
            if self.finished.len() < MAX_PLAYER_NOTES {
                self.finished.push(note);
            }
        }
        if event.velocity > 0 {
            self.held[slot] = Some((event.beat, event.velocity));
        }
        let keep_from = self.latest - KEPT_BEATS;
        if self.notes.first().is_some_and(|n| n.start < keep_from) {
            self.notes.retain(|n| n.start >= keep_from);
        }
        // A key held that long lost its note-off (a dropped event, a host that never sent it).
        for held in &mut self.held {
            if held.is_some_and(|(start, _)| start < keep_from) {
                *held = None;
            }
        }
    }

    /// What the player played, heard up to `now` (notes still held last beyond it).
    pub fn part(&self, now: f64) -> PlayerPart {
        let held = self
            .held
            .iter()
            .enumerate()
            .filter_map(|(key, h)| h.map(|(start, velocity)| (key, start, velocity)))
            .map(|(key, start, velocity)| PlayerNote {
                start,
                end: f64::MAX,
                key: key as u8,
                velocity,
            });
        PlayerPart::new(self.notes.iter().copied().chain(held)).heard_until(now)
    }

    /// The notes that ended since the last call, in the order they ended.
    pub fn take_finished(&mut self) -> Vec<PlayerNote> {
        std::mem::take(&mut self.finished)
    }

    /// Events lost to a full ring so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_become_notes_and_held_keys_last() {
        let (mut capture, mut heard) = player_capture();
        capture.push(1.0, 60, 90);
        capture.push(1.5, 60, 0);
        capture.push(2.0, 64, 80);
        capture.push(f64::NAN, 65, 80);
        heard.receive();
        let part = heard.part(2.5);
        assert_eq!(part.notes().len(), 2);
        assert_eq!((part.notes()[0].start, part.notes()[0].end), (1.0, 1.5));
        assert_eq!(part.notes()[1].end, f64::MAX, "still held");
        assert_eq!(part.heard(), 2.5);
        assert_eq!(heard.dropped(), 1, "a beat that is no number is dropped");
    }

    #[test]
    fn a_flood_is_dropped_and_a_jump_back_starts_afresh() {
        let (mut capture, mut heard) = player_capture();
        for i in 0..(2 * CAPTURE_CAPACITY) {
            capture.push(i as f64 / 1000.0, (i % 128) as u8, 100);
        }
        assert_eq!(heard.dropped(), CAPTURE_CAPACITY as u64);
        heard.receive();
        assert!(heard.part(10.0).notes().len() <= CAPTURE_CAPACITY);
        capture.push(0.0, 50, 90);
        heard.receive();
        assert_eq!(heard.part(0.1).notes().len(), 1, "only the new pass");
        // Old notes are forgotten as the music goes on.
        capture.push(KEPT_BEATS + 10.0, 52, 0);
        heard.receive();
        assert!(heard
            .part(KEPT_BEATS + 10.0)
            .notes()
            .iter()
            .all(|n| n.key != 50));
    }
}
