//! Helpers for the host-level tests: where the workspace's built artifacts are, built on
//! demand so that `cargo test` works alone as well as under `cargo xtask test`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The workspace root (this crate lives in `tests/`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// Builds `package` (debug profile, optional features) and returns the target directory it
/// was built into. Tests in one process build one at a time. Under `cargo xtask test`
/// (`INFINITE_JAZZ_PREBUILT`) everything is already built, in one go, and nothing is built here.
/// (Used by the CLAP tests too.)
pub fn cargo_build(package: &str, features: &[&str]) -> PathBuf {
    if std::env::var_os("INFINITE_JAZZ_PREBUILT").is_some() {
        return target_dir().join("debug");
    }
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace_root())
        .args(["build", "--quiet", "--package", package]);
    if !features.is_empty() {
        command.args(["--features", &features.join(",")]);
    }
    let status = command.status().expect("cargo runs");
    assert!(status.success(), "building {package} failed");
    target_dir().join("debug")
}

/// Path of a binary of the workspace, built first.
pub fn binary(package: &str, name: &str) -> PathBuf {
    cargo_build(package, &[]).join(name)
}

/// A fresh scratch folder for one test.
pub fn scratch_dir(test: &str) -> PathBuf {
    let dir = target_dir().join("test-scratch").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Fails the test with the command's error output unless it succeeded.
pub fn assert_success(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes mono 32-bit float WAV audio: the test clips, shaped like MusicGen's output.
pub fn write_mono_wav(path: &Path, sample_rate: u32, samples: impl IntoIterator<Item = f32>) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create the WAV file");
    for s in samples {
        w.write_sample(s).expect("write a sample");
    }
    w.finalize().expect("finish the WAV file");
}

pub mod clap_host;
pub mod conformance;
pub mod http_server;

/// Builds a plugin package as a debug cdylib (with `features`) and returns the library path.
pub fn plugin_library(package: &str, features: &[&str]) -> PathBuf {
    let dir = cargo_build(package, features);
    dir.join(format!("lib{}.so", package.replace('-', "_")))
}

/// Whether a point of the swung 16th grid (swing ratio `swing`) falls in
/// `(beat − bps/2, beat + bps/2]`: i.e. the sample at `beat` is the one nearest that grid
/// point, as the timing model requires (within 10⁻⁹ beat). `bps` is beats per sample or frame.
pub fn on_swung_grid(beat: f64, bps: f64, swing: f64) -> bool {
    let k = beat.floor();
    [k - 1.0, k, k + 1.0].iter().any(|base| {
        [0.0, swing / 2.0, swing, swing + (1.0 - swing) / 2.0]
            .iter()
            .map(|o| base + o)
            .any(|g| g > beat - bps / 2.0 + 1e-9 && g <= beat + bps / 2.0 + 1e-9)
    })
}

pub mod real_music;
