//! Infini Loop: a sampler that turns a text prompt (through MusicGPT) or a folder of clips into
//! an endless stream of seamless loops, in time with the host.

use infini_loop_engine::looper::{looper, BeatClock, Looper, LooperSettings, LooperState};
use infini_loop_engine::source::MusicGptRequest;
use infini_loop_engine::user_config::{self, user_config_path, LoopUserConfig};
use infini_loop_engine::worker::{
    ClipCommand, ClipSource, ClipStatus, ClipWorker, ClipWorkerConfig,
};
use nice_plug::prelude::*;
use serde::{Deserialize, Serialize};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerMode {
    #[id = "transport"]
    #[name = "Follow host"]
    Transport,
    #[id = "gate"]
    #[name = "MIDI gate"]
    MidiGate,
    #[id = "always"]
    #[name = "Always on"]
    AlwaysOn,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelSize {
    #[id = "small"]
    #[name = "Small"]
    Small,
    #[id = "medium"]
    #[name = "Medium"]
    Medium,
    #[id = "large"]
    #[name = "Large"]
    Large,
}

impl ModelSize {
    pub fn name(self) -> &'static str {
        match self {
            ModelSize::Small => "small",
            ModelSize::Medium => "medium",
            ModelSize::Large => "large",
        }
    }
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    #[id = "musicgpt"]
    #[name = "MusicGPT"]
    MusicGpt,
    #[id = "folder"]
    #[name = "Folder"]
    Folder,
}

/// Prompt and sources: saved with the project. Which program runs is not among them: a
/// project is data from whoever shared it, so the MusicGPT executable comes from this machine's
/// own config ([`MachineSettings`]); an old project's `musicgpt` entry is ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SourceSettings {
    pub prompt: String,
    /// A folder of audio files, or a single file.
    pub folder: String,
}

impl SourceSettings {
    fn sanitized(mut self) -> Self {
        self.prompt = self.prompt.chars().take(1000).collect();
        self.folder = self.folder.chars().take(4096).collect();
        self
    }
}

/// What this machine allows: the executable from the user's config, and whether MusicGPT may
/// run. It may once the user pressed Generate in this session, or when the user's config says
/// a project may start generating on load; never because a project says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineSettings {
    pub musicgpt: PathBuf,
    pub generation_allowed: bool,
}

impl MachineSettings {
    pub fn from_user_config(config: &LoopUserConfig) -> Self {
        MachineSettings {
            musicgpt: config.executable(),
            generation_allowed: config.generate_on_load,
        }
    }

    /// The user's config file's settings; a missing or damaged file means the defaults
    /// (MusicGPT on PATH, nothing runs before Generate).
    pub fn load() -> (Self, Option<String>) {
        let loaded = user_config_path()
            .map(|path| user_config::load(&path))
            .unwrap_or(Ok(LoopUserConfig::default()));
        match loaded {
            Ok(config) => (Self::from_user_config(&config), None),
            Err(e) => (
                Self::from_user_config(&LoopUserConfig::default()),
                Some(e.to_string()),
            ),
        }
    }
}

#[derive(Params)]
pub struct InfiniLoopParams {
    #[id = "gain"]
    pub gain: FloatParam,
    /// Crossfade between clips (and the fade-out on stop), in seconds.
    #[id = "xfade"]
    pub crossfade: FloatParam,
    /// Crossfade across each loop's seam, in milliseconds.
    #[id = "seam"]
    pub seam_ms: FloatParam,
    #[id = "repeats"]
    pub repeats: IntParam,
    #[id = "trigger"]
    pub trigger: EnumParam<TriggerMode>,
    #[id = "loudness"]
    pub loudness: FloatParam,
    #[id = "model"]
    pub model: EnumParam<ModelSize>,
    #[id = "seconds"]
    pub seconds: IntParam,
    #[id = "prefetch"]
    pub prefetch: IntParam,
    #[id = "source"]
    pub source: EnumParam<SourceKind>,
    #[persist = "sources"]
    pub sources: Arc<RwLock<SourceSettings>>,
}

