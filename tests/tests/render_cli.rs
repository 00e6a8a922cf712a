//! `infinite-jazz render` and `txt2midi`, run as a user runs them, their files read back by
//! midly and by an independent reader (Python's `mido`).

use integration_tests::{binary, scratch_dir};
use midly::{MetaMessage, MidiMessage, Smf, TrackEventKind};
use std::process::Command;

fn render(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new(binary("infinite-jazz-standalone", "infinite-jazz"))
        .current_dir(dir)
        .args(["render", "--bars", "16", "--seed", "7", "--out", "take.mid"])
        .args(extra)
        .output()
        .expect("binary runs")
}

/// `infinite-jazz txt2midi INPUT OUTPUT` run in `dir`.
fn txt2midi(dir: &std::path::Path, input: &str, output: &str) -> std::process::Output {
    Command::new(binary("infinite-jazz-standalone", "infinite-jazz"))
        .current_dir(dir)
        .args(["txt2midi", input, output])
        .output()
        .expect("binary runs")
}

/// Renders in a fresh scratch folder named `name`, which it returns with the command's
/// messages and the MIDI file written, after checking the command succeeded.
fn render_ok(name: &str, extra: &[&str]) -> (std::path::PathBuf, String, Vec<u8>) {
    let dir = scratch_dir(name);
    let out = render(&dir, extra);
    integration_tests::assert_success(&out);
    let bytes = std::fs::read(dir.join("take.mid")).expect("take.mid");
    (
        dir,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        bytes,
    )
}

