//! Infini Loop's parameters, its saved sources, and their translation into the clip worker's
//! and the loop player's settings.

use crate::link::MachineSettings;
use infini_loop_engine::looper::LooperSettings;
use infini_loop_engine::source::MusicGptRequest;
use infini_loop_engine::worker::{ClipSource, ClipWorkerConfig};
use nice_plug::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// What makes the loops sound.
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

/// How loops keep time with the host.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// Each loop stretched (pitch kept) to whole bars of the host's tempo, its repeats on the
    /// host's bar lines.
    #[id = "stretch"]
    #[name = "Stretch"]
    Stretch,
    /// Each loop at its own tempo.
    #[id = "off"]
    #[name = "Off"]
    Off,
}

/// Which MusicGen model MusicGPT runs: larger sounds better and takes longer.
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
    /// The name MusicGPT's `--model` takes.
    pub fn name(self) -> &'static str {
        match self {
            ModelSize::Small => "small",
            ModelSize::Medium => "medium",
            ModelSize::Large => "large",
        }
    }
}

/// Where clips come from.
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
    /// What MusicGPT is asked for, e.g. "warm lofi piano, vinyl crackle".
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

#[derive(Params)]
pub struct InfiniLoopParams {
    /// The output level, after the loudness matching.
    #[id = "gain"]
    pub gain: FloatParam,
    /// Crossfade between clips (and the fade-out on stop), in seconds.
    #[id = "xfade"]
    pub crossfade: FloatParam,
    /// Crossfade across each loop's seam, in milliseconds.
    #[id = "seam"]
    pub seam_ms: FloatParam,
    /// How many times a loop plays before the next clip takes over (when one is ready).
    #[id = "repeats"]
    pub repeats: IntParam,
    /// Play with the host's transport, while MIDI notes are held, or all the time.
    #[id = "trigger"]
    pub trigger: EnumParam<TriggerMode>,
    /// Loops in time with the host (stretched to its bars) or at their own tempo.
    #[id = "sync"]
    pub sync: EnumParam<SyncMode>,
    /// Every clip is brought to this loudness, so clips follow each other evenly.
    #[id = "loudness"]
    pub loudness: FloatParam,
    /// The MusicGen model MusicGPT runs.
    #[id = "model"]
    pub model: EnumParam<ModelSize>,
    /// How long each generated clip is.
    #[id = "seconds"]
    pub seconds: IntParam,
    /// How many clips are made ready ahead of the one playing.
    #[id = "prefetch"]
    pub prefetch: IntParam,
    /// Clips from MusicGPT or from a folder of audio files.
    #[id = "source"]
    pub source: EnumParam<SourceKind>,
    /// Prompt and folder: saved with the project.
    #[persist = "sources"]
    pub sources: Arc<RwLock<SourceSettings>>,
    /// The editor's size and whether it is open (this version of nice-plug-egui cannot save
    /// it); the audio thread feeds the spectrum only while it is open.
    pub editor_state: Arc<nice_plug_egui::EguiEditorState>,
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
            sync: EnumParam::new("Sync", SyncMode::Stretch),
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
            editor_state: crate::editor::default_state(),
        }
    }
}

impl InfiniLoopParams {
    /// The saved prompt and folder, kept within what the controls allow.
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
            to_bpm: None,
            // The audio thread says what to follow (the host's tempo, or none with Sync off).
            follow_host: true,
        }
    }

    /// The loop player's settings at `sample_rate`.
    pub fn looper_settings(&self, sample_rate: f32) -> LooperSettings {
        LooperSettings {
            seam: (self.seam_ms.value() / 1000.0 * sample_rate) as usize,
            transition: (self.crossfade.value() * sample_rate).max(1.0) as usize,
            repeats_before_switch: self.repeats.value().max(1) as u32,
            on_bar_lines: true,
            sync: self.sync.value() == SyncMode::Stretch,
        }
    }
}
