//! The plugin's parameters, and their translation into engine settings.

use crate::link::Steering;
use infinite_jazz_engine::composer::harmony::Form;
use infinite_jazz_engine::composer::ComposerSettings;
use infinite_jazz_engine::feel::Feel;
use infinite_jazz_engine::listen::Listen;
use infinite_jazz_engine::meter::{BandMeter, Meter};
use infinite_jazz_engine::section::Instrument;
use infinite_jazz_engine::sequencer::{LiveSettings, MAX_HUMANIZE_BEATS};
use infinite_jazz_engine::timing::{
    quantize_swing, RuntimeConfig, DEFAULT_SWING, MAX_BARS_PER_SECTION,
};
use infinite_jazz_engine::worker::{SettingsChanged, SettingsFeed, WorkerSettings, MAX_DEPTH};
use nice_plug::params::persist::PersistentField;
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
    #[id = "bossa"]
    #[name = "Bossa AABA"]
    Bossa,
    #[id = "waltz"]
    #[name = "Jazz waltz"]
    Waltz,
    #[id = "modal"]
    #[name = "Modal AABA"]
    Modal,
    #[id = "ballad"]
    #[name = "Ballad AABA"]
    Ballad,
}

impl FormChoice {
    fn form(self) -> Option<Form> {
        match self {
            FormChoice::Random => None,
            FormChoice::TwoFiveOne => Some(Form::TwoFiveOne),
            FormChoice::Blues => Some(Form::Blues),
            FormChoice::RhythmChanges => Some(Form::RhythmChanges),
            FormChoice::MinorCycle => Some(Form::MinorCycle),
            FormChoice::Bossa => Some(Form::Bossa),
            FormChoice::Waltz => Some(Form::Waltz),
            FormChoice::Modal => Some(Form::Modal),
            FormChoice::Ballad => Some(Form::Ballad),
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

/// The band's style.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeelChoice {
    #[id = "swing"]
    #[name = "Swing"]
    Swing,
    #[id = "ballad"]
    #[name = "Ballad"]
    Ballad,
    #[id = "bebop"]
    #[name = "Bebop"]
    Bebop,
    #[id = "bossa"]
    #[name = "Bossa nova"]
    Bossa,
    #[id = "waltz"]
    #[name = "Jazz waltz"]
    Waltz,
    #[id = "modal"]
    #[name = "Modal"]
    Modal,
}

impl FeelChoice {
    /// The feel chosen: the choices are listed in [`Feel::ALL`]'s order.
    pub fn feel(self) -> Feel {
        Feel::ALL[self.to_index().min(Feel::ALL.len() - 1)]
    }
}

/// How the band listens to the player's notes (the plugin's note input).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenChoice {
    #[id = "off"]
    #[name = "Off"]
    Off,
    #[id = "accompany"]
    #[name = "Accompany"]
    Accompany,
    #[id = "trade"]
    #[name = "Trade"]
    Trade,
    #[id = "chords"]
    #[name = "Follow chords"]
    FollowChords,
}

/// Bars per turn when trading.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeLength {
    #[id = "2"]
    #[name = "Twos"]
    Two,
    #[id = "4"]
    #[name = "Fours"]
    Four,
    #[id = "8"]
    #[name = "Eights"]
    Eight,
}

impl TradeLength {
    pub fn bars(self) -> usize {
        match self {
            TradeLength::Two => 2,
            TradeLength::Four => 4,
            TradeLength::Eight => 8,
        }
    }
}

/// The band's own meter, for hosts that report no time signature: the feel's (3/4 for a
/// waltz, 4/4 otherwise) or a chosen one.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeterChoice {
    #[id = "feel"]
    #[name = "Feel's"]
    FromFeel,
    #[id = "4-4"]
    #[name = "4/4"]
    FourFour,
    #[id = "3-4"]
    #[name = "3/4"]
    ThreeFour,
    #[id = "5-4"]
    #[name = "5/4"]
    FiveFour,
    #[id = "6-8"]
    #[name = "6/8"]
    SixEight,
    #[id = "7-4"]
    #[name = "7/4"]
    SevenFour,
    #[id = "7-8"]
    #[name = "7/8"]
    SevenEight,
    #[id = "12-8"]
    #[name = "12/8"]
    TwelveEight,
    #[id = "2-2"]
    #[name = "2/2"]
    TwoTwo,
}