impl Default for InfiniLoopParams {
    fn default() -> Self {
        InfiniLoopParams {
            gain: FloatParam::new(
                "Gain",
                util::db_to_gain(0.0),
                FloatRange::Skewed {
                    min: util::db_to_gain(-60.0),
                    max: util::db_to_gain(6.0),
                    factor: FloatRange::gain_skew_factor(-60.0, 6.0),
                },
            )
            .with_smoother(SmoothingStyle::Logarithmic(30.0))
            .with_unit(" dB")
            .with_value_to_string(formatters::v2s_f32_gain_to_db(1))
            .with_string_to_value(formatters::s2v_f32_gain_to_db()),
            crossfade: FloatParam::new(
                "Crossfade",
                2.0,
                FloatRange::Skewed {
                    min: 0.01,
                    max: 8.0,
                    factor: FloatRange::skew_factor(-1.5),
                },
            )
            .with_unit(" s")
            .with_value_to_string(formatters::v2s_f32_rounded(2)),
            seam_ms: FloatParam::new(
                "Seam Crossfade",
                10.0,
                FloatRange::Linear {
                    min: 1.0,
                    max: 200.0,
                },
            )
            .with_unit(" ms")
            .with_value_to_string(formatters::v2s_f32_rounded(0)),
            repeats: IntParam::new("Repeats", 4, IntRange::Linear { min: 1, max: 64 }),
            trigger: EnumParam::new("Trigger", TriggerMode::Transport),
            loudness: FloatParam::new(
                "Loudness",
                -16.0,
                FloatRange::Linear {
                    min: -30.0,
                    max: -6.0,
                },
            )
            .with_unit(" LUFS")
            .with_value_to_string(formatters::v2s_f32_rounded(1)),
            model: EnumParam::new("Model", ModelSize::Medium),
            seconds: IntParam::new("Seconds", 15, IntRange::Linear { min: 5, max: 30 }),
            prefetch: IntParam::new("Clips Ahead", 2, IntRange::Linear { min: 1, max: 4 }),
            source: EnumParam::new("Source", SourceKind::MusicGpt),
            sources: Arc::new(RwLock::new(SourceSettings::default())),
        }
    }
}

impl InfiniLoopParams {
    pub fn source_settings(&self) -> SourceSettings {
        self.sources
            .read()
            .map(|s| s.clone().sanitized())
            .unwrap_or_default()
    }

    /// The worker's configuration for playback at `sample_rate`.
    pub fn worker_config(
        &self,
        sample_rate: u32,
        active: bool,
        machine: &MachineSettings,
    ) -> ClipWorkerConfig {
        let s = self.source_settings();
        let source = match self.source.value() {
            SourceKind::MusicGpt if !s.prompt.trim().is_empty() && machine.generation_allowed => {
                ClipSource::MusicGpt(MusicGptRequest {
                    executable: machine.musicgpt.clone(),
                    prompt: s.prompt.clone(),
                    model: self.model.value().name().to_string(),
                    seconds: self.seconds.value().clamp(5, 30) as u32,
                    timeout: Duration::from_secs(900),
                })
            }
            SourceKind::Folder if !s.folder.trim().is_empty() => {
                let path = PathBuf::from(s.folder.trim());
                if path.is_file() {
                    ClipSource::Files(vec![path])
                } else {
                    ClipSource::Folder(path)
                }
            }
            _ => ClipSource::None,
        };
        ClipWorkerConfig {
            source,
            active,
            sample_rate,
            loudness_target: f64::from(self.loudness.value()),
            prefetch: self.prefetch.value().clamp(1, 4) as usize,
            bpm: None,
        }
    }

    fn looper_settings(&self, sample_rate: f32) -> LooperSettings {
        LooperSettings {
            seam: (self.seam_ms.value() / 1000.0 * sample_rate) as usize,
            transition: (self.crossfade.value() * sample_rate).max(1.0) as usize,
            repeats_before_switch: self.repeats.value().max(1) as u32,
            on_bar_lines: true,
        }
    }
}

/// Samples of the output the editor's spectrum reads.
pub const SPECTRUM_SAMPLES: usize = 2048;

