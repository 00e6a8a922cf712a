//! Where clips come from: MusicGPT runs, or a folder of audio files. Both run on a worker
//! thread, never the audio thread.

use crate::decode::decode_file;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use thiserror::Error;

/// Why no clip came from a MusicGPT run or a folder.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MusicGptError {
    /// No executable at the configured path or on PATH (what was looked for).
    #[error("MusicGPT was not found ({0}). Install it with `cargo install musicgpt`, `brew install gabotechs/taps/musicgpt`, or a release binary, or set its path")]
    NotFound(String),
    /// The process could not be started (the system's reason).
    #[error("cannot start MusicGPT: {0}")]
    Start(String),
    /// It ran and failed.
    #[error("MusicGPT failed ({status}): {detail}")]
    Failed {
        /// Its exit status.
        status: String,
        /// The end of what it wrote to stderr.
        detail: String,
    },
    /// It ran past the request's timeout (seconds) and was killed.
    #[error("MusicGPT did not finish within {0} s and was stopped")]
    TimedOut(u64),
    /// Stopped on request.
    #[error("generation cancelled")]
    Cancelled,
    /// It finished but left no audio that decodes (the decoder's reason).
    #[error("MusicGPT's output is not usable audio: {0}")]
    BadOutput(String),
    /// The request itself is out of bounds (which part).
    #[error("{0}")]
    Invalid(String),
    /// A folder source without a single audio file.
    #[error("no audio files in {0}")]
    EmptyFolder(String),
}

/// One MusicGPT run.
#[derive(Debug, Clone, PartialEq)]
pub struct MusicGptRequest {
    /// The program to run: a path from this machine's settings, or `musicgpt` on PATH.
    pub executable: PathBuf,
    /// What to make, in words.
    pub prompt: String,
    /// small, medium or large.
    pub model: String,
    /// 5 to 30.
    pub seconds: u32,
    /// The run is killed after this long.
    pub timeout: Duration,
}

impl MusicGptRequest {
    /// Refuses lengths and model names MusicGPT does not take.
    pub fn validate(&self) -> Result<(), MusicGptError> {
        if !(5..=30).contains(&self.seconds) {
            return Err(MusicGptError::Invalid(
                "seconds must be between 5 and 30".into(),
            ));
        }
        if !["small", "medium", "large"].contains(&self.model.as_str()) {
            return Err(MusicGptError::Invalid(
                "the model must be small, medium or large".into(),
            ));
        }
        if self.prompt.trim().is_empty() {
            return Err(MusicGptError::Invalid("enter a prompt".into()));
        }
        Ok(())
    }
}

/// How much of MusicGPT's stderr is kept for error messages (the rest is read and dropped, so
/// a chatty process never blocks on a full pipe or dies of SIGPIPE).
const STDERR_TAIL: usize = 4096;

/// The arguments of one run. The prompt comes last, after `--`, so no prompt (`-c …`,
/// `--model …`) can ever be read as an option.
pub fn musicgpt_args(request: &MusicGptRequest, output: &Path) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = [
        "--model",
        request.model.as_str(),
        "--secs",
        &request.seconds.to_string(),
        "--output",
    ]
    .iter()
    .map(Into::into)
    .collect();
    args.push(output.as_os_str().to_owned());
    for flag in ["--no-playback", "--no-interactive", "--"] {
        args.push(flag.into());
    }
    args.push(request.prompt.clone().into());
    args
}

/// A running MusicGPT in a process group of its own, so a timeout or Stop ends it together with
/// any helper it started.
struct RunningGroup {
    child: std::process::Child,
    stderr: Option<std::process::ChildStderr>,
    tail: Vec<u8>,
}

