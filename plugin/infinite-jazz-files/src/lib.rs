//! The one place the suite opens files named by someone else: a config, a prompt preset, a
//! take, an audio file, a SoundFont, an output path.
//!
//! Inputs are read with a bound that holds whatever the file claims to be (a device or a FIFO
//! reports a length of 0 and never ends), and anything that is not a regular file is refused
//! before a byte is read, without blocking on the open. Outputs are written to a temporary file
//! beside their destination and renamed into place, so a failed write never leaves half a file
//! where a good one was, and an output that is the same file as an input (or as another output,
//! also through a link) is refused before anything is written.

#![forbid(unsafe_code)]

pub mod background;

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use thiserror::Error;

/// What went wrong with a file. The message names the file and the problem once.
#[derive(Debug, Error)]
pub enum FileError {
    #[error("cannot open {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("{path} is {kind}, not a regular file")]
    NotRegular { path: String, kind: &'static str },
    #[error("{path} is larger than {limit} bytes")]
    TooLarge { path: String, limit: u64 },
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} is not UTF-8 text")]
    NotText { path: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
    #[error("cannot create the folder {path}: {reason}")]
    Folder { path: String, reason: String },
    #[error("{output} is the same file as the input {input}; choose another output")]
    SameAsInput { output: String, input: String },
    #[error("{path} would be written twice (two outputs name the same file)")]
    DuplicateOutput { path: String },
    #[error("the WAV file would hold {bytes} bytes of audio; the format ends at 4 GiB (shorten it, or lower the sample rate)")]
    WavTooLarge { bytes: u64 },
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// The error's own words, without Rust's "(os error N)" tail.
fn reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

fn kind_of(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a pipe (FIFO)";
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return "a device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// [`read_text_bounded`] for a file that may not be there: `None` when nothing is at `path`
/// (a settings file the user never wrote), an error for anything there that cannot be read.
pub fn read_text_if_present(path: &Path, limit: u64) -> Result<Option<String>, FileError> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(None);
    }
    read_text_bounded(path, limit).map(Some)
}

/// Opens a regular file for reading. A FIFO would block the open until a writer comes, so the
/// file is opened non-blocking and its type checked on the open handle (no race with a swap).
pub fn open_regular(path: &Path) -> Result<File, FileError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| FileError::Open {
        path: shown(path),
        reason: reason(&e),
    })?;
    let metadata = file.metadata().map_err(|e| FileError::Read {
        path: shown(path),
        reason: reason(&e),
    })?;
    if !metadata.is_file() {
        return Err(FileError::NotRegular {
            path: shown(path),
            kind: kind_of(&metadata.file_type()),
        });
    }
    Ok(file)
}

/// Reads a whole regular file of at most `limit` bytes. The bound is enforced by reading (at
/// most `limit + 1` bytes), not by the length the file reports.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    let file = open_regular(path)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| FileError::Read {
            path: shown(path),
            reason: reason(&e),
        })?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge {
            path: shown(path),
            limit,
        });
    }
    Ok(bytes)
}

/// [`read_bounded`] for UTF-8 text.
pub fn read_text_bounded(path: &Path, limit: u64) -> Result<String, FileError> {
    String::from_utf8(read_bounded(path, limit)?)
        .map_err(|_| FileError::NotText { path: shown(path) })
}

/// What makes two paths the same file: the device and inode of an existing file (so links and
/// symlinks count), or the canonical folder and name of one that does not exist yet.
#[derive(Debug, PartialEq, Eq)]
enum Identity {
    Inode(u64, u64),
    Planned(PathBuf),
}

fn identity(path: &Path) -> Identity {
    #[cfg(unix)]
    if let Ok(m) = std::fs::metadata(path) {
        use std::os::unix::fs::MetadataExt;
        return Identity::Inode(m.dev(), m.ino());
    }
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let folder = absolute
        .parent()
        .and_then(|p| p.canonicalize().ok())
        .unwrap_or_else(|| absolute.parent().map(Path::to_path_buf).unwrap_or_default());
    Identity::Planned(folder.join(absolute.file_name().unwrap_or_default()))
}

