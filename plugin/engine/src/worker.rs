//! The section worker: a background thread that keeps the sequencer's queues filled.
//!
//! It asks the primary [`SectionSource`] (a language model, or the built-in composer) for
//! sections until `depth` of them wait in the ready queue, keeps a few built-in sections in
//! the fallback queue, and frees the sections the audio thread hands back. Nothing here runs
//! on the audio thread; a slow or failing source only delays the primary queue, and the
//! sequencer plays fallback sections meanwhile.

use crate::composer::{BuiltinComposer, ComposerSettings};
use crate::section::Section;
use crate::sequencer::prepared::{PreparedSection, SectionOrigin};
use crate::sequencer::{SequencerQueues, SequencerStats};
use crate::timing::RuntimeConfig;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use thiserror::Error;

/// Most sections that may wait ahead of the playhead.
pub const MAX_DEPTH: usize = 16;
/// Built-in sections kept ready for underruns.
pub const FALLBACK_DEPTH: usize = 2;
/// How often the worker looks at the queues when nothing else wakes it.
const POLL: Duration = Duration::from_millis(5);

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SourceError {
    #[error("{0}")]
    Failed(String),
    #[error("the answer was unusable: {0}")]
    Unusable(String),
}

/// What a source is asked for.
pub struct SectionRequest<'a> {
    pub config: &'a RuntimeConfig,
    /// The sections queued or played most recently, oldest first (for continuity).
    pub recent: &'a [Section],
}

/// Anything that writes sections: the built-in composer, a language model.
pub trait SectionSource: Send {
    /// Shown to the user, e.g. `built-in composer` or the model's name.
    fn name(&self) -> String;
    fn next_section(&mut self, request: &SectionRequest) -> Result<Section, SourceError>;
}

/// The built-in composer as a source.
pub struct BuiltinSource {
    composer: BuiltinComposer,
}

impl BuiltinSource {
    pub fn new(settings: &ComposerSettings) -> Self {
        BuiltinSource {
            composer: BuiltinComposer::new(settings),
        }
    }
}

impl SectionSource for BuiltinSource {
    fn name(&self) -> String {
        format!("built-in composer ({})", self.composer.description())
    }

    fn next_section(&mut self, request: &SectionRequest) -> Result<Section, SourceError> {
        Ok(self.composer.compose_next(request.config).section)
    }
}

/// Settings the worker reads before each section (from plugin parameters or a command line).
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSettings {
    pub config: RuntimeConfig,
    /// Sections to keep waiting in the ready queue (1..=[`MAX_DEPTH`]).
    pub depth: usize,
    pub composer: ComposerSettings,
}

/// Commands from the GUI or the plugin.
pub enum WorkerCommand {
    /// Drop the queued sections and ask again.
    Regenerate,
    /// Replace the primary source (the built-in composer is used when none is set).
    SetSource(Box<dyn SectionSource>),
    UseBuiltin,
}

/// What the worker publishes for displays (never read by the audio thread).
#[derive(Debug, Default)]
pub struct WorkerStatus {
    pub sections_generated: AtomicU64,
    pub failures: AtomicU64,
    pub last_latency_ms: AtomicU64,
    pub last_error: Mutex<Option<String>>,
    pub source_name: Mutex<String>,
}

/// The worker's ends of the queues.
pub struct WorkerQueues {
    pub ready: rtrb::Producer<Box<PreparedSection>>,
    pub fallback: rtrb::Producer<Box<PreparedSection>>,
    pub recycle: rtrb::Consumer<Box<PreparedSection>>,
}