impl MeterChoice {
    /// The time signature chosen, `feel`'s when the choice is the feel's.
    pub fn meter(self, feel: Feel) -> Meter {
        let (n, d) = match self {
            MeterChoice::FromFeel => return feel.default_meter(),
            MeterChoice::FourFour => (4, 4),
            MeterChoice::ThreeFour => (3, 4),
            MeterChoice::FiveFour => (5, 4),
            MeterChoice::SixEight => (6, 8),
            MeterChoice::SevenFour => (7, 4),
            MeterChoice::SevenEight => (7, 8),
            MeterChoice::TwelveEight => (12, 8),
            MeterChoice::TwoTwo => (2, 2),
        };
        Meter::new(n, d).unwrap_or(Meter::COMMON)
    }
}

/// One player's mute, channel and velocity.
#[derive(Params)]
pub struct InstrumentParams {
    /// Silences this player at once; the others play on.
    #[id = "mute"]
    pub mute: BoolParam,
    /// The MIDI channel this player's notes go out on (drums default to 10).
    #[id = "chan"]
    pub channel: IntParam,
    /// How hard this player plays, from silent (0 %) to twice as loud (200 %).
    #[id = "vel"]
    pub velocity: FloatParam,
}

impl InstrumentParams {
    fn new(name: &str, default_channel: i32, changed: &Arc<SettingsChanged>) -> Self {
        InstrumentParams {
            mute: BoolParam::new(format!("{name} Mute"), false),
            channel: IntParam::new(
                format!("{name} Channel"),
                default_channel,
                IntRange::Linear { min: 1, max: 16 },
            )
            .with_callback(signal_int(changed)),
            velocity: FloatParam::new(
                format!("{name} Velocity"),
                1.0,
                FloatRange::Linear { min: 0.0, max: 2.0 },
            )
            .with_unit(" %")
            .with_value_to_string(formatters::v2s_f32_percentage(0))
            .with_string_to_value(formatters::s2v_f32_percentage())
            .with_callback(signal_float(changed)),
        }
    }
}

/// The section worker's settings changed (parameter callbacks may run on the audio thread:
/// they only raise a count).
fn signal_float(changed: &Arc<SettingsChanged>) -> Arc<dyn Fn(f32) + Send + Sync> {
    let changed = changed.clone();
    Arc::new(move |_| changed.notify())
}

fn signal_int(changed: &Arc<SettingsChanged>) -> Arc<dyn Fn(i32) + Send + Sync> {
    let changed = changed.clone();
    Arc::new(move |_| changed.notify())
}

fn signal_enum<T>(changed: &Arc<SettingsChanged>) -> Arc<dyn Fn(T) + Send + Sync> {
    let changed = changed.clone();
    Arc::new(move |_| changed.notify())
}

/// The project's steering, saved with it; setting it (the editor, a state load) tells the
/// section worker to read its settings again, since own changes shape what the band plays.
pub struct SteeringField {
    value: RwLock<Steering>,
    changed: Arc<SettingsChanged>,
}

impl SteeringField {
    fn new(changed: Arc<SettingsChanged>) -> Self {
        SteeringField {
            value: RwLock::new(Steering::default()),
            changed,
        }
    }

    /// The saved steering, kept inside what the controls allow.
    pub fn get(&self) -> Steering {
        self.value
            .read()
            .map(|s| s.clone().sanitized())
            .unwrap_or_default()
    }

    /// Replaces the steering (an edit, a loaded project) and signals the worker.
    pub fn set(&self, steering: Steering) {
        if let Ok(mut value) = self.value.write() {
            *value = steering;
        }
        self.changed.notify();
    }
}

impl<'a> PersistentField<'a, Steering> for SteeringField {
    fn set(&self, new_value: Steering) {
        SteeringField::set(self, new_value);
    }

