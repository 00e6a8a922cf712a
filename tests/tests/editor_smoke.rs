//! Opens the Infinite Jazz editor headless (Xvfb, software OpenGL) through nice-plug's
//! standalone wrapper, takes a screenshot, and checks it shows something.

use integration_tests::{binary, scratch_dir};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Distinct colours in a screenshot (ImageMagick's `identify`).
fn colours(png: &Path) -> usize {
    let out = Command::new("identify")
        .args(["-format", "%k", png.to_str().expect("utf-8 path")])
        .output()
        .expect("identify runs (cargo xtask test installs imagemagick)");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

#[test]
fn the_infinite_jazz_editor_opens_headless_and_draws() {
    smoke("infinite-jazz-editor", 0);
}

#[test]
fn the_infini_loop_editor_opens_headless_and_draws() {
    smoke("infini-loop-editor", 1);
}

fn smoke(editor_binary: &str, offset: u32) {
    let dir = scratch_dir(&format!("editor_smoke_{editor_binary}"));
    // A display nobody holds: an Xvfb that was killed leaves its lock file behind.
    let mut number = 50 + (std::process::id() % 200) * 2 + offset;
    while Path::new(&format!("/tmp/.X{number}-lock")).exists()
        || Path::new(&format!("/tmp/.X11-unix/X{number}")).exists()
    {
        number += 2;
    }
    let display = format!(":{number}");
    let _xvfb = Killed(
        Command::new("Xvfb")
            .args([
                display.as_str(),
                "-screen",
                "0",
                "1280x900x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb runs (cargo xtask test installs xvfb)"),
    );
    let socket = format!("/tmp/.X11-unix/X{}", &display[1..]);
    // Xvfb's first start on a fresh machine compiles its keymaps, which takes many seconds
    // while the rest of the suite is building.
    let deadline = Instant::now() + Duration::from_secs(45);
    while !Path::new(&socket).exists() {
        assert!(Instant::now() < deadline, "Xvfb did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut editor = Killed(
        Command::new(binary("infinite-jazz-standalone", editor_binary))
            .args(["--backend", "dummy"])
            .env("DISPLAY", &display)
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .env("LIBGL_ALWAYS_SOFTWARE", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the editor runs"),
    );
    let shot = dir.join("editor.png");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = 0;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        if let Ok(Some(status)) = editor.0.try_wait() {
            let err = std::io::read_to_string(editor.0.stderr.take().expect("stderr"))
                .unwrap_or_default();
            panic!("the editor exited ({status}): {err}");
        }
        let ok = Command::new("import")
            .args([
                "-display",
                &display,
                "-window",
                "root",
                shot.to_str().expect("path"),
            ])
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            seen = colours(&shot);
            // A blank screen has one colour; an editor's controls and text have hundreds.
            if seen > 200 {
                break;
            }
        }
    }
    assert!(seen > 200, "the screenshot has only {seen} colours");
}
