//! `cargo xtask`: set-up, bundling, the demo and the test suite, each one command.
//!
//! `bundle` and `known-packages` go to nice-plug-xtask; `demo`, `test`, `install` and `lint`
//! are ours. Commands that need Debian packages install the missing ones first (apt-get as
//! root, `sudo -n` otherwise) or say exactly what to install.

mod real_music;

use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What building needs: ALSA for MIDI and audio I/O, JACK's headers (found with pkg-config),
/// X11 and GL for the editors, a C++ compiler and libclang for the time stretch (Signalsmith
/// Stretch, built and bound by its build script).
const BUILD_PACKAGES: &[&str] = &[
    "pkg-config",
    "g++",
    "libclang-dev",
    "libasound2-dev",
    "libx11-xcb-dev",
    "libxcb1-dev",
    "libgl-dev",
    "libxcursor-dev",
    "libxrandr-dev",
    "libxcb-icccm4-dev",
    "libxcb-dri2-0-dev",
    "libjack-jackd2-dev",
];

/// What the tests need besides: a Python with `mido` reads our MIDI files as a second opinion,
/// a JACK server (run with its dummy driver) for the JACK end-to-end test, a small General
/// MIDI SoundFont for the synth tests, and what the editor's smoke test runs on.
const TEST_PACKAGES: &[&str] = &[
    "python3",
    "python3-mido",
    // `kill`, to stop test servers and send Ctrl+C to the standalone.
    "procps",
    "jackd2",
    "timgm6mb-soundfont",
    // The editor's smoke test: a headless X server, software OpenGL, and a screenshot tool.
    "xvfb",
    "xauth",
    "libgl1-mesa-dri",
    "imagemagick",
];

/// The plugin packages `cargo xtask bundle` turns into bundles.
const PLUGIN_PACKAGES: &[&str] = &["infinite-jazz", "infini-loop"];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    nice_plug_xtask::chdir_workspace_root()?;
    match args.first().map(String::as_str) {
        Some("demo") => demo(),
        Some("test") => test(&args[1..]),
        Some("install") => install(),
        Some("lint") => lint(),
        Some("validate") => validate(),
        Some("real-music") => real_music::prepare(&target_dir()),
        Some("help") | Some("--help") | None => {
            println!(
                "cargo xtask demo      install system packages, bundle both plugins, render a demo take\n\
                 cargo xtask test      install what the tests need, then run the whole workspace's tests\n\
                 cargo xtask install   bundle, then copy the bundles to ~/.clap and ~/.vst3\n\
                 cargo xtask lint      cargo fmt --check and clippy with warnings as errors\n\
                 cargo xtask validate  bundle both plugins, then clap-validator (validate, fuzz) and the VST3 validator (-e)\n\
                 cargo xtask real-music  fetch the real recordings Infini Loop is measured on (Debian packages)\n\
                 cargo xtask bundle <package> [--release]   (nice-plug-xtask)"
            );
            Ok(())
        }
        _ => nice_plug_xtask::main_with_args("cargo xtask", args),
    }
}

fn run(command: &mut Command) -> Result<()> {
    eprintln!("+ {command:?}");
    let status = command
        .status()
        .with_context(|| format!("could not start {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string()))
}

/// The build's target folder (`CARGO_TARGET_DIR` or `target`).
fn target_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| "target".into()))
}

