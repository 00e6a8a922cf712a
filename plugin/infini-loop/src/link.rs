//! What the editor shares with the rest of the plugin. Created with the plugin (the editor may
//! open before the host activates it); the clip worker's handles are filled in on activation.
//! The audio thread touches nothing here except through atomics, the audition queue and the
//! spectrum triple buffer.

use crate::params::InfiniLoopParams;
use crate::playback::SpectrumFrame;
use infini_loop_engine::looper::PreparedLoop;
use infini_loop_engine::user_config::{self, user_config_path, LoopUserConfig, UserConfigError};
use infini_loop_engine::worker::{ClipCommand, ClipStatus, ClipView, HostTempo};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use thiserror::Error;

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

/// Why an audition could not start.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum AuditionError {
    #[error("this clip's audio is no longer kept")]
    AudioGone,
    #[error("the loop {start}–{end} is not inside the clip")]
    OutsideClip { start: usize, end: usize },
    #[error("the player is not running yet")]
    NotRunning,
}

/// What the editor shares with the plugin.
pub struct LoopLink {
    /// Commands to the clip worker, once the host activated the plugin.
    pub commands: Mutex<Option<crossbeam_channel::Sender<ClipCommand>>>,
    /// What the clip worker reports, once it runs.
    pub status: Mutex<Option<Arc<Mutex<ClipStatus>>>>,
    /// Set by the editor; the audio thread moves to the next clip.
    pub switch: AtomicBool,
    /// Whether clips are being prepared (Start/Stop).
    pub active: AtomicBool,
    /// Where the current loop is, as a fraction of it (`f64` bits; 0 when nothing plays): the
    /// editor draws it on the clip as analysed, whatever tempo it is stretched to.
    pub loop_phase: AtomicU64,
    /// The tempo the clip worker stretches loops to, as the audio thread hears the host.
    pub host_tempo: Arc<HostTempo>,
    /// How many clips have started playing.
    pub clips_started: AtomicU64,
    /// The newest output, for the editor's spectrum.
    pub spectrum: Mutex<Option<triple_buffer::Output<SpectrumFrame>>>,
    /// The rate clips are prepared at (the host's).
    pub sample_rate: AtomicU64,
    /// Loops the editor wants heard next (auditioning a loop candidate).
    pub audition: Mutex<Option<rtrb::Producer<Box<PreparedLoop>>>>,
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
            loop_phase: AtomicU64::new(0),
            host_tempo: Arc::new(HostTempo::default()),
            clips_started: AtomicU64::new(0),
            spectrum: Mutex::new(None),
            sample_rate: AtomicU64::new(48_000),
            audition: Mutex::new(None),
        }
    }
}

impl LoopLink {
    /// This machine's settings as they are now.
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

    /// Uses the MusicGPT executable the user's config now names.
    pub fn use_musicgpt(&self, config: &LoopUserConfig) {
        if let Ok(mut m) = self.machine.lock() {
            m.musicgpt = config.executable();
        }
    }

    /// Sends a command to the clip worker, when it runs.
    pub fn send(&self, command: ClipCommand) {
        if let Ok(c) = self.commands.lock() {
            if let Some(tx) = c.as_ref() {
                let _ = tx.send(command);
            }
        }
    }

    /// Sends the current parameters and sources to the clip worker.
    pub fn reconfigure(&self, params: &InfiniLoopParams) {
        let rate = self.sample_rate.load(Ordering::Relaxed) as u32;
        let active = self.active.load(Ordering::Relaxed);
        self.send(ClipCommand::Configure(params.worker_config(
            rate,
            active,
            &self.machine(),
        )));
    }

    /// What the clip worker reports now (empty before it runs).
    pub fn status(&self) -> ClipStatus {
        self.status
            .lock()
            .ok()
            .and_then(|s| s.as_ref().and_then(|st| st.lock().ok().map(|s| s.clone())))
            .unwrap_or_default()
    }

    /// Plays `view`'s clip with the loop `start..end` next: it keeps looping there until it
    /// moves on. The clip's audio is shared, not copied.
    pub fn audition(&self, view: &ClipView, start: usize, end: usize) -> Result<(), AuditionError> {
        let audio = view.audio.clone().ok_or(AuditionError::AudioGone)?;
        if start >= end || end > audio.frames() {
            return Err(AuditionError::OutsideClip { start, end });
        }
        let clip = PreparedLoop {
            clip: audio,
            start,
            end,
            label: format!("{} (candidate)", view.label),
            // Heard at the clip's own tempo, as it was found; no rendition replaces it.
            id: 0,
            grid: None,
        };
        self.audition
            .lock()
            .ok()
            .and_then(|mut a| a.as_mut().map(|tx| tx.push(Box::new(clip)).is_ok()))
            .filter(|sent| *sent)
            .map(|_| ())
            .ok_or(AuditionError::NotRunning)
    }
}

/// Stores `typed` (empty: MusicGPT on PATH) as the MusicGPT executable in the user's own
/// config file, never the project, and returns the config as saved. File I/O: call it off
/// the GUI thread.
pub fn save_musicgpt_path(typed: &str) -> Result<LoopUserConfig, UserConfigError> {
    let path = user_config_path().ok_or(UserConfigError::NoHome)?;
    let mut config = user_config::load(&path)?;
    let typed = typed.trim();
    config.musicgpt = (!typed.is_empty()).then(|| PathBuf::from(typed));
    user_config::save(&path, &config)?;
    Ok(config)
}
