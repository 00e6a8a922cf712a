//! What the editor shares with the rest of the plugin. Created with the plugin (the editor may
//! open before the host activates it); the worker's handles are filled in on activation. The
//! audio thread never touches anything here except through atomics and the piano-roll triple
//! buffer.

use crossbeam_channel::Sender;
use infinite_jazz_engine::sequencer::roll::RollSnapshot;
use infinite_jazz_engine::sequencer::SequencerStats;
use infinite_jazz_engine::worker::{WorkerCommand, WorkerStatus};
use infinite_jazz_llm::source::SharedStats;
use serde::{Deserialize, Serialize};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

/// Steering that belongs to the project (saved with the plugin state). Never a key: keys live
/// in the user's config file only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Steering {
    /// The listener's words for the model, e.g. "atmospheric, sparse".
    pub vibe: String,
    /// Prompt preset name.
    pub style: String,
    /// The user's own changes, e.g. "Dm7 G7 | Cmaj7 |"; empty for the form/key parameters.
    pub changes: String,
    pub temperature: f32,
    pub top_p: f32,
    pub context_steps: usize,
}

impl Default for Steering {
    fn default() -> Self {
        Steering {
            vibe: String::new(),
            style: "default".into(),
            changes: String::new(),
            temperature: infinite_jazz_llm::config::DEFAULT_TEMPERATURE,
            top_p: infinite_jazz_llm::config::DEFAULT_TOP_P,
            context_steps: infinite_jazz_llm::config::DEFAULT_CONTEXT_STEPS,
        }
    }
}

impl Steering {
    /// The own changes, when they parse.
    pub fn changes_progression(
        &self,
    ) -> Option<infinite_jazz_engine::composer::harmony::Progression> {
        let text = self.changes.trim();
        if text.is_empty() {
            return None;
        }
        infinite_jazz_engine::composer::harmony::Progression::parse(text).ok()
    }

    /// Steers the model settings from the user's config: the project's vibe (when it has
    /// one), style, sampling and context. The plugin and its editor both build sources this way.
    pub fn apply_to(&self, llm: &mut infinite_jazz_llm::LlmSettings) {
        if !self.vibe.trim().is_empty() {
            llm.vibe.clone_from(&self.vibe);
        }
        llm.style.clone_from(&self.style);
        llm.temperature = self.temperature;
        llm.top_p = self.top_p;
        llm.context_steps = self.context_steps;
    }

    /// Keeps hostile saved values inside what the controls allow.
    pub fn sanitized(mut self) -> Self {
        const MAX_TEXT: usize = 2000;
        self.vibe = self.vibe.chars().take(MAX_TEXT).collect();
        self.changes = self.changes.chars().take(MAX_TEXT).collect();
        self.style = self.style.chars().take(64).collect();
        if !self.temperature.is_finite() {
            self.temperature = infinite_jazz_llm::config::DEFAULT_TEMPERATURE;
        }
        if !self.top_p.is_finite() {
            self.top_p = infinite_jazz_llm::config::DEFAULT_TOP_P;
        }
        self.temperature = self.temperature.clamp(0.0, 2.0);
        self.top_p = self.top_p.clamp(0.0, 1.0);
        self.context_steps = self
            .context_steps
            .min(infinite_jazz_llm::config::MAX_CONTEXT_STEPS);
        self
    }
}

/// The worker's side, once the plugin is active.
pub struct WorkerLink {
    pub commands: Sender<WorkerCommand>,
    pub status: Arc<WorkerStatus>,
    pub llm_stats: Option<SharedStats>,
}

pub struct EditorLink {
    pub stats: Arc<SequencerStats>,
    /// The host's tempo (bits of an `f64`), written by the audio thread.
    pub tempo_bits: AtomicU64,
    /// Whether the host reports a time signature (else the own meter plays).
    pub host_meter: std::sync::atomic::AtomicBool,
    pub worker: Mutex<Option<WorkerLink>>,
    pub roll: Mutex<Option<triple_buffer::Output<RollSnapshot>>>,
}

impl EditorLink {
    pub fn new(stats: Arc<SequencerStats>) -> Self {
        EditorLink {
            stats,
            tempo_bits: AtomicU64::new(120f64.to_bits()),
            host_meter: std::sync::atomic::AtomicBool::new(false),
            worker: Mutex::new(None),
            roll: Mutex::new(None),
        }
    }

    /// What `read` finds in the worker's side; `None` before activation.
    pub fn with_worker<T>(&self, read: impl FnOnce(&WorkerLink) -> Option<T>) -> Option<T> {
        self.worker
            .lock()
            .ok()
            .and_then(|g| g.as_ref().and_then(read))
    }

    pub fn send(&self, command: WorkerCommand) -> bool {
        match self.worker.lock() {
            Ok(guard) => guard
                .as_ref()
                .is_some_and(|w| w.commands.send(command).is_ok()),
            Err(_) => false,
        }
    }
}