fn is_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Installs the Debian packages that are missing. On a system without dpkg it only explains.
fn ensure_packages(packages: &[&str]) -> Result<()> {
    if Command::new("dpkg-query")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!(
            "note: not a Debian-like system; make sure the equivalents of these are installed: {}",
            packages.join(" ")
        );
        return Ok(());
    }
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !is_installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let prefix: Vec<&str> = if is_root() {
        vec![]
    } else if Command::new("sudo")
        .args(["-n", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        vec!["sudo", "-n"]
    } else {
        bail!(
            "missing system packages; install them with:\n  sudo apt-get install -y {}",
            missing.join(" ")
        );
    };
    let apt = |args: &[&str]| {
        let mut all: Vec<&str> = prefix.clone();
        all.push("apt-get");
        all.extend_from_slice(args);
        let mut c = Command::new(all[0]);
        c.args(&all[1..]).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    run(&mut apt(&["update", "-q"]))?;
    let mut install = vec!["install", "-y", "-q", "--no-install-recommends"];
    install.extend_from_slice(&missing);
    run(&mut apt(&install))
}

/// A Python interpreter that can `import mido`: the first of `python3` and Debian's own.
fn python_with_mido() -> Result<String> {
    let candidates = ["python3", "/usr/bin/python3"];
    let has_mido = |python: &str| {
        Command::new(python)
            .args(["-c", "import mido"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if let Some(p) = candidates.iter().find(|p| has_mido(p)) {
        return Ok(p.to_string());
    }
    // A python3 outside Debian's packages (pyenv, a venv) gets mido from PyPI.
    let _ = run(Command::new("python3").args(["-m", "pip", "install", "-q", "mido"]));
    candidates
        .iter()
        .find(|p| has_mido(p))
        .map(|p| p.to_string())
        .ok_or_else(|| anyhow!("no Python interpreter can import mido; install python3-mido"))
}

fn bundle_plugins() -> Result<()> {
    let mut args = vec!["bundle".to_string()];
    for p in PLUGIN_PACKAGES {
        args.extend(["-p".to_string(), p.to_string()]);
    }
    args.push("--release".to_string());
    nice_plug_xtask::main_with_args("cargo xtask", args)
}

fn demo() -> Result<()> {
    ensure_packages(BUILD_PACKAGES)?;
    bundle_plugins()?;
    run(cargo().args([
        "build",
        "--release",
        "-p",
        "infinite-jazz-standalone",
        "--bin",
        "infinite-jazz",
    ]))?;
    std::fs::create_dir_all("demo")?;
    run(Command::new("target/release/infinite-jazz").args([
        "render",
        "--bars",
        "32",
        "--seed",
        "7",
        "--out",
        "demo/take.mid",
        "--save-output",
    ]))?;
    println!(
        "\nPlugins: target/bundled/ (Infinite Jazz.clap, Infinite Jazz.vst3, Infini Loop.clap, Infini Loop.vst3)\n\
         Demo take: demo/take.mid and its tracker text demo/take.txt\n\
         Install the plugins for your DAW with: cargo xtask install"
    );
    Ok(())
}

/// Runs one tier of the suite and says how long it took.
fn tier(name: &str, command: &mut Command) -> Result<()> {
    eprintln!("\n=== tier: {name}");
    let started = std::time::Instant::now();
    let result = run(command);
    eprintln!(
        "=== tier: {name}: {} in {:.0} s",
        if result.is_ok() { "passed" } else { "FAILED" },
        started.elapsed().as_secs_f64()
    );
    result
}

/// `--test NAME` for every test file in `folder` (cargo names a test target after its file).
fn test_targets(folder: &Path) -> Result<Vec<String>> {
    let mut stems = Vec::new();
    for entry in
        std::fs::read_dir(folder).with_context(|| format!("reading {}", folder.display()))?
    {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "rs") {
            if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                stems.push(stem.to_string());
            }
        }
    }
    stems.sort();
    Ok(stems
        .into_iter()
        .flat_map(|stem| ["--test".to_string(), stem])
        .collect())
}

/// The plugins as the host-level tests load them and `validate` bundles them: debug builds
/// with nice-plug's `assert_process_allocs`. Built with the whole workspace's features (the
/// libraries only), so only nice-plug and the plugins compile again; `-p <plugin>` would
/// resolve features for the plugins alone and compile most of their dependencies a second time.
fn build_checked_plugins() -> Result<()> {
    let features: Vec<String> = PLUGIN_PACKAGES
        .iter()
        .map(|p| format!("{p}/assert_process_allocs"))
        .collect();
    run(cargo().args([
        "build",
        "--workspace",
        "--lib",
        "--features",
        &features.join(","),
    ]))
}

/// The whole suite in two tiers: the fast unit and property tests of every library and
/// binary first (they fail in a minute or two), then the host-level tests in `tests/` (the
/// plugins in a CLAP host, JACK, Xvfb, real-time latency, the command-line tools).
///
/// Both tiers select the whole workspace and choose their test targets by name: cargo unifies
/// dependency features over the packages it is asked to build, so `-p integration-tests` or
/// `--exclude` would compile much of the dependency tree a second time.
fn test(extra: &[String]) -> Result<()> {
    ensure_packages(&[BUILD_PACKAGES, TEST_PACKAGES].concat())?;
    let python = python_with_mido()?;
    let started = std::time::Instant::now();
    let mut unit_targets = Vec::new();
    let mut members = vec![PathBuf::from("standalone")];
    for entry in std::fs::read_dir("plugin")? {
        members.push(entry?.path());
    }
    for member in members {
        let tests = member.join("tests");
        if tests.is_dir() {
            unit_targets.extend(test_targets(&tests)?);
        }
    }
    tier(
        "unit and property tests",
        cargo()
            .args(["test", "--workspace", "--lib", "--bins"])
            .args(&unit_targets)
            .args(extra)
            .env("INFINITE_JAZZ_PYTHON", &python),
    )?;
    // The host-level tests drive the built binaries and plugins: built here, once, and found
    // there by the tests (INFINITE_JAZZ_PREBUILT) instead of each building its own.
    run(cargo().args(["build", "--workspace", "--bins"]))?;
    build_checked_plugins()?;
    // The recordings the loop search is judged on (downloaded once).
    real_music::prepare(&target_dir())?;
    tier(
        "host-level tests",
        cargo()
            .args(["test", "--workspace"])
            .args(test_targets(Path::new("tests/tests"))?)
            .args(extra)
            .env("INFINITE_JAZZ_PYTHON", &python)
            .env("INFINITE_JAZZ_PREBUILT", "1"),
    )?;
    eprintln!(
        "\nall tiers passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Where a validator is: on PATH, or in `../shared/tools` beside the checkout.
fn validator(name: &str) -> Result<PathBuf> {
    if let Ok(path) = which(name) {
        return Ok(path);
    }
    let shared = Path::new("..").join("shared").join("tools").join(name);
    if shared.is_file() {
        return Ok(shared.canonicalize()?);
    }
    bail!(
        "{name} was not found on PATH or in ../shared/tools. clap-validator is built from \
         free-audio's clap-validator repository (cargo build --release); the VST3 validator \
         (`validator`) comes with Steinberg's VST3 SDK (build the SDK's hosting examples). Put \
         them on PATH as clap-validator and vst3-validator."
    )
}

fn which(name: &str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").ok_or_else(|| anyhow!("no PATH"))?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| anyhow!("{name} is not on PATH"))
}

/// Bundles both plugins (debug, with nice-plug's `assert_process_allocs`, so the validators'
/// process calls are checked for allocations too), then runs clap-validator's validation and a
/// bounded fuzz on the CLAP bundles and the VST3 validator's extensive tests on the VST3 ones.
fn validate() -> Result<()> {
    ensure_packages(BUILD_PACKAGES)?;
    let clap = validator("clap-validator")?;
    let vst3 = validator("vst3-validator")?;
    // The same build the host-level tests load (nothing to compile after `test`), bundled.
    build_checked_plugins()?;
    let target_dir = target_dir();
    for p in PLUGIN_PACKAGES {
        nice_plug_xtask::bundle(&target_dir, p, &[], false)?;
    }
    let started = std::time::Instant::now();
    for name in ["Infinite Jazz", "Infini Loop"] {
        let bundle = |ext: &str| PathBuf::from("target/bundled").join(format!("{name}.{ext}"));
        run(Command::new(&clap)
            .args(["validate", "--only-failed"])
            .arg(bundle("clap")))?;
        run(Command::new(&clap)
            .args(["fuzz", "--duration", "20s", "--jobs", "2"])
            .arg(bundle("clap")))?;
        run(Command::new(&vst3).arg("-e").arg(bundle("vst3")))?;
    }
    eprintln!(
        "both plugins passed clap-validator (validate and fuzz) and the VST3 validator (-e) in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn install() -> Result<()> {
    ensure_packages(BUILD_PACKAGES)?;
    bundle_plugins()?;
    let home = std::env::var_os("HOME").ok_or_else(|| anyhow!("HOME is not set"))?;
    let home = PathBuf::from(home);
    for entry in std::fs::read_dir("target/bundled")? {
        let path = entry?.path();
        let dest = match path.extension().and_then(|e| e.to_str()) {
            Some("clap") => home.join(".clap"),
            Some("vst3") => home.join(".vst3"),
            _ => continue,
        };
        std::fs::create_dir_all(&dest)?;
        let target = dest.join(path.file_name().unwrap_or_default());
        copy_recursively(&path, &target)?;
        println!("installed {}", target.display());
    }
    Ok(())
}

fn copy_recursively(from: &Path, to: &Path) -> Result<()> {
    if from.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_recursively(&entry.path(), &to.join(entry.file_name()))?;
        }
    } else {
        std::fs::copy(from, to).with_context(|| format!("copying {}", from.display()))?;
    }
    Ok(())
}

fn lint() -> Result<()> {
    ensure_packages(BUILD_PACKAGES)?;
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))
}