/// The latest output, for the editor's live spectrum (fixed size: publishing allocates nothing).
#[derive(Clone)]
pub struct SpectrumFrame {
    pub samples: [f32; SPECTRUM_SAMPLES],
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

/// What the editor shares with the plugin (never touched by the audio thread except through
/// atomics and the spectrum triple buffer).
pub struct LoopLink {
    pub commands: Mutex<Option<crossbeam_channel::Sender<ClipCommand>>>,
    pub status: Mutex<Option<Arc<Mutex<ClipStatus>>>>,
    /// Set by the editor; the audio thread moves to the next clip.
    pub switch: AtomicBool,
    /// Whether clips are being prepared (Start/Stop).
    pub active: AtomicBool,
    /// Play position in the current clip (frames) and how many clips have started.
    pub position: AtomicU64,
    pub clips_started: AtomicU64,
    pub spectrum: Mutex<Option<triple_buffer::Output<SpectrumFrame>>>,
    pub sample_rate: AtomicU64,
    /// Loops the editor wants heard next (auditioning a loop candidate).
    pub audition: Mutex<Option<rtrb::Producer<Box<infini_loop_engine::looper::PreparedLoop>>>>,
    /// This machine's executable and permission to run it.
    pub machine: Mutex<MachineSettings>,
    /// Why the user's config could not be read, for the status line.
    pub config_problem: Option<String>,
}

impl Default for LoopLink {
    fn default() -> Self {
        let (machine, config_problem) = MachineSettings::load();
        LoopLink {
            machine: Mutex::new(machine),
            config_problem,
            commands: Mutex::new(None),
            status: Mutex::new(None),
            switch: AtomicBool::new(false),
            active: AtomicBool::new(true),
            position: AtomicU64::new(0),
            clips_started: AtomicU64::new(0),
            spectrum: Mutex::new(None),
            sample_rate: AtomicU64::new(48_000),
            audition: Mutex::new(None),
        }
    }
}

impl LoopLink {
    pub fn machine(&self) -> MachineSettings {
        self.machine
            .lock()
            .map(|m| m.clone())
            .unwrap_or_else(|_| MachineSettings::from_user_config(&LoopUserConfig::default()))
    }

    /// The user pressed Generate: MusicGPT may run from now on.
    pub fn allow_generation(&self) {
        if let Ok(mut m) = self.machine.lock() {
            m.generation_allowed = true;
        }
    }

    pub fn send(&self, command: ClipCommand) {
        if let Ok(c) = self.commands.lock() {
            if let Some(tx) = c.as_ref() {
                let _ = tx.send(command);
            }
        }
    }
}

pub struct InfiniLoop {
    pub params: Arc<InfiniLoopParams>,
    pub link: Arc<LoopLink>,
    looper: Option<Looper>,
    worker: Option<ClipWorker>,
    sample_rate: f32,
    /// Notes held, for the MIDI gate.
    held: u32,
    /// The output's fade in and out (0..1), so starting and stopping never click.
    level: f32,
    spectrum: Option<triple_buffer::Input<SpectrumFrame>>,
    /// The last output samples, oldest at `spectrum_pos`.
    ring: Box<[f32; SPECTRUM_SAMPLES]>,
    spectrum_pos: usize,
}

impl Default for InfiniLoop {
    fn default() -> Self {
        InfiniLoop {
            params: Arc::new(InfiniLoopParams::default()),
            link: Arc::new(LoopLink::default()),
            looper: None,
            worker: None,
            sample_rate: 48_000.0,
            held: 0,
            level: 0.0,
            spectrum: None,
            ring: Box::new([0.0; SPECTRUM_SAMPLES]),
            spectrum_pos: 0,
        }
    }
}

impl InfiniLoop {
    /// Sends the current parameters and sources to the clip worker.
    pub fn reconfigure(params: &InfiniLoopParams, link: &LoopLink) {
        let rate = link.sample_rate.load(Ordering::Relaxed) as u32;
        let active = link.active.load(Ordering::Relaxed);
        let machine = link.machine();
        link.send(ClipCommand::Configure(
            params.worker_config(rate, active, &machine),
        ));
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

    type Editor = nice_plug_egui::EguiEditor<crate::editor::LoopEditor>;
    type SysExMessage = ();
    type BackgroundTask = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        nice_plug_egui::create_egui_editor(
            crate::editor::default_state(),
            nice_plug_egui::RepaintNotifier::new(),
            nice_plug_egui::EguiNiceSettings::new().with_tile("Infini Loop"),
            crate::editor::LoopEditor::new(self.params.clone(), self.link.clone()),
        )
    }