/// Refuses a set of outputs when one of them is an input, or two of them are the same file.
pub fn check_outputs(inputs: &[&Path], outputs: &[&Path]) -> Result<(), FileError> {
    let input_ids: Vec<(Identity, &Path)> = inputs.iter().map(|p| (identity(p), *p)).collect();
    let mut seen: Vec<Identity> = Vec::new();
    for output in outputs {
        let id = identity(output);
        if let Some((_, input)) = input_ids.iter().find(|(i, _)| *i == id) {
            return Err(FileError::SameAsInput {
                output: shown(output),
                input: shown(input),
            });
        }
        if seen.contains(&id) {
            return Err(FileError::DuplicateOutput {
                path: shown(output),
            });
        }
        seen.push(id);
    }
    Ok(())
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `path` whole or not at all: `write` fills a temporary file in the same folder, which
/// is renamed over `path` only when everything succeeded. The temporary file never survives a
/// failure.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<(), FileError> {
    let write_error = |e: &std::io::Error| FileError::Write {
        path: shown(path),
        reason: reason(e),
    };
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| FileError::Write {
        path: shown(path),
        reason: "no file name".into(),
    })?;
    if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(FileError::Write {
            path: shown(path),
            reason: "it is a directory".into(),
        });
    }
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let temp = folder.join(format!(
        ".{}.{}-{n}.partial",
        name.to_string_lossy(),
        std::process::id()
    ));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .map_err(|e| write_error(&e))?;
    let mut writer = BufWriter::new(file);
    let result = write(&mut writer)
        .and_then(|()| writer.flush())
        .and_then(|()| writer.get_ref().sync_all())
        .and_then(|()| std::fs::rename(&temp, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&temp);
        return Err(write_error(&e));
    }
    Ok(())
}

/// [`write_atomically`] for bytes already in memory.
pub fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    write_atomically(path, |w| w.write_all(bytes))
}

/// `folder` and its parents, created where missing (an output folder the user named).
pub fn create_folder(folder: &Path) -> Result<(), FileError> {
    std::fs::create_dir_all(folder).map_err(|e| FileError::Folder {
        path: shown(folder),
        reason: reason(&e),
    })
}

/// A path in `folder` named `stem.extension` that names no existing file: `stem-2.extension`,
/// `stem-3.extension` … when it does.
pub fn unused_path(folder: &Path, stem: &str, extension: &str) -> PathBuf {
    unused_stem(folder, stem, &[extension]).with_extension(extension)
}

/// A path in `folder` without extension, `stem` or `stem-2`, `stem-3` …, such that no file
/// exists with it and any of `extensions`: the common name of files written side by side.
pub fn unused_stem(folder: &Path, stem: &str, extensions: &[&str]) -> PathBuf {
    let free = |name: &str| {
        extensions
            .iter()
            .all(|ext| std::fs::symlink_metadata(folder.join(format!("{name}.{ext}"))).is_err())
    };
    let name = std::iter::once(stem.to_string())
        .chain((2u32..).map(|n| format!("{stem}-{n}")))
        .find(|name| free(name))
        .unwrap_or_else(|| stem.to_string());
    folder.join(name)
}

/// Refuses audio a plain RIFF WAV file cannot hold: its size fields are 32 bits, and a larger
/// file would be written with sizes that wrap (a corrupt file that reports success).
pub fn check_wav_size(frames: u64, channels: u16, bits_per_sample: u16) -> Result<(), FileError> {
    let bytes = frames
        .saturating_mul(u64::from(channels))
        .saturating_mul(u64::from(bits_per_sample / 8));
    // The RIFF size counts the data plus the header chunks (at most a few dozen bytes).
    if bytes > u64::from(u32::MAX) - 1024 {
        return Err(FileError::WavTooLarge { bytes });
    }
    Ok(())
}