impl RunningGroup {
    fn spawn(request: &MusicGptRequest, out: &Path) -> Result<Self, MusicGptError> {
        let mut command = Command::new(&request.executable);
        command
            .args(musicgpt_args(request, out))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            command.process_group(0);
        }
        let mut child = command.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                MusicGptError::NotFound(request.executable.display().to_string())
            } else {
                MusicGptError::Start(e.to_string())
            }
        })?;
        let stderr = child.stderr.take();
        #[cfg(unix)]
        if let Some(pipe) = &stderr {
            use nix::fcntl::{fcntl, FcntlArg, OFlag};
            // Read only what is there: a helper that keeps the pipe open must not hold us.
            let _ = fcntl(pipe, FcntlArg::F_SETFL(OFlag::O_NONBLOCK));
        }
        Ok(RunningGroup {
            child,
            stderr,
            tail: Vec::new(),
        })
    }

    /// Reads what stderr holds now, keeping the last [`STDERR_TAIL`] bytes.
    fn drain(&mut self) {
        use std::io::Read;
        let Some(pipe) = self.stderr.as_mut() else {
            return;
        };
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => {
                    self.stderr = None;
                    return;
                }
                Ok(n) => {
                    self.tail.extend_from_slice(&buf[..n]);
                    if self.tail.len() > STDERR_TAIL {
                        let cut = self.tail.len() - STDERR_TAIL;
                        self.tail.drain(..cut);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // WouldBlock: nothing more for now. Any other error: stop reading.
                Err(e) => {
                    if e.kind() != std::io::ErrorKind::WouldBlock {
                        self.stderr = None;
                    }
                    return;
                }
            }
        }
    }

    /// Kills every process of the group (MusicGPT and whatever it started) and reaps MusicGPT.
    fn kill(&mut self) {
        self.signal_group();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn signal_group(&self) {
        #[cfg(unix)]
        {
            use nix::sys::signal::{killpg, Signal};
            use nix::unistd::Pid;
            if let Ok(pid) = i32::try_from(self.child.id()) {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }

    fn tail_lines(&self) -> String {
        let text = String::from_utf8_lossy(&self.tail);
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        lines[lines.len().saturating_sub(3)..].join(" / ")
    }
}

/// Runs MusicGPT once, writing into `dir`: the prompt is an argument after `--` (never a shell,
/// never an option), the process group is killed on timeout or when `cancel` is set, and the
/// output must decode. `progress` is called with the elapsed time while it runs.
pub fn run_musicgpt(
    request: &MusicGptRequest,
    dir: &Path,
    cancel: &AtomicBool,
    mut progress: impl FnMut(Duration),
) -> Result<PathBuf, MusicGptError> {
    request.validate()?;
    std::fs::create_dir_all(dir).map_err(|e| MusicGptError::Start(e.to_string()))?;
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let out = dir.join(format!("musicgpt-{}-{n}.wav", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let mut run = RunningGroup::spawn(request, &out)?;
    let started = Instant::now();
    let status = loop {
        run.drain();
        match run.child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => {
                run.kill();
                return Err(MusicGptError::Start(e.to_string()));
            }
        }
        let stop = if cancel.load(Ordering::Relaxed) {
            Some(MusicGptError::Cancelled)
        } else if started.elapsed() > request.timeout {
            Some(MusicGptError::TimedOut(request.timeout.as_secs()))
        } else {
            None
        };
        if let Some(error) = stop {
            run.kill();
            let _ = std::fs::remove_file(&out);
            return Err(error);
        }
        progress(started.elapsed());
        std::thread::sleep(Duration::from_millis(50));
    };
    run.drain();
    // Helpers MusicGPT left behind have no business running on.
    run.signal_group();
    if !status.success() {
        let _ = std::fs::remove_file(&out);
        return Err(MusicGptError::Failed {
            status: status.to_string(),
            detail: run.tail_lines(),
        });
    }
    if let Err(e) = decode_file(&out) {
        let _ = std::fs::remove_file(&out);
        return Err(MusicGptError::BadOutput(e.to_string()));
    }
    Ok(out)
}

const AUDIO_EXTENSIONS: [&str; 5] = ["wav", "flac", "ogg", "mp3", "oga"];

/// The audio files of a folder, sorted by name (re-read each time, so new files appear).
pub fn audio_files(folder: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.is_file()
                        && p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                            AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())
                        })
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_validated_and_a_missing_binary_is_explained() {
        let mut r = MusicGptRequest {
            executable: "/nonexistent/musicgpt".into(),
            prompt: "jazz".into(),
            model: "medium".into(),
            seconds: 10,
            timeout: Duration::from_secs(5),
        };
        let dir = std::env::temp_dir().join(format!("ij-musicgpt-{}", std::process::id()));
        let cancel = AtomicBool::new(false);
        let err = run_musicgpt(&r, &dir, &cancel, |_| {}).expect_err("not found");
        assert!(matches!(err, MusicGptError::NotFound(_)));
        assert!(err.to_string().contains("cargo install musicgpt"));
        r.seconds = 40;
        assert!(matches!(
            run_musicgpt(&r, &dir, &cancel, |_| {}),
            Err(MusicGptError::Invalid(_))
        ));
    }

    #[test]
    fn folders_list_audio_files_in_order() {
        let dir = std::env::temp_dir().join(format!("ij-folder-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        for name in ["b.wav", "a.flac", "notes.txt", "c.MP3"] {
            std::fs::write(dir.join(name), b"x").expect("write");
        }
        let names: Vec<String> = audio_files(&dir)
            .iter()
            .map(|p| {
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(names, vec!["a.flac", "b.wav", "c.MP3"]);
    }
}
