//! `cargo xtask real-music`: the real recordings Infini Loop is judged on, from Debian packages
//! (game soundtracks and tracker modules under free licences), into
//! `target/real-music/sources/`. Nothing is committed: the packages are downloaded, unpacked
//! and the modules rendered (openmpt123) here; the clips are cut from these in memory by the
//! measurement that uses them (`cargo bench -p infini-loop-engine --bench real_music`).

use super::{ensure_packages, run};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian packages with music in them.
const PACKAGES: &[&str] = &["pingus-data", "funnyboat", "chromium-bsu-data"];

/// (file inside the unpacked packages, name of the source): marches, a waltz-like tune,
/// techno-ish and calm modules, a rock soundtrack, a game loop; with and without drums, from
/// about 90 to 180 BPM.
const PIECES: &[(&str, &str)] = &[
    ("usr/share/games/pingus/data/music/pingus-1.it", "pingus-1"),
    ("usr/share/games/pingus/data/music/pingus-2.it", "pingus-2"),
    ("usr/share/games/pingus/data/music/pingus-5.it", "pingus-5"),
    (
        "usr/share/games/pingus/data/music/goin_march.it",
        "goin-march",
    ),
    ("usr/share/games/pingus/data/music/sorcerer.it", "sorcerer"),
    (
        "usr/share/games/pingus/data/music/rough_journey.it",
        "rough-journey",
    ),
    (
        "usr/share/games/pingus/data/music/the_big_march_in_space.it",
        "big-march-in-space",
    ),
    ("usr/share/games/pingus/data/music/gd-myla.it", "gd-myla"),
    ("usr/share/games/pingus/data/music/gd-cancn.it", "gd-cancn"),
    (
        "usr/share/games/funnyboat/data/JDruid-Trip_on_the_Funny_Boat.ogg",
        "funny-boat",
    ),
    (
        "usr/share/games/chromium-bsu/wav/music_game.wav",
        "chromium-game",
    ),
];

/// Where the sources go.
pub fn sources_dir(target: &Path) -> PathBuf {
    target.join("real-music").join("sources")
}

pub fn prepare(target: &Path) -> Result<()> {
    let sources = sources_dir(target);
    let present = |name: &str| {
        std::fs::read_dir(&sources).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                e.path()
                    .file_stem()
                    .is_some_and(|stem| stem.to_string_lossy() == name)
            })
        })
    };
    if PIECES.iter().all(|(_, name)| present(name)) {
        return Ok(());
    }
    ensure_packages(&["openmpt123"])?;
    let base = target.join("real-music");
    let debs = base.join("debs");
    let root = base.join("root");
    for dir in [&debs, &root, &sources] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    for package in PACKAGES {
        let have = std::fs::read_dir(&debs)?.flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{package}_"))
        });
        if !have {
            run(Command::new("apt-get")
                .arg("download")
                .arg(package)
                .current_dir(&debs))?;
        }
    }
    for deb in std::fs::read_dir(&debs)?.flatten() {
        run(Command::new("dpkg-deb")
            .arg("-x")
            .arg(deb.path())
            .arg(&root))?;
    }
    for (inside, name) in PIECES {
        let from = root.join(inside);
        if !from.exists() {
            bail!("{} is not in the packages", from.display());
        }
        let extension = from
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if matches!(extension.as_str(), "it" | "xm" | "s3m" | "mod") {
            // Two minutes are plenty to cut clips from; the clips are resampled later.
            let out = sources.join(format!("{name}.wav"));
            run(Command::new("openmpt123")
                .args(["--render", "--quiet", "--force", "--no-float"])
                .args(["--samplerate", "44100", "--channels", "2"])
                .args(["--end-time", "120", "--output-type", "wav"])
                .arg(&from))?;
            let rendered = PathBuf::from(format!("{}.wav", from.display()));
            std::fs::rename(&rendered, &out)
                .with_context(|| format!("moving {} to {}", rendered.display(), out.display()))?;
        } else {
            std::fs::copy(&from, sources.join(format!("{name}.{extension}")))
                .with_context(|| format!("copying {}", from.display()))?;
        }
    }
    eprintln!(
        "real music: {} pieces in {}",
        PIECES.len(),
        sources.display()
    );
    Ok(())
}