/// The folder the user's own settings live in: `$XDG_CONFIG_HOME/infinite-jazz` or
/// `~/.config/infinite-jazz`. Nothing a project or a server says can choose it.
pub fn config_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("infinite-jazz"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config").join("infinite-jazz"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ij-files-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn devices_directories_and_pipes_are_refused_without_reading_or_blocking() {
        for (path, kind) in [
            ("/dev/zero", "a device"),
            ("/dev/urandom", "a device"),
            ("/", "a directory"),
        ] {
            match read_bounded(Path::new(path), 1024) {
                Err(FileError::NotRegular { kind: k, .. }) => assert_eq!(k, kind, "{path}"),
                other => panic!("{path}: {other:?}"),
            }
        }
        let dir = temp_dir("fifo");
        let fifo = dir.join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(made.success());
        // No writer ever opens it: a blocking open would hang this test forever.
        let err = read_bounded(&fifo, 1024).expect_err("a FIFO is refused");
        assert!(err.to_string().contains("pipe"), "{err}");
    }

    #[test]
    fn the_bound_is_enforced_by_reading() {
        let dir = temp_dir("bound");
        let path = dir.join("big.txt");
        std::fs::write(&path, vec![b'a'; 1001]).expect("write");
        assert!(matches!(
            read_bounded(&path, 1000),
            Err(FileError::TooLarge { limit: 1000, .. })
        ));
        assert_eq!(read_bounded(&path, 1001).expect("fits").len(), 1001);
        std::fs::write(&path, [0xff, 0xfe]).expect("write");
        assert!(matches!(
            read_text_bounded(&path, 10),
            Err(FileError::NotText { .. })
        ));
        assert!(read_text_if_present(&dir.join("absent.json"), 10)
            .expect("absent is fine")
            .is_none());
        assert!(read_text_if_present(Path::new("/dev/zero"), 10).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn outputs_that_are_inputs_or_each_other_are_refused_through_links() {
        let dir = temp_dir("same");
        let input = dir.join("in.wav");
        std::fs::write(&input, b"audio").expect("write");
        let symlink = dir.join("link.wav");
        std::os::unix::fs::symlink(&input, &symlink).expect("symlink");
        let hard = dir.join("hard.wav");
        std::fs::hard_link(&input, &hard).expect("hard link");
        let dotted = dir.join(".").join("in.wav");
        for output in [&input, &symlink, &hard, &dotted] {
            assert!(
                matches!(
                    check_outputs(&[&input], &[output]),
                    Err(FileError::SameAsInput { .. })
                ),
                "{}",
                output.display()
            );
        }
        let new_a = dir.join("out.mid");
        let new_b = dir.join("sub").join("..").join("out.mid");
        std::fs::create_dir_all(dir.join("sub")).expect("sub");
        assert!(matches!(
            check_outputs(&[&input], &[&new_a, &new_b]),
            Err(FileError::DuplicateOutput { .. })
        ));
        check_outputs(&[&input], &[&new_a, &dir.join("out.txt")]).expect("distinct");
        assert_eq!(std::fs::read(&input).expect("kept"), b"audio");
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = temp_dir("atomic");
        let path = dir.join("take.mid");
        std::fs::write(&path, b"good").expect("write");
        let err = write_atomically(&path, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        })
        .expect_err("fails");
        assert!(err.to_string().contains("disk full"), "{err}");
        assert_eq!(std::fs::read(&path).expect("kept"), b"good");
        let left: Vec<_> = std::fs::read_dir(&dir).expect("dir").flatten().collect();
        assert_eq!(left.len(), 1, "no temporary file remains");
        write_bytes_atomically(&path, b"new").expect("writes");
        assert_eq!(std::fs::read(&path).expect("read"), b"new");
        assert!(write_bytes_atomically(&dir, b"x").is_err(), "a directory");
    }

    #[test]
    fn unused_paths_never_name_an_existing_file() {
        let dir = temp_dir("unused");
        let first = unused_path(&dir, "loop", "wav");
        assert_eq!(first, dir.join("loop.wav"));
        std::fs::write(&first, b"x").expect("write");
        assert_eq!(unused_path(&dir, "loop", "wav"), dir.join("loop-2.wav"));
        // Side by side: a name is free only when it is free with every extension.
        std::fs::write(dir.join("take.txt"), "x").expect("write");
        std::fs::write(dir.join("take-2.mid"), "x").expect("write");
        assert_eq!(
            unused_stem(&dir, "take", &["mid", "txt"]),
            dir.join("take-3")
        );
    }

    #[test]
    fn wav_sizes_past_four_gib_are_refused() {
        check_wav_size(48_000 * 3600, 2, 16).expect("an hour of 16-bit stereo fits");
        assert!(check_wav_size(48_000 * 3600 * 7, 2, 16).is_err());
        assert!(check_wav_size(u64::MAX, 8, 32).is_err(), "no overflow");
    }
}