    fn map<F, R>(&self, f: F) -> R
    where
        F: Fn(&Steering) -> R,
    {
        match self.value.read() {
            Ok(value) => f(&value),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }
}

#[derive(Params)]
pub struct InfiniteJazzParams {
    /// How long the first 8th of each beat lasts: 0.50 plays straight 8ths, 0.67 a triplet
    /// swing, 0.75 a dotted-8th lilt.
    #[id = "swing"]
    pub swing: FloatParam,
    /// How many bars the band composes at a time; changes take effect from the next section.
    #[id = "bars"]
    pub section_bars: IntParam,
    /// How many sections wait composed ahead of the music: more rides out a slow model.
    #[id = "depth"]
    pub buffer_depth: IntParam,
    /// The band's own tempo, used when the host provides no transport.
    #[id = "tempo"]
    pub tempo: FloatParam,
    /// How far notes lean off the grid, as a human player's would (0 % is exact).
    #[id = "hum_t"]
    pub humanize_timing: FloatParam,
    /// How much each note's loudness varies, as a human player's would.
    #[id = "hum_v"]
    pub humanize_velocity: FloatParam,
    /// Picks the built-in composer's ideas: the same seed plays the same tune.
    #[id = "seed"]
    pub seed: IntParam,
    /// The tune's form (blues, rhythm changes, ii-V-I, minor cycle) or a random one.
    #[id = "form"]
    pub form: EnumParam<FormChoice>,
    /// The key the tune is in, or a random one.
    #[id = "key"]
    pub key: EnumParam<KeyChoice>,
    /// The band's own meter, used when the host reports no time signature.
    #[id = "meter"]
    pub meter: EnumParam<MeterChoice>,
    /// The style: swing, ballad, bebop, bossa nova, jazz waltz or modal; heard from the next
    /// section on.
    #[id = "feel"]
    pub feel: EnumParam<FeelChoice>,
    /// The channel the player's notes (the note input) are passed on to.
    #[id = "player_chan"]
    pub player_channel: IntParam,
    /// How the band listens to the player: not at all, backing a soloist, trading turns with
    /// the sax, or taking the chords the player holds.
    #[id = "listen"]
    pub listen: EnumParam<ListenChoice>,
    /// Bars per turn when trading.
    #[id = "trade_len"]
    pub trade_length: EnumParam<TradeLength>,
    /// The bass player: mute, channel and velocity.
    #[nested(id_prefix = "bass", group = "Bass")]
    pub bass: InstrumentParams,
    /// The drummer: mute, channel and velocity.
    #[nested(id_prefix = "drums", group = "Drums")]
    pub drums: InstrumentParams,
    /// The pianist: mute, channel and velocity.
    #[nested(id_prefix = "piano", group = "Piano")]
    pub piano: InstrumentParams,
    /// The saxophonist: mute, channel and velocity.
    #[nested(id_prefix = "sax", group = "Sax")]
    pub sax: InstrumentParams,
    /// Vibe, prompt style, own changes and sampling: saved with the project.
    #[persist = "steering"]
    pub steering: SteeringField,
    /// The editor's size (this version of nice-plug-egui cannot save it).
    pub editor_state: Arc<nice_plug_egui::EguiEditorState>,
    /// Raised whenever something the section worker reads changes.
    pub settings_changed: Arc<SettingsChanged>,
    /// The meter in force, as the audio thread last saw it.
    pub band_meter: BandMeter,
}

impl Default for InfiniteJazzParams {
    fn default() -> Self {
        let changed = Arc::new(SettingsChanged::default());
        InfiniteJazzParams {
            swing: FloatParam::new(
                "Swing",
                DEFAULT_SWING as f32,
                FloatRange::Linear {
                    min: 0.5,
                    max: 0.75,
                },
            )
            .with_value_to_string(formatters::v2s_f32_rounded(2))
            .with_callback(signal_float(&changed)),
            section_bars: IntParam::new(
                "Section Bars",
                2,
                IntRange::Linear {
                    min: 1,
                    max: MAX_BARS_PER_SECTION.min(8) as i32,
                },
            )
            .with_callback(signal_int(&changed)),
            buffer_depth: IntParam::new(
                "Sections Ahead",
                4,
                IntRange::Linear {
                    min: 1,
                    max: MAX_DEPTH as i32,
                },
            )
            .with_callback(signal_int(&changed)),
            tempo: FloatParam::new(
                "Own Tempo",
                120.0,
                FloatRange::Linear {
                    min: 40.0,
                    max: 300.0,
                },
            )
            .with_unit(" BPM")
            .with_value_to_string(formatters::v2s_f32_rounded(1))
            .with_callback(signal_float(&changed)),
            humanize_timing: amount_param("Humanize Timing"),
            humanize_velocity: amount_param("Humanize Velocity"),
            seed: IntParam::new("Seed", 1, IntRange::Linear { min: 0, max: 9999 })
                .with_callback(signal_int(&changed)),
            form: EnumParam::new("Form", FormChoice::Random).with_callback(signal_enum(&changed)),
            key: EnumParam::new("Key", KeyChoice::Random).with_callback(signal_enum(&changed)),
            meter: EnumParam::new("Own Meter", MeterChoice::FromFeel)
                .with_callback(signal_enum(&changed)),
            feel: EnumParam::new("Feel", FeelChoice::Swing).with_callback(signal_enum(&changed)),
            player_channel: IntParam::new(
                "Player Channel",
                4,
                IntRange::Linear { min: 1, max: 16 },
            ),
            listen: EnumParam::new("Listen", ListenChoice::Off)
                .with_callback(signal_enum(&changed)),
            trade_length: EnumParam::new("Trade Length", TradeLength::Four)
                .with_callback(signal_enum(&changed)),
            bass: InstrumentParams::new("Bass", 1, &changed),
            drums: InstrumentParams::new("Drums", 10, &changed),
            piano: InstrumentParams::new("Piano", 2, &changed),
            sax: InstrumentParams::new("Sax", 3, &changed),
            steering: SteeringField::new(changed.clone()),
            editor_state: crate::editor::default_state(),
            settings_changed: changed,
            band_meter: BandMeter::default(),
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
            .with_feel(self.feel.value().feel())
            .with_meter(self.meter_in_force())
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
            listen: self.listen_mode(),
        }
    }