/// Creates the three queues, returning the worker's and the sequencer's ends.
pub fn section_queues() -> (WorkerQueues, SequencerQueues) {
    // Twice the depth: sections dropped by "regenerate" wait there until the audio skips them.
    let (ready_tx, ready_rx) = rtrb::RingBuffer::new(2 * MAX_DEPTH);
    let (fallback_tx, fallback_rx) = rtrb::RingBuffer::new(FALLBACK_DEPTH);
    let (recycle_tx, recycle_rx) = rtrb::RingBuffer::new(2 * MAX_DEPTH + FALLBACK_DEPTH + 16);
    (
        WorkerQueues {
            ready: ready_tx,
            fallback: fallback_tx,
            recycle: recycle_rx,
        },
        SequencerQueues {
            ready: ready_rx,
            fallback: fallback_rx,
            recycle: recycle_tx,
        },
    )
}

/// Reads the current settings; called on the worker thread.
pub type SettingsReader = Box<dyn Fn() -> WorkerSettings + Send>;

/// Handle to the worker thread; dropping it stops and joins the thread.
pub struct SectionWorker {
    commands: Sender<WorkerCommand>,
    handle: Option<JoinHandle<()>>,
    status: Arc<WorkerStatus>,
}

impl SectionWorker {
    pub fn spawn(
        queues: WorkerQueues,
        stats: Arc<SequencerStats>,
        settings: SettingsReader,
    ) -> std::io::Result<Self> {
        let (commands, receiver) = crossbeam_channel::unbounded();
        let status = Arc::new(WorkerStatus::default());
        let thread_status = status.clone();
        let handle = std::thread::Builder::new()
            .name("infinite-jazz-sections".to_string())
            .spawn(move || {
                WorkerLoop::new(queues, stats, settings, thread_status).run(receiver);
            })?;
        Ok(SectionWorker {
            commands,
            handle: Some(handle),
            status,
        })
    }

    pub fn send(&self, command: WorkerCommand) {
        // The thread only ends when this handle drops, so the channel is open.
        let _ = self.commands.send(command);
    }

    pub fn status(&self) -> &Arc<WorkerStatus> {
        &self.status
    }
}

