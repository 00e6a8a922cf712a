//! The section worker: a background thread that keeps the sequencer's queues filled.
//!
//! It asks the primary [`SectionSource`] (a language model, or the built-in composer) for
//! sections until `depth` of them wait in the ready queue, keeps a few built-in sections in
//! the fallback queue, and frees the sections the audio thread hands back. Nothing here runs
//! on the audio thread; a slow or failing source only delays the primary queue, and the
//! sequencer plays fallback sections meanwhile.

use crate::composer::Listening;
use crate::composer::{BuiltinComposer, ComposerSettings};
use crate::listen::{Listen, PlayerNote, PlayerPart};
use crate::player_capture::HeardPlayer;
use crate::section::Section;
use crate::sequencer::prepared::{PreparedSection, SectionOrigin, RESERVE_SERIAL};
use crate::sequencer::{Sequencer, SequencerQueues, SequencerStats};
use crate::timing::RuntimeConfig;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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
/// A listening band writes its next bar this many beats (a 16th note) before the bar line:
/// what the player plays up to then shapes it; the rest of the lead covers the worker's
/// polling, the composer and the host's block.
pub const ANSWER_LEAD_BEATS: f64 = 0.25;

/// Why a source gave no section this time (the fallback composer plays instead).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SourceError {
    /// The source could not answer; `retry_after` is the wait the server asked for.
    #[error("{message}")]
    Failed {
        /// What went wrong, in words (never holding a key).
        message: String,
        /// How long the server asked us to wait, if it said.
        retry_after: Option<Duration>,
    },
    /// It answered, but nothing in the answer could be played (after its own retries).
    #[error("{0}")]
    Unusable(String),
}

impl SourceError {
    fn retry_after(&self) -> Option<Duration> {
        match self {
            SourceError::Failed { retry_after, .. } => *retry_after,
            SourceError::Unusable(_) => None,
        }
    }
}

/// First wait after a failure; it doubles with each failure in a row.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What a source is asked for.
pub struct SectionRequest<'a> {
    /// Tempo, swing, section length and ranges the section must fit.
    pub config: &'a RuntimeConfig,
    /// The sections queued or played most recently, oldest first (for continuity).
    pub recent: &'a [Section],
    /// A player the band listens to, and where the section starts in the player's music.
    pub listening: Option<&'a Listening<'a>>,
}

/// Anything that writes sections: the built-in composer, a language model.
pub trait SectionSource: Send {
    /// Shown to the user, e.g. `built-in composer` or the model's name.
    fn name(&self) -> String;
    /// The next section, `request.config.total_steps()` long; may block (the worker's thread).
    fn next_section(&mut self, request: &SectionRequest) -> Result<Section, SourceError>;
    /// A flag that ends a call in progress soon after it is set, for a source whose calls can
    /// take long (a network call). Sources that answer at once need none.
    fn cancel_handle(&self) -> Option<Arc<std::sync::atomic::AtomicBool>> {
        None
    }
}

/// The built-in composer as a source.
pub struct BuiltinSource {
    composer: BuiltinComposer,
}

impl BuiltinSource {
    /// The composer for these settings.
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
        Ok(self
            .composer
            .compose_listening(request.config, request.listening)
            .section)
    }
}

/// Settings the worker reads before each section (from plugin parameters or a command line).
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSettings {
    /// Timing and ranges of the sections to write.
    pub config: RuntimeConfig,
    /// Sections to keep waiting in the ready queue (1..=[`MAX_DEPTH`]).
    pub depth: usize,
    /// What the built-in composer (primary or fallback) plays over.
    pub composer: ComposerSettings,
    /// How the band listens to the player ([`WorkerCommand::HearPlayer`]).
    pub listen: Listen,
}

/// Commands from the GUI or the plugin.
pub enum WorkerCommand {
    /// Drop the queued sections and ask again.
    Regenerate,
    /// Replace the primary source (the built-in composer is used when none is set).
    SetSource(Box<dyn SectionSource>),
    /// Go back to the built-in composer as the primary source.
    UseBuiltin,
    /// The player's notes, to listen to when the settings ask for it.
    HearPlayer(Box<HeardPlayer>),
}

