//! The Infinite Jazz MIDI generator plugin: parameters, host glue, and the hand-over between
//! the section worker and the audio-thread [`Sequencer`].

#![forbid(unsafe_code)]

mod clock;
pub mod editor;
pub mod link;
pub mod model_settings;
mod params;
pub mod take_export;

pub use clock::{HostTime, ProcessCore, TransportClock};
pub use params::{
    FormChoice, InfiniteJazzParams, InstrumentParams, KeyChoice, ListenChoice, TradeLength,
};

use infinite_jazz_engine::sequencer::{MidiEvent, Sequencer, SequencerStats};
use infinite_jazz_engine::worker::{
    reserve_section, section_queues, start_band, SectionWorker, WorkerCommand,
};
use nice_plug::midi::{Channel, Key, VoiceID};
use nice_plug::prelude::*;
use std::sync::Arc;

pub struct InfiniteJazz {
    params: Arc<InfiniteJazzParams>,
    link: Arc<link::EditorLink>,
    stats: Arc<SequencerStats>,
    /// The model's call statistics when a model is configured.
    llm_stats: Option<infinite_jazz_llm::source::SharedStats>,
    /// Created on the first `activate()`; the audio thread owns it from then on.
    core: Option<ProcessCore>,
    worker: Option<SectionWorker>,
}

impl Default for InfiniteJazz {
    fn default() -> Self {
        let stats = Arc::new(SequencerStats::default());
        InfiniteJazz {
            params: Arc::new(InfiniteJazzParams::default()),
            link: Arc::new(link::EditorLink::new(stats.clone())),
            stats,
            llm_stats: None,
            core: None,
            worker: None,
        }
    }
}

impl InfiniteJazz {
    /// Counters the sequencer publishes (underruns, sections played, position).
    pub fn stats(&self) -> Arc<SequencerStats> {
        self.stats.clone()
    }

    /// The language model from the user's config file, when one is configured. Any problem
    /// (unreadable file, unknown style) is logged and the built-in composer plays.
    fn model_source(
        &mut self,
        settings: &infinite_jazz_engine::worker::WorkerSettings,
    ) -> Option<Box<dyn infinite_jazz_engine::worker::SectionSource>> {
        let steering = self.params.steering();
        match model_settings::ModelSettingsFile::user().band_source(&steering, &settings.composer) {
            Ok(Some(source)) => {
                self.llm_stats = Some(source.stats());
                Some(Box::new(source))
            }
            Ok(None) => None,
            Err(e) => {
                nice_error!("{e}; the built-in composer plays");
                None
            }
        }
    }

    /// Drops the queued sections and asks the source again.
    pub fn regenerate(&self) {
        if let Some(worker) = &self.worker {
            worker.send(WorkerCommand::Regenerate);
        }
    }
}

fn to_note_event(event: MidiEvent) -> NoteEvent<()> {
    match event {
        MidiEvent::NoteOn {
            sample,
            channel,
            key,
            velocity,
        } => NoteEvent::NoteOn {
            timing: sample,
            voice_id: VoiceID::Wildcard,
            channel: Channel::Number(channel),
            key: Key::Number(key),
            velocity: f32::from(velocity) / 127.0,
        },
        MidiEvent::NoteOff {
            sample,
            channel,
            key,
        } => NoteEvent::NoteOff {
            timing: sample,
            voice_id: VoiceID::Wildcard,
            channel: Channel::Number(channel),
            key: Key::Number(key),
            velocity: 0.0,
        },
        MidiEvent::AllNotesOff { sample, channel } => NoteEvent::MidiCC {
            timing: sample,
            channel,
            cc: control_change::ALL_NOTES_OFF,
            value: 0.0,
        },
    }
}

impl Plugin for InfiniteJazz {
    const NAME: &'static str = "Infinite Jazz";
    const VENDOR: &'static str = "Infinite Jazz";
    const URL: &'static str = env!("CARGO_PKG_HOMEPAGE");
    const EMAIL: &'static str = "";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    // A pure MIDI generator: no audio ports.
    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[];
    const MIDI_OUTPUT: MidiConfig = MidiConfig::MidiCCs;
    // The player's notes, passed on to the output on their own channel.
    const MIDI_INPUT: MidiConfig = MidiConfig::Basic;

