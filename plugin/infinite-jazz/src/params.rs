//! The plugin's parameters, and their translation into engine settings.

use crate::link::Steering;
use infinite_jazz_engine::composer::harmony::Form;
use infinite_jazz_engine::composer::ComposerSettings;
use infinite_jazz_engine::section::Instrument;
use infinite_jazz_engine::sequencer::{LiveSettings, MAX_HUMANIZE_BEATS};
use infinite_jazz_engine::timing::{
    quantize_swing, RuntimeConfig, DEFAULT_SWING, MAX_BARS_PER_SECTION,
};
use infinite_jazz_engine::worker::{WorkerSettings, MAX_DEPTH};
use nice_plug::prelude::*;
use std::sync::{Arc, RwLock};

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormChoice {
    #[id = "random"]
    #[name = "Random"]
    Random,
    #[id = "ii-v-i"]
    #[name = "ii-V-I"]
    TwoFiveOne,
    #[id = "blues"]
    #[name = "Blues"]
    Blues,
    #[id = "rhythm"]
    #[name = "Rhythm changes"]
    RhythmChanges,
    #[id = "minor"]
    #[name = "Minor cycle"]
    MinorCycle,
}

impl FormChoice {
    fn form(self) -> Option<Form> {
        match self {
            FormChoice::Random => None,
            FormChoice::TwoFiveOne => Some(Form::TwoFiveOne),
            FormChoice::Blues => Some(Form::Blues),
            FormChoice::RhythmChanges => Some(Form::RhythmChanges),
            FormChoice::MinorCycle => Some(Form::MinorCycle),
        }
    }
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyChoice {
    #[id = "random"]
    #[name = "Random"]
    Random,
    #[id = "c"]
    #[name = "C"]
    C,
    #[id = "db"]
    #[name = "Db"]
    Db,
    #[id = "d"]
    #[name = "D"]
    D,
    #[id = "eb"]
    #[name = "Eb"]
    Eb,
    #[id = "e"]
    #[name = "E"]
    E,
    #[id = "f"]
    #[name = "F"]
    F,
    #[id = "gb"]
    #[name = "Gb"]
    Gb,
    #[id = "g"]
    #[name = "G"]
    G,
    #[id = "ab"]
    #[name = "Ab"]
    Ab,
    #[id = "a"]
    #[name = "A"]
    A,
    #[id = "bb"]
    #[name = "Bb"]
    Bb,
    #[id = "b"]
    #[name = "B"]
    B,
}

impl KeyChoice {
    fn pitch_class(self) -> Option<u8> {
        match self {
            KeyChoice::Random => None,
            other => Some(other.to_index() as u8 - 1),
        }
    }
}

/// One player's mute, channel and velocity.
#[derive(Params)]
pub struct InstrumentParams {
    #[id = "mute"]
    pub mute: BoolParam,
    #[id = "chan"]
    pub channel: IntParam,
    #[id = "vel"]
    pub velocity: FloatParam,
}

impl InstrumentParams {
    fn new(name: &str, default_channel: i32) -> Self {
        InstrumentParams {
            mute: BoolParam::new(format!("{name} Mute"), false),
            channel: IntParam::new(
                format!("{name} Channel"),
                default_channel,
                IntRange::Linear { min: 1, max: 16 },
            ),
            velocity: FloatParam::new(
                format!("{name} Velocity"),
                1.0,
                FloatRange::Linear { min: 0.0, max: 2.0 },
            )
            .with_unit(" %")
            .with_value_to_string(formatters::v2s_f32_percentage(0))
            .with_string_to_value(formatters::s2v_f32_percentage()),
        }
    }
}

#[derive(Params)]
pub struct InfiniteJazzParams {
    #[id = "swing"]
    pub swing: FloatParam,
    #[id = "bars"]
    pub section_bars: IntParam,
    #[id = "depth"]
    pub buffer_depth: IntParam,
    /// The band's own tempo, used when the host provides no transport.
    #[id = "tempo"]
    pub tempo: FloatParam,
    #[id = "hum_t"]
    pub humanize_timing: FloatParam,
    #[id = "hum_v"]
    pub humanize_velocity: FloatParam,
    #[id = "seed"]
    pub seed: IntParam,
    #[id = "form"]
    pub form: EnumParam<FormChoice>,
    #[id = "key"]
    pub key: EnumParam<KeyChoice>,
    #[nested(id_prefix = "bass", group = "Bass")]
    pub bass: InstrumentParams,
    #[nested(id_prefix = "drums", group = "Drums")]
    pub drums: InstrumentParams,
    #[nested(id_prefix = "piano", group = "Piano")]
    pub piano: InstrumentParams,
    #[nested(id_prefix = "sax", group = "Sax")]
    pub sax: InstrumentParams,
    /// Vibe, prompt style, own changes and sampling: saved with the project.
    #[persist = "steering"]
    pub steering: Arc<RwLock<Steering>>,
    /// The editor's size (this version of nice-plug-egui cannot save it).
    pub editor_state: Arc<nice_plug_egui::EguiEditorState>,
}

impl Default for InfiniteJazzParams {
    fn default() -> Self {
        InfiniteJazzParams {
            swing: FloatParam::new(
                "Swing",
                DEFAULT_SWING as f32,
                FloatRange::Linear {
                    min: 0.5,
                    max: 0.75,
                },
            )
            .with_value_to_string(formatters::v2s_f32_rounded(2)),
            section_bars: IntParam::new(
                "Section Bars",
                2,
                IntRange::Linear {
                    min: 1,
                    max: MAX_BARS_PER_SECTION.min(8) as i32,
                },
            ),
            buffer_depth: IntParam::new(
                "Sections Ahead",
                4,
                IntRange::Linear {
                    min: 1,
                    max: MAX_DEPTH as i32,
                },
            ),
            tempo: FloatParam::new(
                "Own Tempo",
                120.0,
                FloatRange::Linear {
                    min: 40.0,
                    max: 300.0,
                },
            )
            .with_unit(" BPM")
            .with_value_to_string(formatters::v2s_f32_rounded(1)),
            humanize_timing: FloatParam::new(
                "Humanize Timing",
                0.0,
                FloatRange::Linear { min: 0.0, max: 1.0 },
            )
            .with_unit(" %")
            .with_value_to_string(formatters::v2s_f32_percentage(0))
            .with_string_to_value(formatters::s2v_f32_percentage()),
            humanize_velocity: FloatParam::new(
                "Humanize Velocity",
                0.0,
                FloatRange::Linear { min: 0.0, max: 1.0 },
            )
            .with_unit(" %")
            .with_value_to_string(formatters::v2s_f32_percentage(0))
            .with_string_to_value(formatters::s2v_f32_percentage()),
            seed: IntParam::new("Seed", 1, IntRange::Linear { min: 0, max: 9999 }),
            form: EnumParam::new("Form", FormChoice::Random),
            key: EnumParam::new("Key", KeyChoice::Random),
            bass: InstrumentParams::new("Bass", 1),
            drums: InstrumentParams::new("Drums", 10),
            piano: InstrumentParams::new("Piano", 2),
            sax: InstrumentParams::new("Sax", 3),
            steering: Arc::new(RwLock::new(Steering::default())),
            editor_state: crate::editor::default_state(),
        }
    }
}

impl InfiniteJazzParams {
    pub fn instrument(&self, instrument: Instrument) -> &InstrumentParams {
        match instrument {
            Instrument::Bass => &self.bass,
            Instrument::Drums => &self.drums,
            Instrument::Piano => &self.piano,
            Instrument::Sax => &self.sax,
        }
    }

