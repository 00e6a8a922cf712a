//! Turns the host's transport into the sequencer's beat clock, and runs one block: the whole
//! of `process()` apart from talking to the host, so it can be tested and benchmarked alone.

use crate::params::InfiniteJazzParams;
use infinite_jazz_engine::meter::Meter;
use infinite_jazz_engine::player_through::PlayerInput;
use infinite_jazz_engine::sequencer::{BarGrid, Clock, MidiEvent, Sequencer};
use nice_plug::prelude::Transport;

/// The parts of the host's transport the clock uses, copied out of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostTime {
    pub sample_rate: f32,
    pub playing: bool,
    pub tempo: Option<f64>,
    /// Beat position of the block's first sample (derived by nice-plug when the host gives
    /// seconds or samples instead).
    pub pos_beats: Option<f64>,
    /// The host's time signature, when it reports one.
    pub meter: Option<Meter>,
    /// Where the current bar started, in beats, and its number (bar 0 starts the song).
    pub bar_start: Option<f64>,
    /// The number of the bar at `bar_start`.
    pub bar_number: Option<i32>,
}

impl HostTime {
    pub fn from_transport(transport: &Transport) -> Self {
        HostTime {
            sample_rate: transport.sample_rate,
            playing: transport.playing,
            tempo: transport.tempo,
            pos_beats: transport.pos_beats(),
            meter: transport
                .time_sig_numerator
                .zip(transport.time_sig_denominator)
                .map(|(n, d)| Meter::from_host(Some(n), Some(d))),
            bar_start: transport.bar_start_pos_beats(),
            bar_number: transport.bar_number(),
        }
    }

    /// Where the bars are: the host's when it reports a time signature (a meter it cannot
    /// play in counts as 4/4), otherwise `own` meter counted from beat 0.
    pub fn bar_grid(&self, own: Meter) -> BarGrid {
        match self.meter {
            Some(meter) => BarGrid::from_host(meter, self.bar_start, self.bar_number),
            None => BarGrid {
                meter: own,
                origin: 0.0,
            },
        }
    }
}

/// Follows the host's musical time; runs on its own when the host gives no transport at all.
#[derive(Debug, Default)]
pub struct TransportClock {
    /// Beat of the next block when the clock runs itself.
    free_beat: f64,
}

impl TransportClock {
    pub fn reset(&mut self) {
        self.free_beat = 0.0;
    }

    /// The clock for a block of `samples` samples. `own_tempo` is used when the host reports
    /// none.
    pub fn advance(&mut self, transport: &HostTime, own_tempo: f64, samples: usize) -> Clock {
        let sample_rate = f64::from(transport.sample_rate);
        if !(sample_rate.is_finite() && sample_rate > 0.0) {
            return Clock::Stopped;
        }
        let host_tempo = transport.tempo.filter(|t| t.is_finite() && *t > 0.0);
        let host_position = transport.pos_beats.filter(|b| b.is_finite());
        let has_transport = transport.playing || host_tempo.is_some() || host_position.is_some();
        if has_transport && !transport.playing {
            return Clock::Stopped;
        }
        let tempo = host_tempo.unwrap_or(own_tempo).clamp(1.0, 1000.0);
        let beats_per_sample = tempo / 60.0 / sample_rate;
        let start_beat = host_position.unwrap_or(self.free_beat);
        self.free_beat = start_beat + samples as f64 * beats_per_sample;
        Clock::Rolling {
            start_beat,
            beats_per_sample,
        }
    }
}

/// The audio thread's state: the clock, the sequencer and the player's notes (passed through,
/// and heard by the band when it listens).
pub struct ProcessCore {
    pub clock: TransportClock,
    pub sequencer: Sequencer,
    pub player: PlayerInput,
}

impl ProcessCore {
    pub fn new(sequencer: Sequencer) -> Self {
        ProcessCore {
            clock: TransportClock::default(),
            sequencer,
            player: PlayerInput::default(),
        }
    }

    /// Plays one block of `samples` samples against the host's transport, with the player's
    /// notes of the block (pushed to `self.player.through` first) in time order among the
    /// band's. `emit` returns whether the host took the event (its buffer may be full).
    pub fn run(
        &mut self,
        transport: &HostTime,
        params: &InfiniteJazzParams,
        samples: usize,
        emit: impl FnMut(MidiEvent) -> bool,
    ) {
        let clock = self
            .clock
            .advance(transport, f64::from(params.tempo.value()), samples);
        let live = params.live_settings();
        let grid = transport.bar_grid(params.own_meter());
        params.follow_meter(grid.meter);
        self.sequencer.set_bar_grid(grid);
        self.sequencer.watch_roll(params.editor_state.is_open());
        self.player.listen = params.listen_mode();
        self.player.play_block(
            &mut self.sequencer,
            clock,
            samples,
            &live,
            grid.meter.quarters_per_bar(),
            emit,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(playing: bool, tempo: Option<f64>, pos_beats: Option<f64>) -> HostTime {
        HostTime {
            sample_rate: 48_000.0,
            playing,
            tempo,
            pos_beats,
            meter: None,
            bar_start: None,
            bar_number: None,
        }
    }

    #[test]
    fn follows_the_host_when_it_has_a_transport() {
        let mut clock = TransportClock::default();
        let c = clock.advance(&transport(true, Some(90.0), Some(10.0)), 120.0, 64);
        assert_eq!(
            c,
            Clock::Rolling {
                start_beat: 10.0,
                beats_per_sample: 90.0 / 60.0 / 48_000.0
            }
        );
        assert_eq!(
            clock.advance(&transport(false, Some(90.0), Some(10.0)), 120.0, 64),
            Clock::Stopped
        );
    }

    #[test]
    fn runs_on_its_own_tempo_without_a_transport() {
        let mut clock = TransportClock::default();
        let none = transport(false, None, None);
        let bps = 120.0 / 60.0 / 48_000.0;
        assert_eq!(
            clock.advance(&none, 120.0, 100),
            Clock::Rolling {
                start_beat: 0.0,
                beats_per_sample: bps
            }
        );
        assert_eq!(
            clock.advance(&none, 120.0, 100),
            Clock::Rolling {
                start_beat: 100.0 * bps,
                beats_per_sample: bps
            }
        );
        // A host that plays but reports no position: our own count at the host's tempo.
        let c = clock.advance(&transport(true, Some(60.0), None), 120.0, 10);
        assert!(
            matches!(c, Clock::Rolling { start_beat, .. } if (start_beat - 200.0 * bps).abs() < 1e-12)
        );
    }
}
