//! One block of audio: the trigger, the loop player, the fades in and out, the gain, and the
//! spectrum tap. The whole of `process()` apart from talking to the host, so it can be tested
//! and benchmarked alone.

use crate::link::LoopLink;
use crate::params::{InfiniLoopParams, SyncMode, TriggerMode};
use infini_loop_engine::looper::{BeatClock, Looper, LooperState};
use std::sync::atomic::Ordering;

/// Samples of the output the editor's spectrum reads.
pub const SPECTRUM_SAMPLES: usize = 2048;

/// The latest output, for the editor's live spectrum (fixed size: publishing allocates nothing).
#[derive(Clone)]
pub struct SpectrumFrame {
    /// Mono, oldest first.
    pub samples: [f32; SPECTRUM_SAMPLES],
    /// The rate the samples were played at.
    pub sample_rate: f32,
}

impl Default for SpectrumFrame {
    fn default() -> Self {
        SpectrumFrame {
            samples: [0.0; SPECTRUM_SAMPLES],
            sample_rate: 48_000.0,
        }
    }
}

/// Keeps the newest output samples and publishes them to the editor.
pub struct SpectrumTap {
    output: triple_buffer::Input<SpectrumFrame>,
    /// The last output samples, oldest at `pos`.
    ring: Box<[f32; SPECTRUM_SAMPLES]>,
    pos: usize,
}

impl SpectrumTap {
    /// A tap and the end the editor reads.
    pub fn new() -> (Self, triple_buffer::Output<SpectrumFrame>) {
        let (input, output) = triple_buffer::triple_buffer(&SpectrumFrame::default());
        let tap = SpectrumTap {
            output: input,
            ring: Box::new([0.0; SPECTRUM_SAMPLES]),
            pos: 0,
        };
        (tap, output)
    }

    fn publish(&mut self, channels: &[&mut [f32]], samples: usize, sample_rate: f32) {
        for i in 0..samples {
            self.ring[self.pos] = channels.iter().map(|c| c[i]).sum::<f32>() * 0.5;
            self.pos = (self.pos + 1) % SPECTRUM_SAMPLES;
        }
        let frame = self.output.input_buffer_mut();
        frame.sample_rate = sample_rate;
        let split = SPECTRUM_SAMPLES - self.pos;
        frame.samples[..split].copy_from_slice(&self.ring[self.pos..]);
        frame.samples[split..].copy_from_slice(&self.ring[..self.pos]);
        self.output.publish();
    }
}

/// The audio thread's state.
pub struct LoopCore {
    looper: Looper,
    sample_rate: f32,
    /// Notes held, for the MIDI gate.
    held: u32,
    /// The output's fade in and out (0..1), so starting and stopping never click.
    level: f32,
    spectrum: Option<SpectrumTap>,
}

/// What the host said about this block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoopBlock {
    /// Whether the host's transport plays.
    pub transport_playing: bool,
    /// The host's musical time, when it plays and gives a tempo and position.
    pub clock: Option<BeatClock>,
    /// The host's tempo, when it gives one (also while stopped).
    pub tempo: Option<f64>,
}

impl LoopCore {
    /// A core playing `looper` at `sample_rate`, feeding `spectrum` while the editor is open.
    pub fn new(looper: Looper, sample_rate: f32, spectrum: Option<SpectrumTap>) -> Self {
        LoopCore {
            looper,
            sample_rate,
            held: 0,
            level: 0.0,
            spectrum,
        }
    }

    /// The rate the core plays at.
    pub fn sample_rate(&self) -> f32 {
        self.sample_rate
    }

    /// A MIDI note started (the gate opens).
    pub fn note_on(&mut self) {
        self.held = self.held.saturating_add(1);
    }

    /// A MIDI note ended.
    pub fn note_off(&mut self) {
        self.held = self.held.saturating_sub(1);
    }

    /// The host reset the plugin: no notes are held.
    pub fn reset(&mut self) {
        self.held = 0;
    }

    /// Renders one block into `channels` (all the same length): trigger → clock → loops →
    /// fades → gain, then reports the position to the editor and, while the editor is open,
    /// feeds its spectrum.
    pub fn run(
        &mut self,
        block: LoopBlock,
        params: &InfiniLoopParams,
        link: &LoopLink,
        channels: &mut [&mut [f32]],
        editor_open: bool,
    ) {
        let samples = channels.first().map_or(0, |c| c.len());
        let playing = match params.trigger.value() {
            TriggerMode::Transport => block.transport_playing,
            TriggerMode::MidiGate => self.held > 0,
            TriggerMode::AlwaysOn => true,
        };
        // What the clip worker stretches loops to: the host's tempo, or none with Sync off
        // (a tempo that is not a positive number leaves the last one).
        link.host_tempo.follow(match params.sync.value() {
            SyncMode::Stretch => Some(block.tempo.unwrap_or(f64::NAN)),
            SyncMode::Off => None,
        });
        let looper = &mut self.looper;
        looper.set_settings(params.looper_settings(self.sample_rate));
        if link.switch.swap(false, Ordering::Relaxed) {
            looper.request_switch();
        }
        // Fades of about 20 ms in and out of the trigger.
        let step = 1.0 / (0.02 * self.sample_rate).max(1.0);
        let target = if playing { 1.0 } else { 0.0 };
        if self.level <= 0.0 && target <= 0.0 {
            for channel in channels.iter_mut() {
                channel.fill(0.0);
            }
        } else {
            looper.render(channels, block.clock);
            for i in 0..samples {
                self.level = if target > self.level {
                    (self.level + step).min(1.0)
                } else {
                    (self.level - step).max(0.0)
                };
                let gain = params.gain.smoothed.next() * self.level;
                for channel in channels.iter_mut() {
                    channel[i] *= gain;
                }
            }
        }
        let phase = match looper.state() {
            LooperState::Idle => 0.0,
            _ => looper.loop_phase().unwrap_or(0.0),
        };
        link.loop_phase.store(phase.to_bits(), Ordering::Relaxed);
        link.clips_started
            .store(looper.clips_started(), Ordering::Relaxed);
        if editor_open {
            if let Some(tap) = self.spectrum.as_mut() {
                tap.publish(channels, samples, self.sample_rate);
            }
        }
    }
}