/// A section the sequencer played, for a session's archive.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchivedSection {
    /// What was played.
    pub section: Section,
    /// Which source wrote it.
    pub origin: SectionOrigin,
    /// The beat of the music it was placed at.
    pub start_beat: f64,
}

/// What the worker publishes for displays (never read by the audio thread).
#[derive(Debug, Default)]
pub struct WorkerStatus {
    /// Sections of the current generation waiting in the ready queue.
    pub queued: AtomicUsize,
    /// The depth the worker keeps the queue at.
    pub depth: AtomicUsize,
    /// Sections the primary source has written.
    pub sections_generated: AtomicU64,
    /// Calls to the primary source that failed.
    pub failures: AtomicU64,
    /// How long the last successful call took.
    pub last_latency_ms: AtomicU64,
    /// The primary source's last failure, in words.
    pub last_error: Mutex<Option<String>>,
    /// Which source is writing, in words.
    pub source_name: Mutex<String>,
    /// The sections waiting in the ready queue, next first (for the editor's piano roll).
    pub upcoming: Mutex<Vec<Section>>,
    /// The last [`HISTORY_KEPT`] sections played, in the order they were heard: the session's
    /// archive (the editor exports a copy of it; the standalone takes them out as they come).
    pub history: Mutex<VecDeque<ArchivedSection>>,
    /// The player's notes of the last [`crate::player_capture::KEPT_BEATS`] (notes still held
    /// end at `f64::MAX`), for the editor's piano roll.
    pub player: Mutex<Vec<PlayerNote>>,
    /// Bars the built-in composer answered because a listening model's answer would have come
    /// too late.
    pub late_answers: AtomicU64,
    /// The player's notes of the session (up to [`crate::listen::MAX_PLAYER_NOTES`], the
    /// latest kept), in the order they ended, for its take: see
    /// [`crate::listen::player_in_take`].
    pub player_take: Mutex<VecDeque<PlayerNote>>,
}