    type Editor = nice_plug_egui::EguiEditor<editor::JazzEditor>;
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
        _buffer_config: &BufferConfig,
        _context: &mut impl ActivateContext<Self>,
    ) -> bool {
        // Hosts may activate again (sample-rate changes, state loads); the queues and the
        // worker live for the plugin's lifetime.
        if self.core.is_some() {
            return true;
        }
        let settings = self.params.worker_settings();
        let (roll_in, roll_out) = triple_buffer::triple_buffer(&Default::default());
        if let Ok(mut roll) = self.link.roll.lock() {
            *roll = Some(roll_out);
        }
        let source = self.model_source(&settings);
        let feed = self.params.settings_feed();
        let (capture, heard) = infinite_jazz_engine::player_capture::player_capture();
        let mut capture = Some(capture);
        let sequencer = match start_band(self.stats.clone(), feed, source) {
            Ok((sequencer, worker)) => {
                worker.send(WorkerCommand::HearPlayer(Box::new(heard)));
                if let Ok(mut link) = self.link.worker.lock() {
                    *link = Some(link::WorkerLink {
                        commands: worker.commands(),
                        status: worker.status().clone(),
                        llm_stats: self.llm_stats.clone(),
                    });
                }
                self.worker = Some(worker);
                sequencer
            }
            // Without a worker the sequencer plays its reserve section: never silence.
            Err(e) => {
                nice_error!("could not start the section worker: {e}");
                capture = None;
                let (_, queues) = section_queues();
                Sequencer::new(queues, self.stats.clone(), reserve_section(&settings))
            }
        };
        let mut core = ProcessCore::new(sequencer.with_roll(roll_in));
        core.player.capture = capture;
        self.core = Some(core);
        true
    }

    fn reset(&mut self) {
        if let Some(core) = self.core.as_mut() {
            core.clock.reset();
        }
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        let samples = buffer.samples();
        let Some(core) = self.core.as_mut() else {
            return ProcessStatus::Normal;
        };
        let transport = HostTime::from_transport(context.transport());
        if let Some(tempo) = transport.tempo {
            self.link
                .tempo_bits
                .store(tempo.to_bits(), std::sync::atomic::Ordering::Relaxed);
        }
        self.link.host_meter.store(
            transport.meter.is_some(),
            std::sync::atomic::Ordering::Relaxed,
        );
        let channel = (self.params.player_channel.value().clamp(1, 16) - 1) as u8;
        core.player.through.begin_block(channel);
        let last = samples.saturating_sub(1) as u32;
        while let Some(event) = context.next_event() {
            match event {
                NoteEvent::NoteOn {
                    timing,
                    key: Key::Number(key),
                    velocity,
                    ..
                } => {
                    let velocity = (velocity * 127.0).round().clamp(1.0, 127.0) as u8;
                    core.player.through.push(timing.min(last), key, velocity);
                }
                NoteEvent::NoteOff {
                    timing,
                    key: Key::Number(key),
                    ..
                } => core.player.through.push(timing.min(last), key, 0),
                _ => {}
            }
        }
        core.run(&transport, &self.params, samples, |event| {
            // A full host buffer refuses events; the sequencer then gives up note-ons and owes
            // note-offs, so nothing is left sounding.
            context.try_send_event(to_note_event(event)).is_ok()
        });
        ProcessStatus::Normal
    }

    fn deactivate(&mut self) {}
}

impl ClapPlugin for InfiniteJazz {
    const CLAP_ID: &'static str = "com.infinite-jazz.infinite-jazz";
    const CLAP_DESCRIPTION: Option<&'static str> =
        Some("An endless jazz quartet (bass, drums, piano, sax) as MIDI");
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] = &[ClapFeature::NoteEffect, ClapFeature::Utility];
}

impl Vst3Plugin for InfiniteJazz {
    const VST3_CLASS_ID: [u8; 16] = *b"InfiniteJazzMidi";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] =
        &[Vst3SubCategory::Instrument, Vst3SubCategory::Generator];
}

nice_export_clap!(InfiniteJazz);
nice_export_vst3!(InfiniteJazz);