    fn channel(&self, instrument: Instrument) -> u8 {
        (self.instrument(instrument).channel.value().clamp(1, 16) - 1) as u8
    }

    /// What the section worker needs; read on the worker thread (parameters are atomics).
    pub fn worker_settings(&self) -> WorkerSettings {
        let mut config = RuntimeConfig::default()
            .with_swing(f64::from(self.swing.value()))
            .with_bars_per_section(self.section_bars.value().max(1) as usize)
            .with_tempo(f64::from(self.tempo.value()));
        for instrument in Instrument::ALL {
            config = config
                .with_channel(instrument, self.channel(instrument))
                .with_velocity_scale(instrument, self.instrument(instrument).velocity.value());
        }
        WorkerSettings {
            config,
            depth: self.buffer_depth.value().clamp(1, MAX_DEPTH as i32) as usize,
            composer: ComposerSettings {
                seed: self.seed.value().max(0) as u64,
                form: self.form.value().form(),
                key: self.key.value().pitch_class(),
                progression: self.steering().changes_progression(),
            },
        }
    }

    /// The saved steering, kept inside what the controls allow.
    pub fn steering(&self) -> Steering {
        self.steering
            .read()
            .map(|s| s.clone().sanitized())
            .unwrap_or_default()
    }

    /// What the audio thread reads every block. No allocation.
    pub fn live_settings(&self) -> LiveSettings {
        let mut live = LiveSettings {
            swing: quantize_swing(f64::from(self.swing.value())),
            humanize_beats: f64::from(self.humanize_timing.value()) * MAX_HUMANIZE_BEATS,
            humanize_velocity: self.humanize_velocity.value(),
            humanize_seed: self.seed.value().max(0) as u64,
            ..LiveSettings::default()
        };
        for instrument in Instrument::ALL {
            let i = instrument.index();
            let p = self.instrument(instrument);
            live.muted[i] = p.mute.value();
            live.channels[i] = self.channel(instrument);
            live.velocity_scale[i] = p.velocity.value();
        }
        live
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_channels_and_settings() {
        let p = InfiniteJazzParams::default();
        let live = p.live_settings();
        assert_eq!(live.channels, [0, 9, 1, 2]);
        assert_eq!(live.humanize_beats, 0.0);
        let w = p.worker_settings();
        assert_eq!(w.depth, 4);
        assert_eq!(w.config.bars_per_section(), 2);
        assert_eq!(w.composer.form, None);
    }

    #[test]
    fn key_choices_map_to_pitch_classes() {
        assert_eq!(KeyChoice::C.pitch_class(), Some(0));
        assert_eq!(KeyChoice::Bb.pitch_class(), Some(10));
        assert_eq!(KeyChoice::B.pitch_class(), Some(11));
        assert_eq!(KeyChoice::Random.pitch_class(), None);
    }
}