impl WorkerStatus {
    /// A copy of the archive, oldest first.
    pub fn history(&self) -> Vec<ArchivedSection> {
        self.history
            .lock()
            .map(|h| h.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Takes the archived sections out, oldest first; taking them often enough (well within
    /// [`HISTORY_KEPT`] sections) keeps a whole session.
    pub fn take_history(&self) -> Vec<ArchivedSection> {
        self.history
            .lock()
            .map(|mut h| h.drain(..).collect())
            .unwrap_or_default()
    }
}

/// Sections kept in [`WorkerStatus::history`]: an hour and more of 2-bar sections.
pub const HISTORY_KEPT: usize = 2048;

/// The worker's ends of the queues.
pub struct WorkerQueues {
    /// Sections from the primary source, to the sequencer.
    pub ready: rtrb::Producer<Box<PreparedSection>>,
    /// Sections from the fallback composer, played when the ready queue runs dry.
    pub fallback: rtrb::Producer<Box<PreparedSection>>,
    /// Played sections coming back from the sequencer, to be freed here.
    pub recycle: rtrb::Consumer<Box<PreparedSection>>,
    /// Serials of the sections the sequencer placed, and where, in order.
    pub placed: rtrb::Consumer<(u64, f64)>,
}

/// Creates the three queues, returning the worker's and the sequencer's ends.
pub fn section_queues() -> (WorkerQueues, SequencerQueues) {
    // Twice the depth: sections dropped by "regenerate" wait there until the audio skips them.
    let (ready_tx, ready_rx) = rtrb::RingBuffer::new(2 * MAX_DEPTH);
    let (fallback_tx, fallback_rx) = rtrb::RingBuffer::new(FALLBACK_DEPTH);
    let (recycle_tx, recycle_rx) = rtrb::RingBuffer::new(2 * MAX_DEPTH + FALLBACK_DEPTH + 16);
    let (placed_tx, placed_rx) = rtrb::RingBuffer::new(256);
    (
        WorkerQueues {
            ready: ready_tx,
            fallback: fallback_tx,
            recycle: recycle_rx,
            placed: placed_rx,
        },
        SequencerQueues {
            ready: ready_rx,
            fallback: fallback_rx,
            recycle: recycle_tx,
            placed: placed_tx,
        },
    )
}

/// A count the owner of the settings raises whenever one of them changes (a parameter's
/// callback, a state load, an edit in the editor). Raising it is one atomic add, so it may be
/// done on the audio thread (host automation calls parameter callbacks there).
#[derive(Debug, Default)]
pub struct SettingsChanged(AtomicU64);

impl SettingsChanged {
    /// Says that a setting changed; the worker reads the settings again before the next section.
    pub fn notify(&self) {
        self.0.fetch_add(1, Ordering::Release);
    }

    /// How many changes were signalled so far.
    pub fn generation(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

/// Where the worker gets its settings: it reads them once at the start and again only after
/// the owner signalled a change, rather than rebuilding them on every turn of its loop.
pub struct SettingsFeed {
    read: Box<dyn Fn() -> WorkerSettings + Send>,
    changed: Arc<SettingsChanged>,
}

impl SettingsFeed {
    /// Settings that `read` builds, read again after each [`SettingsChanged::notify`].
    pub fn new(
        changed: Arc<SettingsChanged>,
        read: impl Fn() -> WorkerSettings + Send + 'static,
    ) -> Self {
        SettingsFeed {
            read: Box::new(read),
            changed,
        }
    }

    /// Settings that never change (a command line's).
    pub fn fixed(settings: WorkerSettings) -> Self {
        Self::new(Arc::default(), move || settings.clone())
    }

    fn read(&self) -> WorkerSettings {
        (self.read)()
    }
}

/// Handle to the worker thread; dropping it stops and joins the thread.
pub struct SectionWorker {
    commands: Sender<WorkerCommand>,
    handle: Option<JoinHandle<()>>,
    status: Arc<WorkerStatus>,
    /// The stop signal: the command channel may have other senders (an editor).
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl SectionWorker {
    /// Starts with the built-in composer as the primary source.
    pub fn spawn(
        queues: WorkerQueues,
        stats: Arc<SequencerStats>,
        settings: SettingsFeed,
    ) -> std::io::Result<Self> {
        Self::spawn_with_source(queues, stats, settings, None)
    }

    /// Starts with `source` as the primary source (the built-in composer when `None`), so a
    /// configured model is asked from the first section on.
    pub fn spawn_with_source(
        queues: WorkerQueues,
        stats: Arc<SequencerStats>,
        settings: SettingsFeed,
        source: Option<Box<dyn SectionSource>>,
    ) -> std::io::Result<Self> {
        let (commands, receiver) = crossbeam_channel::unbounded();
        let status = Arc::new(WorkerStatus::default());
        let thread_status = status.clone();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread_stop = stop.clone();
        let handle = std::thread::Builder::new()
            .name("infinite-jazz-sections".to_string())
            .spawn(move || {
                let mut worker = WorkerLoop::new(queues, stats, settings, thread_status);
                if let Some(source) = source {
                    worker.replace_source(source, false);
                }
                worker.run(receiver, &thread_stop);
            })?;
        Ok(SectionWorker {
            commands,
            handle: Some(handle),
            status,
            stop,
        })
    }

    /// Sends the worker a command; it acts on it within a few milliseconds.
    pub fn send(&self, command: WorkerCommand) {
        // The thread only ends when this handle drops, so the channel is open.
        let _ = self.commands.send(command);
    }

    /// What the worker publishes.
    pub fn status(&self) -> &Arc<WorkerStatus> {
        &self.status
    }

    /// A sender for commands from elsewhere (an editor); the worker stops when this handle
    /// drops, whatever senders remain.
    pub fn commands(&self) -> Sender<WorkerCommand> {
        self.commands.clone()
    }
}

impl Drop for SectionWorker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let (dead, _) = crossbeam_channel::bounded(0);
        self.commands = dead;
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// The music of the sequencer's reserve section for these settings.
pub fn reserve_music(settings: &WorkerSettings) -> Section {
    let mut composer = BuiltinComposer::new(&ComposerSettings {
        seed: settings.composer.seed ^ 0x005E_ED0F_F00D,
        ..settings.composer.clone()
    });
    composer.compose_next(&settings.config).section
}

/// Makes a section the sequencer can hold in reserve (built on the calling thread).
pub fn reserve_section(settings: &WorkerSettings) -> Box<PreparedSection> {
    Box::new(PreparedSection::new(
        &reserve_music(settings),
        SectionOrigin::Reserve,
        0,
    ))
}

/// The band's two halves, wired together: the sequencer for the audio thread and the worker
/// that keeps it fed from `source` (the built-in composer when `None`), reading its settings
/// through `settings`. The plugin, the standalone and the benchmark start the band this way.
pub fn start_band(
    stats: Arc<SequencerStats>,
    settings: SettingsFeed,
    source: Option<Box<dyn SectionSource>>,
) -> std::io::Result<(Sequencer, SectionWorker)> {
    let (worker_queues, queues) = section_queues();
    let sequencer = Sequencer::new(queues, stats.clone(), reserve_section(&settings.read()));
    let worker = SectionWorker::spawn_with_source(worker_queues, stats, settings, source)?;
    Ok((sequencer, worker))
}

/// The primary source on a thread of its own: a model call may take seconds, and the worker
/// loop must keep refilling the fallback queue and freeing returned sections meanwhile.
struct SourceRunner {
    name: String,
    jobs: Option<Sender<Job>>,
    results: Receiver<JobResult>,
    handle: Option<JoinHandle<()>>,
    cancel: Option<Arc<std::sync::atomic::AtomicBool>>,
}

struct Job {
    config: RuntimeConfig,
    recent: Vec<Section>,
    generation: u32,
    /// How the band listens, to what, and the beat the section will start on.
    listening: Option<(Listen, PlayerPart, f64)>,
}

struct JobResult {
    result: Result<Section, SourceError>,
    generation: u32,
    elapsed: Duration,
    /// The beat the section was asked for, when the band listens.
    slot: Option<f64>,
}

/// How long dropping a runner waits for a call in flight. A source with a cancel handle ends
/// its call within milliseconds; one without is left to finish alone after this (bounded by
/// its own timeouts).
const RUNNER_JOIN_WAIT: Duration = Duration::from_secs(2);

impl SourceRunner {
    fn spawn(mut source: Box<dyn SectionSource>) -> Self {
        let name = source.name();
        let cancel = source.cancel_handle();
        let (jobs, job_rx) = crossbeam_channel::unbounded::<Job>();
        let (result_tx, results) = crossbeam_channel::unbounded();
        let handle = std::thread::Builder::new()
            .name("infinite-jazz-source".to_string())
            .spawn(move || {
                while let Ok(job) = job_rx.recv() {
                    let started = Instant::now();
                    let listening =
                        job.listening
                            .as_ref()
                            .map(|(mode, player, start_beat)| Listening {
                                mode: *mode,
                                player,
                                start_beat: *start_beat,
                            });
                    let request = SectionRequest {
                        config: &job.config,
                        recent: &job.recent,
                        listening: listening.as_ref(),
                    };
                    let result = source.next_section(&request);
                    let sent = result_tx.send(JobResult {
                        result,
                        generation: job.generation,
                        elapsed: started.elapsed(),
                        slot: job.listening.as_ref().map(|(_, _, slot)| *slot),
                    });
                    if sent.is_err() {
                        break;
                    }
                }
            })
            .ok();
        SourceRunner {
            name,
            jobs: Some(jobs),
            results,
            handle,
            cancel,
        }
    }
}

impl Drop for SourceRunner {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(cancel) = &self.cancel {
            cancel.store(true, Ordering::SeqCst);
        }
        if let Some(handle) = self.handle.take() {
            let deadline = Instant::now() + RUNNER_JOIN_WAIT;
            while !handle.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if handle.is_finished() {
                let _ = handle.join();
            }
        }
    }
}

struct WorkerLoop {
    /// The meter and feel sections are being written in; a change makes the queued ones
    /// stale.
    style: (crate::meter::Meter, crate::feel::Feel),
    queues: WorkerQueues,
    stats: Arc<SequencerStats>,
    feed: SettingsFeed,
    /// The settings as last read, and the change count they were read at.
    settings: WorkerSettings,
    settings_seen: u64,
    status: Arc<WorkerStatus>,
    runner: SourceRunner,
    /// Whether the runner's source is the built-in composer (rebuilt when its settings change).
    runner_is_builtin: bool,
    in_flight: bool,
    fallback: BuiltinComposer,
    composer_settings: ComposerSettings,
    /// Generations and music of the sections pushed and not yet taken, oldest first.
    in_queue: VecDeque<(u32, Section)>,
    /// Whether `in_queue` changed since it was last published.
    queue_changed: bool,
    pushed: u64,
    recent: VecDeque<Section>,
    retry_at: Option<Instant>,
    failures_in_a_row: u32,
    /// Sections handed to the queues and not yet placed, by serial, oldest first.
    handed: VecDeque<(u64, Section, SectionOrigin)>,
    next_serial: u64,
    /// The player, once the owner hands over the notes it captures.
    player: Option<Box<HeardPlayer>>,
    /// The listening mode the queued sections were written for.
    listening_to: Listen,
    /// When a model listens: the built-in composer that answers in its place when its
    /// answer would come too late, and the start beat of the last section handed out for
    /// the bar line ahead (by either).
    answer_composer: BuiltinComposer,
    filled_slot: Option<f64>,
}

/// Sections handed out and waiting to be placed: the queues' capacity, plus room for those a
/// "regenerate" left behind.
const HANDED_KEPT: usize = 4 * MAX_DEPTH + 2 * FALLBACK_DEPTH;

/// Sections remembered for a source's continuity (enough for 512 context steps of 1-bar
/// sections).
const RECENT: usize = 32;

impl WorkerLoop {
    fn new(
        queues: WorkerQueues,
        stats: Arc<SequencerStats>,
        feed: SettingsFeed,
        status: Arc<WorkerStatus>,
    ) -> Self {
        let settings_seen = feed.changed.generation();
        let settings = feed.read();
        let composer_settings = settings.composer.clone();
        WorkerLoop {
            style: (settings.config.meter(), settings.config.feel()),
            queues,
            stats,
            feed,
            settings,
            settings_seen,
            status,
            runner: SourceRunner::spawn(Box::new(BuiltinSource::new(&composer_settings))),
            runner_is_builtin: true,
            in_flight: false,
            fallback: fallback_composer(&composer_settings),
            answer_composer: answer_composer(&composer_settings),
            composer_settings,
            in_queue: VecDeque::new(),
            queue_changed: false,
            pushed: 0,
            recent: VecDeque::new(),
            retry_at: None,
            failures_in_a_row: 0,
            handed: VecDeque::new(),
            next_serial: 0,
            player: None,
            listening_to: Listen::Off,
            filled_slot: None,
        }
    }

    fn archive(&mut self, section: &Section, origin: SectionOrigin, start_beat: f64) {
        if let Ok(mut history) = self.status.history.lock() {
            history.push_back(ArchivedSection {
                section: section.clone(),
                origin,
                start_beat,
            });
            while history.len() > HISTORY_KEPT {
                history.pop_front();
            }
        }
    }

    fn replace_source(&mut self, source: Box<dyn SectionSource>, builtin: bool) {
        self.runner = SourceRunner::spawn(source);
        self.runner_is_builtin = builtin;
        self.in_flight = false;
        self.retry_at = None;
        self.failures_in_a_row = 0;
    }

    fn run(mut self, commands: Receiver<WorkerCommand>, stop: &std::sync::atomic::AtomicBool) {
        while !stop.load(Ordering::SeqCst) {
            self.free_returned();
            if let Some(player) = self.player.as_mut() {
                if player.receive() > 0 {
                    let notes = player.part(f64::INFINITY).notes().to_vec();
                    if let Ok(mut shown) = self.status.player.lock() {
                        *shown = notes;
                    }
                    let finished = player.take_finished();
                    if let Ok(mut take) = self.status.player_take.lock() {
                        take.extend(finished);
                        let extra = take.len().saturating_sub(crate::listen::MAX_PLAYER_NOTES);
                        take.drain(..extra);
                    }
                }
            }
            self.read_changed_settings();
            let settings = self.settings.clone();
            let style = (settings.config.meter(), settings.config.feel());
            if style != self.style {
                // Music already written in the old meter cannot play in the new one (the
                // sequencer skips it), and a new feel should be heard from the next section:
                // the source starts afresh.
                self.style = style;
                self.start_afresh();
            }
            if settings.listen != self.listening_to {
                // What is queued was written without listening (or for another mode).
                self.listening_to = settings.listen;
                self.start_afresh();
            }
            if settings.composer != self.composer_settings {
                self.composer_settings = settings.composer.clone();
                self.fallback = fallback_composer(&self.composer_settings);
                self.answer_composer = answer_composer(&self.composer_settings);
                if self.runner_is_builtin {
                    let source = Box::new(BuiltinSource::new(&self.composer_settings));
                    self.replace_source(source, true);
                }
            }
            self.fill_fallback(&settings.config);
            self.note_placed(&settings);
            self.collect_result(&settings);
            self.request_more(&settings);
            self.publish(&settings);
            match commands.recv_timeout(POLL) {
                Ok(WorkerCommand::Regenerate) => self.start_afresh(),
                Ok(WorkerCommand::SetSource(source)) => self.replace_source(source, false),
                Ok(WorkerCommand::UseBuiltin) => {
                    let source = Box::new(BuiltinSource::new(&self.composer_settings));
                    self.replace_source(source, true);
                }
                Ok(WorkerCommand::HearPlayer(player)) => {
                    self.player = Some(player);
                    if settings.listen != Listen::Off {
                        // Sections queued before the player was heard did not listen.
                        self.start_afresh();
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        // The last placements still reach the archive.
        let settings = self.settings.clone();
        self.note_placed(&settings);
        self.free_returned();
    }

    /// Queued sections become stale and the source writes without context.
    fn start_afresh(&mut self) {
        self.stats.generation.fetch_add(1, Ordering::Relaxed);
        self.recent.clear();
        self.queue_changed = true;
    }

    /// Reads the settings again when their owner signalled a change since the last read.
    fn read_changed_settings(&mut self) {
        let generation = self.feed.changed.generation();
        if generation != self.settings_seen {
            self.settings_seen = generation;
            self.settings = self.feed.read();
        }
    }

    fn publish(&mut self, settings: &WorkerSettings) {
        let queued = self.current_queued();
        if self.queue_changed {
            self.queue_changed = false;
            let generation = self.stats.generation.load(Ordering::Relaxed);
            let upcoming: Vec<Section> = self
                .in_queue
                .iter()
                .filter(|(g, _)| *g >= generation)
                .map(|(_, s)| s.clone())
                .collect();
            if let Ok(mut u) = self.status.upcoming.lock() {
                *u = upcoming;
            }
        }
        self.status.queued.store(queued, Ordering::Relaxed);
        self.status
            .depth
            .store(settings.depth.clamp(1, MAX_DEPTH), Ordering::Relaxed);
        if let Ok(mut n) = self.status.source_name.lock() {
            if *n != self.runner.name {
                n.clone_from(&self.runner.name);
            }
        }
    }

    fn free_returned(&mut self) {
        while let Ok(section) = self.queues.recycle.pop() {
            drop(section);
        }
    }

    /// Prepares a section for a queue, numbered so its placement can be recognised.
    fn hand_out(
        &mut self,
        section: Section,
        origin: SectionOrigin,
        generation: u32,
    ) -> Box<PreparedSection> {
        let serial = self.next_serial;
        self.next_serial += 1;
        let mut prepared = Box::new(PreparedSection::new(&section, origin, generation));
        prepared.serial = serial;
        self.handed.push_back((serial, section, origin));
        while self.handed.len() > HANDED_KEPT {
            self.handed.pop_front();
        }
        prepared
    }

    fn fill_fallback(&mut self, config: &RuntimeConfig) {
        while self.queues.fallback.slots() > 0 {
            let section = self.fallback.compose_next(config).section;
            let prepared = self.hand_out(section, SectionOrigin::Fallback, 0);
            if self.queues.fallback.push(prepared).is_err() {
                break;
            }
        }
    }

    /// Archives the sections the sequencer placed, in the order it placed them; a fallback
    /// section also joins the music the model continues from.
    fn note_placed(&mut self, settings: &WorkerSettings) {
        while let Ok((serial, start_beat)) = self.queues.placed.pop() {
            if serial == RESERVE_SERIAL {
                let reserve = reserve_music(settings);
                self.archive(&reserve, SectionOrigin::Reserve, start_beat);
                continue;
            }
            let Some(at) = self.handed.iter().position(|(s, _, _)| *s == serial) else {
                continue;
            };
            if let Some((_, section, origin)) = self.handed.remove(at) {
                self.archive(&section, origin, start_beat);
                if origin == SectionOrigin::Fallback {
                    self.remember(section);
                }
            }
        }
    }

    fn remember(&mut self, section: Section) {
        self.recent.push_back(section);
        while self.recent.len() > RECENT {
            self.recent.pop_front();
        }
    }

    /// Sections of the current generation still waiting in the ready queue.
    fn current_queued(&mut self) -> usize {
        let taken = self.stats.sections_played.load(Ordering::Relaxed)
            + self.stats.stale_dropped.load(Ordering::Relaxed);
        let waiting = self.pushed.saturating_sub(taken) as usize;
        while self.in_queue.len() > waiting {
            self.in_queue.pop_front();
            self.queue_changed = true;
        }
        let generation = self.stats.generation.load(Ordering::Relaxed);
        self.in_queue
            .iter()
            .filter(|(g, _)| *g >= generation)
            .count()
    }

    /// The listening mode in force: the settings ask for one and the player is heard.
    fn listening(&self, settings: &WorkerSettings) -> Option<Listen> {
        (settings.listen != Listen::Off && self.player.is_some()).then_some(settings.listen)
    }

    fn request_more(&mut self, settings: &WorkerSettings) {
        let listen = self.listening(settings);
        if let (Some(mode), false) = (listen, self.runner_is_builtin) {
            self.listen_with_model(settings, mode);
            return;
        }
        // The built-in composer answers in a millisecond, so a listening band writes one bar
        // at a time, just before it is due, from everything the player played until then.
        let just_in_time = listen.is_some();
        let depth = if just_in_time {
            1
        } else {
            settings.depth.clamp(1, MAX_DEPTH)
        };
        let queued = self.current_queued();
        if self.in_flight
            || queued >= depth
            || self.queues.ready.slots() == 0
            || self.retry_at.is_some_and(|t| Instant::now() < t)
        {
            return;
        }
        let now = self.stats.position_beats();
        let next_start = self.stats.section_end();
        if just_in_time && now < next_start - ANSWER_LEAD_BEATS {
            return;
        }
        let mut config = settings.config.clone();
        if just_in_time {
            config = config.with_bars_per_section(1);
        }
        let section_beats = config.bars_per_section() as f64 * config.meter().quarters_per_bar();
        let listening = match (listen, &self.player) {
            (Some(mode), Some(player)) => Some((
                mode,
                player.part(now),
                next_start + queued as f64 * section_beats,
            )),
            _ => None,
        };
        let job = Job {
            config,
            recent: self.recent.iter().cloned().collect(),
            generation: self.stats.generation.load(Ordering::Relaxed),
            listening,
        };
        if let Some(jobs) = &self.runner.jobs {
            self.in_flight = jobs.send(job).is_ok();
        }
    }

    /// A model listening: it is asked for the section after the one playing as soon as that
    /// one is placed, with what the player played so far; if its answer is not in by a 16th
    /// before the bar line, the built-in composer answers that bar from everything heard, and
    /// the model's answer, when it comes, is dropped.
    fn listen_with_model(&mut self, settings: &WorkerSettings, mode: Listen) {
        if self.current_queued() > 0 || self.queues.ready.slots() == 0 {
            return;
        }
        let now = self.stats.position_beats();
        let slot = self.stats.section_end();
        if self.filled_slot == Some(slot) {
            return;
        }
        let waiting = self.retry_at.is_some_and(|t| Instant::now() < t);
        let ask = !self.in_flight && !waiting;
        let answer = now >= slot - ANSWER_LEAD_BEATS;
        // Most turns of the loop do neither: the player's part is gathered only when used.
        let Some(player) = self.player.as_ref().filter(|_| ask || answer) else {
            return;
        };
        let part = player.part(now);
        if ask {
            let job = Job {
                config: settings.config.clone(),
                recent: self.recent.iter().cloned().collect(),
                generation: self.stats.generation.load(Ordering::Relaxed),
                listening: Some((mode, part.clone(), slot)),
            };
            if let Some(jobs) = &self.runner.jobs {
                self.in_flight = jobs.send(job).is_ok();
            }
        }
        if !answer {
            return;
        }
        let config = settings.config.clone().with_bars_per_section(1);
        let listening = Listening {
            mode,
            player: &part,
            start_beat: slot,
        };
        let section = self
            .answer_composer
            .compose_listening(&config, Some(&listening))
            .section;
        self.status.late_answers.fetch_add(1, Ordering::Relaxed);
        let generation = self.stats.generation.load(Ordering::Relaxed);
        self.push_ready(section, SectionOrigin::Fallback, generation);
        self.filled_slot = Some(slot);
    }

    /// Hands a section to the ready queue.
    fn push_ready(&mut self, section: Section, origin: SectionOrigin, generation: u32) {
        let section_copy = section.clone();
        let prepared = self.hand_out(section, origin, generation);
        if self.queues.ready.push(prepared).is_ok() {
            self.pushed += 1;
            self.in_queue.push_back((generation, section_copy));
            self.queue_changed = true;
        }
    }

    fn collect_result(&mut self, settings: &WorkerSettings) {
        // Several results per turn: the built-in composer answers in microseconds.
        for _ in 0..MAX_DEPTH {
            let Ok(done) = self.runner.results.try_recv() else {
                return;
            };
            self.in_flight = false;
            match done.result {
                Ok(section) => {
                    self.status
                        .last_latency_ms
                        .store(done.elapsed.as_millis() as u64, Ordering::Relaxed);
                    self.status
                        .sections_generated
                        .fetch_add(1, Ordering::Relaxed);
                    self.failures_in_a_row = 0;
                    if let Some(slot) = done.slot.filter(|_| !self.runner_is_builtin) {
                        // A listening model's answer counts only for the bar line it was
                        // asked for, and only if nothing played there yet.
                        let ahead = self.stats.section_end();
                        if self.filled_slot == Some(slot) || slot != ahead {
                            continue;
                        }
                        self.filled_slot = Some(slot);
                    }
                    self.remember(section.clone());
                    self.push_ready(section, SectionOrigin::Primary, done.generation);
                }
                Err(e) => {
                    self.status.failures.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut last) = self.status.last_error.lock() {
                        *last = Some(e.to_string());
                    }
                    // The fallback plays meanwhile; don't hammer a failing source.
                    let backoff = FIRST_BACKOFF
                        .saturating_mul(1 << self.failures_in_a_row.min(6))
                        .min(MAX_BACKOFF);
                    self.failures_in_a_row += 1;
                    let wait = e.retry_after().unwrap_or(backoff).max(backoff);
                    self.retry_at = Some(Instant::now() + wait);
                }
            }
            self.request_more(settings);
        }
    }
}

fn answer_composer(settings: &ComposerSettings) -> BuiltinComposer {
    BuiltinComposer::new(&ComposerSettings {
        seed: settings.seed.wrapping_add(0x0A25_3E75),
        ..settings.clone()
    })
}

fn fallback_composer(settings: &ComposerSettings) -> BuiltinComposer {
    BuiltinComposer::new(&ComposerSettings {
        seed: settings.seed.wrapping_add(0x0FA1_1BAC),
        ..settings.clone()
    })
}