    fn activate(
        &mut self,
        _audio_io_layout: &AudioIOLayout,
        buffer_config: &BufferConfig,
        _context: &mut impl ActivateContext<Self>,
    ) -> bool {
        let rate = buffer_config.sample_rate;
        // Clips are prepared for one sample rate: a new rate starts over (off the audio thread).
        if self.looper.is_some() && (rate - self.sample_rate).abs() < 0.5 {
            return true;
        }
        self.worker = None;
        self.sample_rate = rate;
        self.link.sample_rate.store(rate as u64, Ordering::Relaxed);
        let (looper, queue, returned) = looper(self.params.looper_settings(rate), 4);
        let (audition_tx, audition_rx) = rtrb::RingBuffer::new(2);
        let looper = looper.with_audition(audition_rx);
        if let Ok(mut a) = self.link.audition.lock() {
            *a = Some(audition_tx);
        }
        let active = self.link.active.load(Ordering::Relaxed);
        match ClipWorker::spawn(
            queue,
            returned,
            self.params
                .worker_config(rate as u32, active, &self.link.machine()),
        ) {
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
        self.looper = Some(looper);
        let (input, output) = triple_buffer::triple_buffer(&SpectrumFrame::default());
        self.spectrum = Some(input);
        if let Ok(mut s) = self.link.spectrum.lock() {
            *s = Some(output);
        }
        true
    }

    fn reset(&mut self) {
        self.held = 0;
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        let samples = buffer.samples();
        let trigger = self.params.trigger.value();
        while let Some(event) = context.next_event() {
            match event {
                NoteEvent::NoteOn { .. } => self.held = self.held.saturating_add(1),
                NoteEvent::NoteOff { .. } => self.held = self.held.saturating_sub(1),
                _ => {}
            }
        }
        let transport = context.transport();
        let playing = match trigger {
            TriggerMode::Transport => transport.playing,
            TriggerMode::MidiGate => self.held > 0,
            TriggerMode::AlwaysOn => true,
        };
        let clock = match (transport.playing, transport.pos_beats(), transport.tempo) {
            (true, Some(beat), Some(tempo)) if tempo > 0.0 => Some(BeatClock {
                start_beat: beat,
                beats_per_sample: tempo / 60.0 / f64::from(transport.sample_rate),
            }),
            _ => None,
        };
        let Some(looper) = self.looper.as_mut() else {
            for channel in buffer.as_slice() {
                channel.fill(0.0);
            }
            return ProcessStatus::Normal;
        };
        looper.set_settings(self.params.looper_settings(self.sample_rate));
        if self.link.switch.swap(false, Ordering::Relaxed) {
            looper.request_switch();
        }
        // Fades of about 20 ms in and out of the trigger.
        let step = 1.0 / (0.02 * self.sample_rate).max(1.0);
        let target = if playing { 1.0 } else { 0.0 };
        let channels = buffer.as_slice();
        if self.level <= 0.0 && target <= 0.0 {
            for channel in channels.iter_mut() {
                channel.fill(0.0);
            }
        } else {
            looper.render(channels, clock);
            for i in 0..samples {
                self.level = if target > self.level {
                    (self.level + step).min(1.0)
                } else {
                    (self.level - step).max(0.0)
                };
                let gain = self.params.gain.smoothed.next() * self.level;
                for channel in channels.iter_mut() {
                    channel[i] *= gain;
                }
            }
        }
        let position = looper.position().map_or(0, |(_, pos)| pos as u64);
        self.link.position.store(position, Ordering::Relaxed);
        self.link
            .clips_started
            .store(looper.clips_started(), Ordering::Relaxed);
        if looper.state() == LooperState::Idle {
            self.link.position.store(0, Ordering::Relaxed);
        }
        for i in 0..samples {
            self.ring[self.spectrum_pos] = channels.iter().map(|c| c[i]).sum::<f32>() * 0.5;
            self.spectrum_pos = (self.spectrum_pos + 1) % SPECTRUM_SAMPLES;
        }
        if let Some(spectrum) = self.spectrum.as_mut() {
            let frame = spectrum.input_buffer_mut();
            frame.sample_rate = self.sample_rate;
            let split = SPECTRUM_SAMPLES - self.spectrum_pos;
            frame.samples[..split].copy_from_slice(&self.ring[self.spectrum_pos..]);
            frame.samples[split..].copy_from_slice(&self.ring[..self.spectrum_pos]);
            spectrum.publish();
        }
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
