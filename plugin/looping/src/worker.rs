//! The clip worker: a background thread that keeps the looper's queue stocked with prepared
//! loops (decoded, analysed, resampled to the playback rate, loudness-matched) and frees the
//! loops the looper hands back. A MusicGPT run can take minutes; the audio thread never waits.

use crate::analysis::{analyze_cancellable, AnalysisOptions, LoopCandidate, MAX_ANALYSED_SECONDS};
use crate::decode::decode_file_cancellable;
use crate::looper::PreparedLoop;
use crate::prepare::{match_loudness, resample};
use crate::source::{audio_files, run_musicgpt, MusicGptError, MusicGptRequest};
use crossbeam_channel::{Receiver, Sender};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq)]
pub enum ClipSource {
    /// Nothing configured yet.
    None,
    MusicGpt(MusicGptRequest),
    /// Every audio file of a folder, in name order, again and again; new files join.
    Folder(PathBuf),
    Files(Vec<PathBuf>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClipWorkerConfig {
    pub source: ClipSource,
    /// Whether to prepare clips at all (the editor's Start/Stop).
    pub active: bool,
    pub sample_rate: u32,
    pub loudness_target: f64,
    /// Loops kept ready in the looper's queue.
    pub prefetch: usize,
    pub bpm: Option<f64>,
}

impl Default for ClipWorkerConfig {
    fn default() -> Self {
        ClipWorkerConfig {
            source: ClipSource::None,
            active: true,
            sample_rate: 48_000,
            loudness_target: -16.0,
            prefetch: 2,
            bpm: None,
        }
    }
}

/// A prepared clip as the editor shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipView {
    pub label: String,
    pub sample_rate: u32,
    pub frames: usize,
    /// (min, max) per column, for drawing the waveform.
    pub peaks: Vec<(f32, f32)>,
    pub loop_start: usize,
    pub loop_end: usize,
    /// The other candidates found, at the playback rate.
    pub candidates: Vec<(usize, usize, f64)>,
    pub bpm: Option<f64>,
    /// The prepared audio, kept for the newest clips only (for "save this loop").
    pub audio: Option<Arc<crate::clip::Clip>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClipStatus {
    /// Clips prepared, oldest first (the last ones the looper has or will play).
    pub prepared: Vec<ClipView>,
    /// What the worker is doing now, e.g. "MusicGPT: 12.3 s".
    pub busy: Option<String>,
    pub last_error: Option<String>,
    pub clips_made: u64,
}

pub enum ClipCommand {
    Configure(ClipWorkerConfig),
    /// Stop the MusicGPT run in progress.
    Cancel,
}

const PEAK_COLUMNS: usize = 600;
const STATUS_KEEP: usize = 8;

pub struct ClipWorker {
    commands: Sender<ClipCommand>,
    handle: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    cancel: Arc<AtomicBool>,
    status: Arc<Mutex<ClipStatus>>,
}

impl ClipWorker {
    pub fn spawn(
        queue: rtrb::Producer<Box<PreparedLoop>>,
        returned: rtrb::Consumer<Box<PreparedLoop>>,
        config: ClipWorkerConfig,
    ) -> std::io::Result<Self> {
        let (commands, rx) = crossbeam_channel::unbounded();
        let stop = Arc::new(AtomicBool::new(false));
        let cancel = Arc::new(AtomicBool::new(false));
        let status = Arc::new(Mutex::new(ClipStatus::default()));
        let (s, c, st) = (stop.clone(), cancel.clone(), status.clone());
        let handle = std::thread::Builder::new()
            .name("infini-loop-clips".into())
            .spawn(move || run(queue, returned, config, rx, &s, &c, &st))?;
        Ok(ClipWorker {
            commands,
            handle: Some(handle),
            stop,
            cancel,
            status,
        })
    }

    pub fn send(&self, command: ClipCommand) {
        if matches!(command, ClipCommand::Cancel) {
            self.cancel.store(true, Ordering::SeqCst);
        }
        let _ = self.commands.send(command);
    }

    pub fn commands(&self) -> Sender<ClipCommand> {
        self.commands.clone()
    }

    pub fn status(&self) -> Arc<Mutex<ClipStatus>> {
        self.status.clone()
    }
}

impl Drop for ClipWorker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // A MusicGPT run in progress is killed.
        self.cancel.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn peaks(samples: &[f32]) -> Vec<(f32, f32)> {
    let per = samples.len().div_ceil(PEAK_COLUMNS).max(1);
    samples
        .chunks(per)
        .map(|c| {
            c.iter()
                .fold((0.0f32, 0.0f32), |(lo, hi), s| (lo.min(*s), hi.max(*s)))
        })
        .collect()
}

/// Why a file could not become a playable loop.
#[derive(Debug, thiserror::Error)]
pub enum PrepareClipError {
    // The cause is part of the message (not a `source`), so it is said once.
    #[error("{path}: {problem}")]
    Decode {
        path: String,
        problem: crate::decode::DecodeError,
    },
    #[error("{path}: {problem}")]
    Analysis {
        path: String,
        problem: crate::analysis::AnalysisError,
    },
    #[error("{0}: no loop found")]
    NoLoop(String),
    #[error(transparent)]
    Resample(#[from] crate::prepare::PrepareError),
    #[error("stopped")]
    Stopped,
}

/// Decodes, analyses, resamples and loudness-matches one file. Each stage ends early, and the
/// whole returns, soon after `stop` is set: a worker being torn down waits for none of them.
pub fn prepare_clip(
    path: &Path,
    config: &ClipWorkerConfig,
    stop: &AtomicBool,
) -> Result<(PreparedLoop, ClipView), PrepareClipError> {
    let stopped = || {
        if stop.load(Ordering::Relaxed) {
            Err(PrepareClipError::Stopped)
        } else {
            Ok(())
        }
    };
    let shown = || path.display().to_string();
    let mut clip =
        decode_file_cancellable(path, stop).map_err(|problem| PrepareClipError::Decode {
            path: shown(),
            problem,
        })?;
    stopped()?;
    // Loops are found in the clip's first minutes only; the rest is never played.
    let keep = (MAX_ANALYSED_SECONDS * f64::from(clip.sample_rate)) as usize;
    for channel in &mut clip.channels {
        channel.truncate(keep);
    }
    let options = AnalysisOptions {
        bpm: config.bpm,
        ..Default::default()
    };
    let report = analyze_cancellable(&clip, &options, stop).map_err(|problem| {
        PrepareClipError::Analysis {
            path: shown(),
            problem,
        }
    })?;
    let best: &LoopCandidate = report
        .best()
        .ok_or_else(|| PrepareClipError::NoLoop(shown()))?;
    stopped()?;
    let scale = f64::from(config.sample_rate) / f64::from(clip.sample_rate);
    let mut clip = resample(&clip, config.sample_rate)?;
    stopped()?;
    // A silent clip keeps its level; the analysis already refused fully silent ones.
    let _ = match_loudness(&mut clip, config.loudness_target);
    let clip = Arc::new(clip);
    let at = |f: usize| ((f as f64 * scale).round() as usize).min(clip.frames());
    let label = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "clip".into());
    let view = ClipView {
        label: label.clone(),
        sample_rate: config.sample_rate,
        frames: clip.frames(),
        peaks: peaks(&clip.mono()),
        loop_start: at(best.start),
        loop_end: at(best.end),
        candidates: report
            .candidates
            .iter()
            .map(|c| (at(c.start), at(c.end), c.score))
            .collect(),
        bpm: report.bpm,
        audio: Some(clip.clone()),
    };
    let prepared = PreparedLoop {
        start: at(best.start),
        end: at(best.end),
        clip,
        label,
    };
    Ok((prepared, view))
}

fn run(
    mut queue: rtrb::Producer<Box<PreparedLoop>>,
    mut returned: rtrb::Consumer<Box<PreparedLoop>>,
    mut config: ClipWorkerConfig,
    commands: Receiver<ClipCommand>,
    stop: &AtomicBool,
    cancel: &AtomicBool,
    status: &Mutex<ClipStatus>,
) {
    let temp = std::env::temp_dir().join(format!(
        "infini-loop-{}-{:x}",
        std::process::id(),
        (status as *const _ as usize) & 0xffff
    ));
    let capacity = queue.buffer().capacity();
    let mut next_file = 0usize;
    let mut retry_at: Option<Instant> = None;
    let set = |f: &dyn Fn(&mut ClipStatus)| {
        if let Ok(mut s) = status.lock() {
            f(&mut s);
        }
    };
    while !stop.load(Ordering::SeqCst) {
        while let Ok(command) = commands.try_recv() {
            match command {
                ClipCommand::Configure(c) => {
                    config = c;
                    retry_at = None;
                }
                ClipCommand::Cancel => {}
            }
        }
        cancel.store(false, Ordering::SeqCst);
        while let Ok(done) = returned.pop() {
            drop(done);
        }
        let queued = capacity - queue.slots();
        let waiting = retry_at.is_some_and(|t| Instant::now() < t);
        if !config.active || queued >= config.prefetch.max(1) || waiting {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        let path: Result<(PathBuf, bool), String> = match &config.source {
            ClipSource::None => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            ClipSource::MusicGpt(request) => {
                // Commands that arrive meanwhile are kept for the next turn.
                let result = run_musicgpt(request, &temp, cancel, |elapsed| {
                    set(&|s| s.busy = Some(format!("MusicGPT: {:.1} s", elapsed.as_secs_f64())));
                });
                set(&|s| s.busy = None);
                match result {
                    Ok(p) => Ok((p, true)),
                    Err(MusicGptError::Cancelled) => continue,
                    Err(e) => Err(e.to_string()),
                }
            }
            ClipSource::Folder(folder) => {
                let files = audio_files(folder);
                if files.is_empty() {
                    Err(MusicGptError::EmptyFolder(folder.display().to_string()).to_string())
                } else {
                    let p = files[next_file % files.len()].clone();
                    next_file += 1;
                    Ok((p, false))
                }
            }
            ClipSource::Files(files) => {
                if files.is_empty() {
                    Err("no files given".into())
                } else {
                    let p = files[next_file % files.len()].clone();
                    next_file += 1;
                    Ok((p, false))
                }
            }
        };
        let prepared = path.and_then(|(p, temporary)| {
            set(&|s| {
                s.busy = Some(format!(
                    "preparing {}",
                    p.file_name().unwrap_or_default().to_string_lossy()
                ))
            });
            let result = prepare_clip(&p, &config, stop);
            if temporary {
                let _ = std::fs::remove_file(&p);
            }
            set(&|s| s.busy = None);
            result.map_err(|e| e.to_string())
        });
        match prepared {
            Ok((clip, view)) => {
                if queue.push(Box::new(clip)).is_ok() {
                    set(&|s| {
                        s.prepared.push(view.clone());
                        if s.prepared.len() > STATUS_KEEP {
                            s.prepared.remove(0);
                        }
                        // Audio is kept for the clip playing and those waiting only.
                        let n = s.prepared.len();
                        for old in s.prepared.iter_mut().take(n.saturating_sub(4)) {
                            old.audio = None;
                        }
                        s.clips_made += 1;
                        s.last_error = None;
                    });
                }
            }
            Err(e) => {
                set(&|s| s.last_error = Some(e.clone()));
                retry_at = Some(Instant::now() + Duration::from_secs(1));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&temp);
}
