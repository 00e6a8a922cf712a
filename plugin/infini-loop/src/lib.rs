//! Infini Loop: a sampler that turns a text prompt (through MusicGPT) or a folder of clips into
//! an endless stream of seamless loops, in time with the host.

#![forbid(unsafe_code)]

pub mod editor;
pub mod link;
pub mod loop_export;
pub mod params;
pub mod playback;

pub use link::{LoopLink, MachineSettings};
pub use params::{InfiniLoopParams, ModelSize, SourceKind, SourceSettings, SyncMode, TriggerMode};
pub use playback::{LoopBlock, LoopCore, SpectrumFrame, SpectrumTap, SPECTRUM_SAMPLES};

use infini_loop_engine::looper::{looper, BeatClock};
use infini_loop_engine::worker::{ClipWorker, WorkerQueues};
use nice_plug::prelude::*;
use std::num::NonZeroU32;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The plugin: parameters, the link to the editor, and once active the clip worker and the
/// audio thread's [`LoopCore`].
#[derive(Default)]
pub struct InfiniLoop {
    /// The host-visible parameters and the saved sources.
    pub params: Arc<InfiniLoopParams>,
    /// What the editor shares with the plugin.
    pub link: Arc<LoopLink>,
    core: Option<LoopCore>,
    worker: Option<ClipWorker>,
}

/// The host's musical time for the loop player, when the transport plays with a tempo and a
/// position.
fn beat_clock(transport: &Transport) -> Option<BeatClock> {
    match (transport.playing, transport.pos_beats(), transport.tempo) {
        (true, Some(beat), Some(tempo)) if tempo > 0.0 && tempo.is_finite() && beat.is_finite() => {
            Some(BeatClock::at(
                beat,
                tempo / 60.0 / f64::from(transport.sample_rate),
            ))
        }
        _ => None,
    }
}

impl Plugin for InfiniLoop {
    const NAME: &'static str = "Infini Loop";
    const VENDOR: &'static str = "Infinite Jazz";
    const URL: &'static str = env!("CARGO_PKG_HOMEPAGE");
    const EMAIL: &'static str = "";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[AudioIOLayout {
        main_input_channels: None,
        main_output_channels: NonZeroU32::new(2),
        ..AudioIOLayout::const_default()
    }];
    const MIDI_INPUT: MidiConfig = MidiConfig::Basic;

    type Editor = nice_plug_egui::EguiEditor<editor::LoopEditor>;
    type SysExMessage = ();
    type BackgroundTask = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        editor::create(self.params.clone(), self.link.clone())
    }

    fn activate(
        &mut self,
        _audio_io_layout: &AudioIOLayout,
        buffer_config: &BufferConfig,
        _context: &mut impl ActivateContext<Self>,
    ) -> bool {
        let rate = buffer_config.sample_rate;
        // Clips are prepared for one sample rate: a new rate starts over (off the audio thread).
        if let Some(core) = &self.core {
            if (rate - core.sample_rate()).abs() < 0.5 {
                return true;
            }
        }
        self.worker = None;
        self.link.sample_rate.store(rate as u64, Ordering::Relaxed);
        let (looper, queue, returned) = looper(self.params.looper_settings(rate), 4);
        let (audition_tx, audition_rx) = rtrb::RingBuffer::new(2);
        // Renditions of the loops in play for a new host tempo.
        let (renditions_tx, renditions_rx) = rtrb::RingBuffer::new(8);
        let looper = looper
            .with_audition(audition_rx)
            .with_renditions(renditions_rx);
        if let Ok(mut a) = self.link.audition.lock() {
            *a = Some(audition_tx);
        }
        let active = self.link.active.load(Ordering::Relaxed);
        let config = self
            .params
            .worker_config(rate as u32, active, &self.link.machine());
        let queues = WorkerQueues {
            queue,
            returned,
            renditions: Some(renditions_tx),
            host: Some(self.link.host_tempo.clone()),
        };
        match ClipWorker::spawn_with(queues, config) {
            Ok(worker) => {
                if let Ok(mut c) = self.link.commands.lock() {
                    *c = Some(worker.commands());
                }
                if let Ok(mut s) = self.link.status.lock() {
                    *s = Some(worker.status());
                }
                self.worker = Some(worker);
            }
            Err(e) => nice_error!("could not start the clip worker: {e}"),
        }
        let (tap, spectrum) = SpectrumTap::new();
        if let Ok(mut s) = self.link.spectrum.lock() {
            *s = Some(spectrum);
        }
        self.core = Some(LoopCore::new(looper, rate, Some(tap)));
        true
    }

    fn reset(&mut self) {
        if let Some(core) = self.core.as_mut() {
            core.reset();
        }
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        let Some(core) = self.core.as_mut() else {
            for channel in buffer.as_slice() {
                channel.fill(0.0);
            }
            return ProcessStatus::Normal;
        };
        while let Some(event) = context.next_event() {
            match event {
                NoteEvent::NoteOn { .. } => core.note_on(),
                NoteEvent::NoteOff { .. } => core.note_off(),
                _ => {}
            }
        }
        let transport = context.transport();
        let block = LoopBlock {
            transport_playing: transport.playing,
            clock: beat_clock(transport),
            tempo: transport.tempo,
        };
        let editor_open = self.params.editor_state.is_open();
        core.run(
            block,
            &self.params,
            &self.link,
            buffer.as_slice(),
            editor_open,
        );
        ProcessStatus::Normal
    }

    fn deactivate(&mut self) {}
}

impl ClapPlugin for InfiniLoop {
    const CLAP_ID: &'static str = "com.infinite-jazz.infini-loop";
    const CLAP_DESCRIPTION: Option<&'static str> =
        Some("Endless seamless loops generated from a text prompt");
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] = &[
        ClapFeature::Instrument,
        ClapFeature::Sampler,
        ClapFeature::Stereo,
    ];
}

impl Vst3Plugin for InfiniLoop {
    const VST3_CLASS_ID: [u8; 16] = *b"InfiniLoopSmplr1";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] =
        &[Vst3SubCategory::Instrument, Vst3SubCategory::Sampler];
}

nice_export_clap!(InfiniLoop);
nice_export_vst3!(InfiniLoop);