    /// The listening mode the parameters choose.
    pub fn listen_mode(&self) -> Listen {
        match self.listen.value() {
            ListenChoice::Off => Listen::Off,
            ListenChoice::Accompany => Listen::Accompany,
            ListenChoice::Trade => Listen::Trade {
                bars: self.trade_length.value().bars(),
            },
            ListenChoice::FollowChords => Listen::FollowChords,
        }
    }

    /// The meter the band plays in: the host's when the audio thread has seen one, else the
    /// own meter.
    pub fn meter_in_force(&self) -> Meter {
        self.band_meter.get().unwrap_or_else(|| self.own_meter())
    }

    /// The meter chosen for hosts without a time signature.
    pub fn own_meter(&self) -> Meter {
        self.meter.value().meter(self.feel.value().feel())
    }

    /// Records the meter the audio thread plays in, and tells the worker when it changed.
    /// Two atomics: callable on the audio thread.
    pub fn follow_meter(&self, meter: Meter) {
        self.band_meter.follow(meter, &self.settings_changed);
    }

    /// The saved steering, kept inside what the controls allow.
    pub fn steering(&self) -> Steering {
        self.steering.get()
    }

    /// Where the section worker reads these parameters: again after each change.
    pub fn settings_feed(self: &Arc<Self>) -> SettingsFeed {
        let params = self.clone();
        SettingsFeed::new(self.settings_changed.clone(), move || {
            params.worker_settings()
        })
    }

    /// What the audio thread reads every block. No allocation.
    pub fn live_settings(&self) -> LiveSettings {
        let mut live = LiveSettings {
            // A bossa is straight whatever the swing control says.
            swing: (self.feel.value().feel()).swing(quantize_swing(f64::from(self.swing.value()))),
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

/// An amount from none to all, shown in percent; it starts at none.
fn amount_param(name: &str) -> FloatParam {
    FloatParam::new(name, 0.0, FloatRange::Linear { min: 0.0, max: 1.0 })
        .with_unit(" %")
        .with_value_to_string(formatters::v2s_f32_percentage(0))
        .with_string_to_value(formatters::s2v_f32_percentage())
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
    fn steering_edits_and_loads_signal_the_worker() {
        let p = InfiniteJazzParams::default();
        let before = p.settings_changed.generation();
        assert_eq!(p.worker_settings().composer.progression, None);
        p.steering.set(Steering {
            changes: "Dm7 G7 | Cmaj7 |".into(),
            ..Steering::default()
        });
        assert!(p.settings_changed.generation() > before);
        assert!(p.worker_settings().composer.progression.is_some());
        assert_eq!(
            p.steering.map(|s| s.changes.clone()),
            "Dm7 G7 | Cmaj7 |",
            "what is saved is what was set"
        );
    }

    #[test]
    fn feel_choices_are_the_engines_feels_in_order() {
        assert_eq!(FeelChoice::variants().len(), Feel::ALL.len());
        for (index, feel) in Feel::ALL.into_iter().enumerate() {
            let choice = FeelChoice::from_index(index);
            assert_eq!(choice.feel(), feel);
            let id = FeelChoice::ids().expect("ids")[index];
            assert_eq!(id, feel.name());
        }
        assert_eq!(MeterChoice::FromFeel.meter(Feel::Waltz).to_string(), "3/4");
        assert_eq!(MeterChoice::SixEight.meter(Feel::Waltz).to_string(), "6/8");
    }

    #[test]
    fn key_choices_map_to_pitch_classes() {
        assert_eq!(KeyChoice::C.pitch_class(), Some(0));
        assert_eq!(KeyChoice::Bb.pitch_class(), Some(10));
        assert_eq!(KeyChoice::B.pitch_class(), Some(11));
        assert_eq!(KeyChoice::Random.pitch_class(), None);
    }
}
