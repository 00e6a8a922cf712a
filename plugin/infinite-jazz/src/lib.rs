//! The Infinite Jazz MIDI generator plugin.

use nice_plug::prelude::*;
use std::sync::Arc;

#[derive(Params)]
pub struct InfiniteJazzParams {
    #[id = "swing"]
    pub swing: FloatParam,
}

impl Default for InfiniteJazzParams {
    fn default() -> Self {
        InfiniteJazzParams {
            swing: FloatParam::new(
                "Swing",
                infinite_jazz_engine::timing::DEFAULT_SWING as f32,
                FloatRange::Linear {
                    min: 0.5,
                    max: 0.75,
                },
            ),
        }
    }
}

#[derive(Default)]
pub struct InfiniteJazz {
    params: Arc<InfiniteJazzParams>,
}

impl Plugin for InfiniteJazz {
    const NAME: &'static str = "Infinite Jazz";
    const VENDOR: &'static str = "Infinite Jazz";
    const URL: &'static str = env!("CARGO_PKG_HOMEPAGE");
    const EMAIL: &'static str = "";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[];
    const MIDI_OUTPUT: MidiConfig = MidiConfig::Basic;

    type Editor = ();
    type SysExMessage = ();
    type BackgroundTask = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn process(
        &mut self,
        _buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        _context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        ProcessStatus::Normal
    }
}

impl ClapPlugin for InfiniteJazz {
    const CLAP_ID: &'static str = "com.infinite-jazz.infinite-jazz";
    const CLAP_DESCRIPTION: Option<&'static str> = Some("An endless jazz quartet as MIDI");
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