impl Drop for SectionWorker {
    fn drop(&mut self) {
        // Closing the channel is the stop signal.
        let (dead, _) = crossbeam_channel::bounded(0);
        self.commands = dead;
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// Makes a section the sequencer can hold in reserve (built on the calling thread).
pub fn reserve_section(settings: &WorkerSettings) -> Box<PreparedSection> {
    let mut composer = BuiltinComposer::new(&ComposerSettings {
        seed: settings.composer.seed ^ 0x005E_ED0F_F00D,
        ..settings.composer.clone()
    });
    let section = composer.compose_next(&settings.config).section;
    Box::new(PreparedSection::new(section, SectionOrigin::Reserve, 0))
}

struct WorkerLoop {
    queues: WorkerQueues,
    stats: Arc<SequencerStats>,
    settings: SettingsReader,
    status: Arc<WorkerStatus>,
    primary: Option<Box<dyn SectionSource>>,
    builtin: BuiltinSource,
    fallback: BuiltinComposer,
    composer_settings: ComposerSettings,
    /// Generations of the sections pushed and not yet taken, oldest first.
    in_queue: VecDeque<u32>,
    pushed: u64,
    recent: VecDeque<Section>,
    retry_at: Option<Instant>,
}

/// Sections remembered for a source's continuity.
const RECENT: usize = 4;

impl WorkerLoop {
    fn new(
        queues: WorkerQueues,
        stats: Arc<SequencerStats>,
        settings: SettingsReader,
        status: Arc<WorkerStatus>,
    ) -> Self {
        let composer_settings = settings().composer;
        WorkerLoop {
            queues,
            stats,
            settings,
            status,
            primary: None,
            builtin: BuiltinSource::new(&composer_settings),
            fallback: fallback_composer(&composer_settings),
            composer_settings,
            in_queue: VecDeque::new(),
            pushed: 0,
            recent: VecDeque::new(),
            retry_at: None,
        }
    }

    fn run(mut self, commands: Receiver<WorkerCommand>) {
        loop {
            self.free_returned();
            let settings = (self.settings)();
            if settings.composer != self.composer_settings {
                self.composer_settings = settings.composer.clone();
                self.builtin = BuiltinSource::new(&self.composer_settings);
                self.fallback = fallback_composer(&self.composer_settings);
            }
            self.fill_fallback(&settings.config);
            self.fill_ready(&settings);
            match commands.recv_timeout(POLL) {
                Ok(WorkerCommand::Regenerate) => {
                    self.stats.generation.fetch_add(1, Ordering::Relaxed);
                    self.recent.clear();
                }
                Ok(WorkerCommand::SetSource(source)) => {
                    self.primary = Some(source);
                    self.retry_at = None;
                }
                Ok(WorkerCommand::UseBuiltin) => self.primary = None,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        self.free_returned();
    }

    fn free_returned(&mut self) {
        while let Ok(section) = self.queues.recycle.pop() {
            drop(section);
        }
    }

    fn fill_fallback(&mut self, config: &RuntimeConfig) {
        while self.queues.fallback.slots() > 0 {
            let section = self.fallback.compose_next(config).section;
            let prepared = Box::new(PreparedSection::new(section, SectionOrigin::Fallback, 0));
            if self.queues.fallback.push(prepared).is_err() {
                break;
            }
        }
    }

    /// Sections of the current generation still waiting in the ready queue.
    fn current_queued(&mut self) -> usize {
        let taken = self.stats.sections_played.load(Ordering::Relaxed)
            + self.stats.stale_dropped.load(Ordering::Relaxed);
        let waiting = self.pushed.saturating_sub(taken) as usize;
        while self.in_queue.len() > waiting {
            self.in_queue.pop_front();
        }
        let generation = self.stats.generation.load(Ordering::Relaxed);
        self.in_queue.iter().filter(|g| **g >= generation).count()
    }

    fn fill_ready(&mut self, settings: &WorkerSettings) {
        let depth = settings.depth.clamp(1, MAX_DEPTH);
        while self.current_queued() < depth && self.queues.ready.slots() > 0 {
            if self.retry_at.is_some_and(|t| Instant::now() < t) {
                return;
            }
            let generation = self.stats.generation.load(Ordering::Relaxed);
            let recent: Vec<Section> = self.recent.iter().cloned().collect();
            let request = SectionRequest {
                config: &settings.config,
                recent: &recent,
            };
            let started = Instant::now();
            let source: &mut dyn SectionSource = match self.primary.as_mut() {
                Some(p) => p.as_mut(),
                None => &mut self.builtin,
            };
            let name = source.name();
            let result = source.next_section(&request);
            if let Ok(mut n) = self.status.source_name.lock() {
                *n = name;
            }
            match result {
                Ok(section) => {
                    let ms = started.elapsed().as_millis() as u64;
                    self.status.last_latency_ms.store(ms, Ordering::Relaxed);
                    self.status
                        .sections_generated
                        .fetch_add(1, Ordering::Relaxed);
                    self.recent.push_back(section.clone());
                    while self.recent.len() > RECENT {
                        self.recent.pop_front();
                    }
                    let prepared = Box::new(PreparedSection::new(
                        section,
                        SectionOrigin::Primary,
                        generation,
                    ));
                    if self.queues.ready.push(prepared).is_err() {
                        return;
                    }
                    self.pushed += 1;
                    self.in_queue.push_back(generation);
                }
                Err(e) => {
                    self.status.failures.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut last) = self.status.last_error.lock() {
                        *last = Some(e.to_string());
                    }
                    // The fallback plays meanwhile; don't hammer a failing source.
                    self.retry_at = Some(Instant::now() + Duration::from_millis(500));
                    return;
                }
            }
        }
    }
}

fn fallback_composer(settings: &ComposerSettings) -> BuiltinComposer {
    BuiltinComposer::new(&ComposerSettings {
        seed: settings.seed.wrapping_add(0x0FA1_1BAC),
        ..settings.clone()
    })
}