#[test]
fn render_writes_a_four_track_swung_file() {
    let (dir, _, bytes) = render_ok("render_four_tracks", &["--save-output", "--tempo", "150"]);
    let smf = Smf::parse(&bytes).expect("valid SMF");
    assert_eq!(smf.tracks.len(), 4);
    let mut tempo = None;
    let mut channels = Vec::new();
    for track in &smf.tracks {
        let (mut ons, mut offs) = (0, 0);
        let mut channel = None;
        for ev in track {
            match ev.kind {
                TrackEventKind::Meta(MetaMessage::Tempo(t)) => tempo = Some(t.as_int()),
                TrackEventKind::Midi {
                    channel: c,
                    message,
                } => {
                    channel = Some(c.as_int());
                    match message {
                        MidiMessage::NoteOn { .. } => ons += 1,
                        MidiMessage::NoteOff { .. } => offs += 1,
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        assert!(ons > 0, "every instrument plays");
        assert_eq!(ons, offs, "every note ends");
        channels.push(channel);
    }
    assert_eq!(tempo, Some(400_000));
    assert_eq!(channels, vec![Some(0), Some(9), Some(1), Some(2)]);
    assert!(
        dir.join("take.txt").exists(),
        "--save-output writes the tracker text"
    );
}

#[test]
fn txt2midi_reproduces_the_rendered_file() {
    let dir = scratch_dir("txt2midi_round_trip");
    let out = render(
        &dir,
        &[
            "--save-output",
            "--swing",
            "0.7",
            "--form",
            "blues",
            "--key",
            "Bb",
        ],
    );
    integration_tests::assert_success(&out);
    let out = txt2midi(&dir, "take.txt", "again.mid");
    integration_tests::assert_success(&out);
    assert_eq!(
        std::fs::read(dir.join("take.mid")).ok(),
        std::fs::read(dir.join("again.mid")).ok()
    );
}

#[test]
fn bad_arguments_and_files_give_clear_errors() {
    let dir = scratch_dir("render_errors");
    let out = render(&dir, &["--swing", "0.9"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--swing must be between"));
    std::fs::write(dir.join("junk.txt"), "no music here, sorry").expect("write");
    let out = txt2midi(&dir, "junk.txt", "junk.mid");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no instrument block"));
    assert!(!dir.join("junk.mid").exists());
}

#[test]
fn render_in_other_meters_writes_their_bars_and_time_signatures() {
    for (meter, numerator, log2_denominator, quarters) in
        [("3/4", 3, 2, 3.0), ("5/4", 5, 2, 5.0), ("6/8", 6, 3, 3.0)]
    {
        let (dir, _, bytes) = render_ok(
            &format!("render_meter_{}", meter.replace('/', "_")),
            &["--save-output", "--meter", meter],
        );
        let smf = Smf::parse(&bytes).expect("valid SMF");
        let mut signatures = Vec::new();
        let mut bass_ons = Vec::new();
        let mut end = 0u32;
        for track in &smf.tracks {
            let mut tick = 0u32;
            for ev in track {
                tick += ev.delta.as_int();
                match ev.kind {
                    TrackEventKind::Meta(MetaMessage::TimeSignature(n, d, _, _)) => {
                        signatures.push((tick, n, d))
                    }
                    TrackEventKind::Midi {
                        channel,
                        message: MidiMessage::NoteOn { .. },
                    } if channel.as_int() == 0 => bass_ons.push(tick),
                    _ => {}
                }
            }
            end = end.max(tick);
        }
        assert_eq!(
            signatures,
            vec![(0, numerator, log2_denominator)],
            "{meter}"
        );
        let bar_ticks = (quarters * 960.0) as u32;
        assert_eq!(end, 16 * bar_ticks, "{meter}: sixteen whole bars");
        for bar in 0..16 {
            assert!(
                bass_ons.contains(&(bar * bar_ticks)),
                "{meter}: the bass plays the downbeat of bar {}",
                bar + 1
            );
        }
        // The saved take says its meter and converts back to the same file.
        let text = std::fs::read_to_string(dir.join("take.txt")).expect("take.txt");
        assert!(text.contains(&format!("# meter: {meter}")));
        let out = txt2midi(&dir, "take.txt", "again.mid");
        integration_tests::assert_success(&out);
        assert_eq!(std::fs::read(dir.join("again.mid")).ok(), Some(bytes));
    }
    let dir = scratch_dir("render_bad_meter");
    let out = render(&dir, &["--meter", "3/5"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--meter \"3/5\""),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn render_plays_each_feel_with_its_defaults() {
    // A waltz is in 3/4 unless told otherwise, at the waltz's tempo.
    let (dir, stderr, bytes) =
        render_ok("render_feel_waltz", &["--save-output", "--feel", "waltz"]);
    let smf = Smf::parse(&bytes).expect("SMF");
    let meta: Vec<MetaMessage> = smf.tracks[0]
        .iter()
        .filter_map(|e| match e.kind {
            TrackEventKind::Meta(m) => Some(m),
            _ => None,
        })
        .collect();
    assert!(
        meta.contains(&MetaMessage::TimeSignature(3, 2, 24, 8)),
        "{meta:?}"
    );
    assert!(meta
        .iter()
        .any(|m| matches!(m, MetaMessage::Tempo(t) if t.as_int() == 400_000)));
    let text = std::fs::read_to_string(dir.join("take.txt")).expect("take.txt");
    assert!(text.contains("# feel: waltz") && text.contains("# meter: 3/4"));
    assert!(stderr.contains("jazz waltz"));

    // A bossa is straight: every note starts on a 16th (240 ticks), whatever --swing says.
    let (_, _, bytes) = render_ok(
        "render_feel_bossa",
        &["--feel", "bossa", "--tempo", "130", "--swing", "0.7"],
    );
    let smf = Smf::parse(&bytes).expect("SMF");
    let mut onsets = 0;
    for track in &smf.tracks {
        let mut tick = 0u32;
        for ev in track {
            tick += ev.delta.as_int();
            if let TrackEventKind::Midi {
                message: MidiMessage::NoteOn { .. },
                ..
            } = ev.kind
            {
                assert_eq!(tick % 240, 0, "a swung onset at tick {tick}");
                onsets += 1;
            }
        }
    }
    assert!(onsets > 100);

    let out = render(&scratch_dir("render_feel_bad"), &["--feel", "polka"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--feel"));
}

/// Python with `mido`: `cargo xtask test` finds (or installs) one and names it here; without
/// it, the first interpreter on the usual paths that has mido.
fn python() -> String {
    if let Ok(p) = std::env::var("INFINITE_JAZZ_PYTHON") {
        return p;
    }
    ["python3", "/usr/bin/python3"]
        .into_iter()
        .find(|p| {
            Command::new(p)
                .args(["-c", "import mido"])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .unwrap_or("python3")
        .to_string()
}

#[test]
fn another_program_reads_the_take() {
    let dir = scratch_dir("render_mido");
    let out = render(&dir, &[]);
    integration_tests::assert_success(&out);
    let script = r#"
import mido, sys
mid = mido.MidiFile(sys.argv[1])
names = [t.name for t in mid.tracks]
ons = [sum(1 for m in t if m.type == 'note_on' and m.velocity > 0) for t in mid.tracks]
sig = [m for m in mid.tracks[0] if m.type == 'time_signature'][0]
print(len(mid.tracks), ','.join(names), min(ons), f"{sig.numerator}/{sig.denominator}", round(mid.length, 3))
"#;
    let out = Command::new(python())
        .args([
            "-c",
            script,
            dir.join("take.mid").to_str().expect("utf-8 path"),
        ])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{} cannot run ({e}); run the tests with `cargo xtask test`",
                python()
            )
        });
    assert!(
        out.status.success(),
        "mido could not read the file (is mido installed? `cargo xtask test` installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = report.split_whitespace().collect();
    assert_eq!(fields[0], "4");
    assert_eq!(fields[1], "Bass,Drums,Piano,Sax");
    assert!(fields[2].parse::<usize>().expect("count") > 0);
    assert_eq!(fields[3], "4/4");
    // 16 bars of 4/4 at 120 BPM last 32 s; the last note ends on the final bar line.
    let length: f64 = fields[4].parse().expect("length");
    assert!((length - 32.0).abs() < 0.01, "length {length}");
}
