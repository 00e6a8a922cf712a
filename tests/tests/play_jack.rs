//! `infinite-jazz play --backend jack` end to end: a JACK server with its dummy driver, the
//! standalone as a client, and a capture client here that records every MIDI event with its
//! absolute frame. Note-ons must sit on the swung grid to the frame, and Ctrl+C must leave no
//! note sounding.

use integration_tests::{binary, on_swung_grid};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SAMPLE_RATE: f64 = 48_000.0;
const SWING: f64 = 0.62;

/// A JACK server of our own (its own name, so it never meets a user's), stopped on drop.
/// One at a time: libjack keeps process-wide state, and the server's name travels through the
/// environment.
struct JackServer {
    child: Child,
    name: String,
    _one_at_a_time: std::sync::MutexGuard<'static, ()>,
}

static ONE_SERVER: Mutex<()> = Mutex::new(());

impl JackServer {
    fn start(tag: &str) -> JackServer {
        let guard = ONE_SERVER.lock().unwrap_or_else(|e| e.into_inner());
        let name = format!("ij-test-{tag}-{}", std::process::id());
        let child = Command::new("jackd")
            .args([
                "-n",
                &name,
                "--no-realtime",
                "-d",
                "dummy",
                "-r",
                "48000",
                "-p",
                "256",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("jackd runs (cargo xtask test installs jackd2)");
        let server = JackServer {
            child,
            name,
            _one_at_a_time: guard,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if server.client("probe").is_ok() {
                return server;
            }
            assert!(Instant::now() < deadline, "the JACK server did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn client(&self, name: &str) -> Result<jack::Client, jack::Error> {
        // The server name travels in the environment, for our clients and the child's.
        std::env::set_var("JACK_DEFAULT_SERVER", &self.name);
        jack::Client::new(name, jack::ClientOptions::NO_START_SERVER).map(|(c, _)| c)
    }
}

impl Drop for JackServer {
    /// SIGTERM lets jackd remove its entry from JACK's shared-memory registry; SIGKILL would
    /// leave it behind, and after eight stale entries no server can start on the machine.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Captured = Arc<Mutex<Vec<(u64, [u8; 3])>>>;
/// (transport frame while rolling, bytes).
type CapturedOnTransport = Arc<Mutex<Vec<(Option<u64>, [u8; 3])>>>;

/// A client named `capture` with one MIDI input, `capture:in`.
fn capture_client(server: &JackServer) -> (jack::Client, jack::Port<jack::MidiIn>) {
    let client = server.client("capture").expect("capture client");
    let port = client
        .register_port("in", jack::MidiIn::default())
        .expect("port");
    (client, port)
}

/// A client with one MIDI input, `capture:in`, recording (absolute frame, bytes).
fn capture(server: &JackServer) -> (impl Drop, Captured) {
    let (client, port) = capture_client(server);
    let events: Captured = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let handler = jack::contrib::ClosureProcessHandler::new(
        move |_: &jack::Client, ps: &jack::ProcessScope| {
            let cycle = u64::from(ps.last_frame_time());
            if let Ok(mut sink) = sink.lock() {
                for e in port.iter(ps) {
                    let mut bytes = [0u8; 3];
                    for (i, b) in e.bytes.iter().take(3).enumerate() {
                        bytes[i] = *b;
                    }
                    sink.push((cycle + u64::from(e.time), bytes));
                }
            }
            jack::Control::Continue
        },
    );
    let active = client.activate_async((), handler).expect("activate");
    (ActiveGuard(Some(active)), events)
}

struct ActiveGuard<N, P>(Option<jack::AsyncClient<N, P>>);
impl<N, P> Drop for ActiveGuard<N, P> {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            let _ = c.deactivate();
        }
    }
}

fn play(server: &JackServer, extra: &[&str]) -> Child {
    Command::new(binary("infinite-jazz-standalone", "infinite-jazz"))
        .env("JACK_DEFAULT_SERVER", &server.name)
        .env(
            "XDG_CONFIG_HOME",
            integration_tests::target_dir().join("no-user-config"),
        )
        .args([
            "play",
            "--backend",
            "jack",
            "--client-name",
            "ij",
            "--connect",
            "capture:in",
            "--seed",
            "5",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("standalone runs")
}

fn wait_for(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the standalone did not finish in time");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every note-on has a note-off on its channel and key, in order.
/// Sends Ctrl+C (SIGINT) to the standalone and waits for it to end.
fn ctrl_c(child: &mut Child) -> std::process::ExitStatus {
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    wait_for(child, Duration::from_secs(10))
}

/// [`assert_balanced`] for events noted with the transport's frame.
fn assert_balanced_on_transport(events: &[(Option<u64>, [u8; 3])]) {
    let as_frames: Vec<(u64, [u8; 3])> = events.iter().map(|(f, b)| (f.unwrap_or(0), *b)).collect();
    assert_balanced(&as_frames);
}

fn assert_balanced(events: &[(u64, [u8; 3])]) {
    let mut sounding = [[false; 128]; 16];
    for (frame, b) in events {
        let (kind, ch, key) = (
            b[0] & 0xF0,
            usize::from(b[0] & 0x0F),
            usize::from(b[1] & 0x7F),
        );
        match kind {
            0x90 if b[2] > 0 => {
                assert!(!sounding[ch][key], "double note-on at frame {frame}");
                sounding[ch][key] = true;
            }
            0x80 | 0x90 => {
                assert!(
                    sounding[ch][key],
                    "note-off without note-on at frame {frame}"
                );
                sounding[ch][key] = false;
            }
            _ => {}
        }
    }
    assert_eq!(
        sounding.iter().flatten().filter(|s| **s).count(),
        0,
        "notes left sounding"
    );
}

#[test]
fn jack_output_is_frame_accurate_and_ctrl_c_leaves_no_stuck_note() {
    let server = JackServer::start("play");
    let (_capture, events) = capture(&server);

    // Six bars at 200 BPM, then the standalone stops by itself.
    let mut child = play(&server, &["--bars", "6", "--tempo", "200"]);
    let status = wait_for(&mut child, Duration::from_secs(30));
    let stderr = std::io::read_to_string(child.stderr.take().expect("stderr")).unwrap_or_default();
    assert!(status.success(), "{stderr}");
    std::thread::sleep(Duration::from_millis(200));
    let captured = events.lock().expect("events").clone();
    let ons: Vec<u64> = captured
        .iter()
        .filter(|(_, b)| b[0] & 0xF0 == 0x90 && b[2] > 0)
        .map(|(f, _)| *f)
        .collect();
    assert!(ons.len() > 60, "{} note-ons", ons.len());
    // Beat 0 is the first note-on (the bass and the ride always play on the downbeat).
    let t0 = ons[0];
    let bps = 200.0 / 60.0 / SAMPLE_RATE;
    for f in &ons {
        let beat = (f - t0) as f64 * bps;
        let on_grid = on_swung_grid(beat, bps, SWING);
        assert!(
            on_grid,
            "note-on at frame {} (beat {beat:.6}) is off the grid",
            f - t0
        );
    }
    let last_on_beat = (ons[ons.len() - 1] - t0) as f64 * bps;
    assert!(
        last_on_beat < 24.0 + 0.5,
        "--bars 6 stops after six bars ({last_on_beat})"
    );
    assert_balanced(&captured);

    // Ctrl+C in the middle of the music.
    events.lock().expect("events").clear();
    let mut child = play(&server, &["--tempo", "150"]);
    std::thread::sleep(Duration::from_millis(2500));
    let status = ctrl_c(&mut child);
    let stderr = std::io::read_to_string(child.stderr.take().expect("stderr")).unwrap_or_default();
    assert!(status.success(), "Ctrl+C is a clean exit: {stderr}");
    std::thread::sleep(Duration::from_millis(200));
    let captured = events.lock().expect("events").clone();
    assert!(captured.iter().filter(|(_, b)| b[0] & 0xF0 == 0x90).count() > 20);
    assert_balanced(&captured);
    assert!(
        captured
            .iter()
            .any(|(_, b)| b[0] & 0xF0 == 0xB0 && b[1] == 123),
        "all-notes-off on the used channels"
    );
}

#[test]
fn a_missing_jack_server_or_midi_port_is_a_clear_error() {
    let out = Command::new(binary("infinite-jazz-standalone", "infinite-jazz"))
        .env("JACK_DEFAULT_SERVER", "ij-no-such-server")
        .args(["play", "--backend", "jack", "--bars", "1"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach a JACK server"));
    let out = Command::new(binary("infinite-jazz-standalone", "infinite-jazz"))
        .args([
            "play",
            "--backend",
            "hardware",
            "--port",
            "no-such-port",
            "--bars",
            "1",
        ])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Without ALSA (as in these containers) the message says so; with it, it lists the ports.
    assert!(
        stderr.contains("MIDI output is not available here")
            || stderr.contains("no MIDI output port matches"),
        "{stderr}"
    );
    let out = Command::new(binary("infinite-jazz-standalone", "infinite-jazz"))
        .args(["play", "--list-ports"])
        .output()
        .expect("runs");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!text.contains("panicked"), "{text}");
    assert!(
        text.contains("MIDI output is not available") || out.status.success(),
        "{text}"
    );
}

/// A capture client that notes, for each event, where JACK's transport was (in frames; `None`
/// while it stands still).
fn capture_on_transport(server: &JackServer) -> (impl Drop, CapturedOnTransport) {
    let (client, port) = capture_client(server);
    let events: CapturedOnTransport = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let handler = jack::contrib::ClosureProcessHandler::new(
        move |c: &jack::Client, ps: &jack::ProcessScope| {
            let rolling = c
                .transport()
                .query()
                .ok()
                .filter(|s| s.state == jack::TransportState::Rolling)
                .map(|s| u64::from(s.pos.frame()));
            if let Ok(mut sink) = sink.lock() {
                for e in port.iter(ps) {
                    let mut bytes = [0u8; 3];
                    for (i, b) in e.bytes.iter().take(3).enumerate() {
                        bytes[i] = *b;
                    }
                    sink.push((rolling.map(|f| f + u64::from(e.time)), bytes));
                }
            }
            jack::Control::Continue
        },
    );
    let active = client.activate_async((), handler).expect("activate");
    (ActiveGuard(Some(active)), events)
}

#[test]
fn following_the_jack_transport() {
    let server = JackServer::start("transport");
    let (_capture, events) = capture_on_transport(&server);
    let mut child = play(&server, &["--tempo", "150", "--follow-jack-transport"]);
    std::thread::sleep(Duration::from_millis(1200));
    let ons = |v: &[(Option<u64>, [u8; 3])]| {
        v.iter()
            .filter(|(_, b)| b[0] & 0xF0 == 0x90 && b[2] > 0)
            .count()
    };
    assert_eq!(
        ons(&events.lock().expect("events")),
        0,
        "silent while the transport is stopped"
    );

    let control = server.client("control").expect("control client");
    control.transport().start().expect("transport starts");
    std::thread::sleep(Duration::from_millis(2500));
    control.transport().stop().expect("transport stops");
    std::thread::sleep(Duration::from_millis(500));
    let captured = events.lock().expect("events").clone();
    assert!(
        ons(&captured) > 10,
        "{} notes while rolling",
        ons(&captured)
    );
    let bps = 150.0 / 60.0 / SAMPLE_RATE;
    for (frame, b) in &captured {
        if b[0] & 0xF0 == 0x90 && b[2] > 0 {
            let frame = frame.expect("notes only while the transport rolls");
            let beat = frame as f64 * bps;
            let on_grid = on_swung_grid(beat, bps, SWING);
            assert!(
                on_grid,
                "note-on at transport frame {frame} (beat {beat:.6}) is off the grid"
            );
        }
    }
    assert_balanced_on_transport(&captured);
    assert!(ctrl_c(&mut child).success());
}

#[test]
fn the_standalone_ends_when_the_jack_server_goes_away() {
    let server = JackServer::start("gone");
    let (capture_guard, _events) = capture(&server);
    let mut child = play(&server, &["--tempo", "120"]);
    std::thread::sleep(Duration::from_millis(1500));
    drop(capture_guard);
    drop(server);
    let status = wait_for(&mut child, Duration::from_secs(15));
    let stderr = std::io::read_to_string(child.stderr.take().expect("stderr")).unwrap_or_default();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("the server went away"), "{stderr}");
}

/// The meter and tempo a test's timebase master reports.
struct Timebase {
    beats_per_bar: f64,
    bpm: f64,
}

/// A JACK timebase callback: bars, beats and ticks of `Timebase` at the transport's frame.
unsafe extern "C" fn timebase(
    _state: jack_sys::jack_transport_state_t,
    _nframes: jack_sys::jack_nframes_t,
    pos: *mut jack_sys::jack_position_t,
    _new_pos: std::ffi::c_int,
    arg: *mut std::ffi::c_void,
) {
    // SAFETY: JACK passes the position it is filling and the `Timebase` given at registration,
    // which the test keeps alive until the client is closed.
    let (pos, tb) = unsafe { (&mut *pos, &*(arg as *const Timebase)) };
    let ticks_per_beat = 1920.0;
    let frame = f64::from(pos.frame);
    let rate = f64::from(pos.frame_rate.max(1));
    let beats = frame * tb.bpm / 60.0 / rate;
    let bar = (beats / tb.beats_per_bar).floor();
    let in_bar = beats - bar * tb.beats_per_bar;
    pos.valid |= jack_sys::JackPositionBBT;
    pos.bar = bar as i32 + 1;
    pos.beat = in_bar.floor() as i32 + 1;
    pos.tick = (in_bar.fract() * ticks_per_beat) as i32;
    pos.bar_start_tick = bar * tb.beats_per_bar * ticks_per_beat;
    pos.beats_per_bar = tb.beats_per_bar as f32;
    pos.beat_type = 4.0;
    pos.ticks_per_beat = ticks_per_beat;
    pos.beats_per_minute = tb.bpm;
}

#[test]
fn following_a_timebase_master_in_three_four() {
    let server = JackServer::start("timebase");
    let (_capture, events) = capture_on_transport(&server);
    // The master: 3/4 at 150 BPM; the standalone is asked for 4/4 at 120 and must follow it.
    let master = server.client("master").expect("master client");
    let master = master
        .activate_async(
            (),
            jack::contrib::ClosureProcessHandler::new(
                |_: &jack::Client, _: &jack::ProcessScope| jack::Control::Continue,
            ),
        )
        .expect("activate the master");
    let tb = Box::new(Timebase {
        beats_per_bar: 3.0,
        bpm: 150.0,
    });
    // SAFETY: `tb` outlives the client (dropped at the end of the test, after the server is
    // told to release the timebase), and the callback only reads it.
    let registered = unsafe {
        jack_sys::jack_set_timebase_callback(
            master.as_client().raw(),
            0,
            Some(timebase),
            &*tb as *const Timebase as *mut std::ffi::c_void,
        )
    };
    assert_eq!(registered, 0, "the test client becomes timebase master");
    let mut child = play(&server, &["--tempo", "120", "--follow-jack-transport"]);
    std::thread::sleep(Duration::from_millis(1200));
    master
        .as_client()
        .transport()
        .start()
        .expect("transport starts");
    std::thread::sleep(Duration::from_millis(6000));
    master
        .as_client()
        .transport()
        .stop()
        .expect("transport stops");
    std::thread::sleep(Duration::from_millis(500));
    let captured = events.lock().expect("events").clone();
    let bps = 150.0 / 60.0 / SAMPLE_RATE;
    let near = |beat: f64, line: f64| (beat - line).abs() <= bps;
    let mut bass_beats = Vec::new();
    for (frame, b) in &captured {
        if b[0] & 0xF0 == 0x90 && b[2] > 0 {
            let beat = frame.expect("notes only while the transport rolls") as f64 * bps;
            assert!(on_swung_grid(beat, bps, SWING), "note-on at beat {beat:.6}");
            match (b[0] & 0x0F, b[1]) {
                (0, _) => bass_beats.push(beat),
                // The hi-hat foot: beat 2 of each 3/4 bar, never 4/4's beats 2 and 4.
                (9, 44) => assert!(
                    near(beat.rem_euclid(3.0), 1.0),
                    "hi-hat at beat {beat:.4}, not on 2 of a 3/4 bar"
                ),
                _ => {}
            }
        }
    }
    // Six seconds at 150 BPM are 15 beats: the bass on every downbeat of the master's bars.
    for bar in 1..4 {
        let line = f64::from(bar) * 3.0;
        assert!(
            bass_beats.iter().any(|b| near(*b, line)),
            "no bass on the downbeat at beat {line}: {bass_beats:?}"
        );
    }
    assert_balanced_on_transport(&captured);
    assert!(ctrl_c(&mut child).success());
    // SAFETY: the master client is still open.
    unsafe { jack_sys::jack_release_timebase(master.as_client().raw()) };
    let _ = master.deactivate();
    drop(tb);
}

/// A client `keys` that plays the player's part: it takes the band's first note-on in
/// `heard` (the capture's) as beat 0, and sends `notes` ((beat, length, key) at `tempo`) from
/// `keys:out` at their frames. It does not listen to the band itself: a loop in JACK's graph
/// would delay one side by a period.
fn keys(server: &JackServer, heard: Captured, notes: &[(f64, f64, u8)], tempo: f64) -> impl Drop {
    let client = server.client("keys").expect("keys client");
    let mut output = client
        .register_port("out", jack::MidiOut::default())
        .expect("port");
    let frames_per_beat = SAMPLE_RATE * 60.0 / tempo;
    let mut schedule: Vec<(u64, [u8; 3])> = notes
        .iter()
        .flat_map(|(beat, length, key)| {
            [
                ((beat * frames_per_beat) as u64, [0x90, *key, 100]),
                (((beat + length) * frames_per_beat) as u64, [0x80, *key, 0]),
            ]
        })
        .collect();
    schedule.sort();
    let mut t0: Option<u64> = None;
    let mut next = 0;
    let handler = jack::contrib::ClosureProcessHandler::new(
        move |_: &jack::Client, ps: &jack::ProcessScope| {
            let cycle = u64::from(ps.last_frame_time());
            let frames = u64::from(ps.n_frames());
            if t0.is_none() {
                if let Ok(heard) = heard.try_lock() {
                    t0 = heard
                        .iter()
                        .find(|(_, b)| b[0] & 0xF0 == 0x90 && b[2] > 0)
                        .map(|(f, _)| *f);
                }
            }
            if let Some(t0) = t0 {
                let mut writer = output.writer(ps);
                while let Some((at, bytes)) = schedule.get(next) {
                    let frame = t0 + at;
                    if frame >= cycle + frames {
                        break;
                    }
                    if frame >= cycle {
                        let _ = writer.write(&jack::RawMidi {
                            time: (frame - cycle) as u32,
                            bytes,
                        });
                    }
                    next += 1;
                }
            }
            jack::Control::Continue
        },
    );
    ActiveGuard(Some(client.activate_async((), handler).expect("activate")))
}

#[test]
fn a_player_on_a_jack_midi_input_passes_through_and_trades_with_the_sax() {
    let server = JackServer::start("player");
    let (_capture, events) = capture(&server);
    let tempo = 200.0;
    // Turns of two bars, the player's first: a lick in the player's second turn (bars 5-6;
    // the first begins before the player knows where beat 0 is).
    let lick = [(0.0, 60), (1.0, 63), (1.5, 65), (2.5, 67), (3.0, 70)];
    let notes: Vec<(f64, f64, u8)> = [4usize, 5]
        .iter()
        .flat_map(|bar| lick.map(|(at, key)| (*bar as f64 * 4.0 + at, 0.4, key)))
        .collect();
    let _keys = keys(&server, events.clone(), &notes, tempo);
    let saved = integration_tests::scratch_dir("play_jack_player");
    let saved_arg = saved.to_string_lossy().into_owned();
    let mut child = play(
        &server,
        &[
            "--save-output",
            "--output-dir",
            &saved_arg,
            "--midi-in",
            "keys:out",
            "--listen",
            "trade2",
            "--bars",
            "8",
            "--tempo",
            "200",
        ],
    );
    let status = wait_for(&mut child, Duration::from_secs(40));
    let stderr = std::io::read_to_string(child.stderr.take().expect("stderr")).unwrap_or_default();
    assert!(status.success(), "{stderr}");
    std::thread::sleep(Duration::from_millis(200));
    let captured = events.lock().expect("events").clone();
    assert_balanced(&captured);
    let ons: Vec<(u64, u8, u8)> = captured
        .iter()
        .filter(|(_, b)| b[0] & 0xF0 == 0x90 && b[2] > 0)
        .map(|(f, b)| (*f, b[0] & 0x0F, b[1]))
        .collect();
    let t0 = ons
        .iter()
        .find(|(_, ch, _)| *ch != 3)
        .expect("the band played")
        .0;
    let bps = tempo / 60.0 / SAMPLE_RATE;
    let beat = |f: u64| (f as f64 - t0 as f64) * bps;
    // The player's notes pass through on channel 4, at their frames.
    let player: Vec<f64> = ons
        .iter()
        .filter(|(_, ch, _)| *ch == 3)
        .map(|(f, _, _)| beat(*f))
        .collect();
    assert_eq!(player.len(), notes.len(), "every note of the player");
    for (heard, (sent, _, _)) in player.iter().zip(&notes) {
        assert!((heard - sent).abs() < 2.0 * bps, "{heard} for {sent}");
    }
    // The sax keeps out of the player's turns and answers in its own.
    let sax: Vec<f64> = ons
        .iter()
        .filter(|(_, ch, _)| *ch == 2)
        .map(|(f, _, _)| beat(*f))
        .collect();
    for b in &sax {
        let bar = (b / 4.0 + 1e-6).floor() as usize;
        assert!(
            (bar / 2) % 2 == 1,
            "the sax played in the player's turn, bar {bar} (beat {b:.3})"
        );
    }
    let answer: Vec<f64> = sax.iter().copied().filter(|b| *b >= 24.0).collect();
    assert!(
        answer.len() >= 5,
        "the sax answered in bars 7-8: {answer:?}"
    );
    let on_lick = answer
        .iter()
        .filter(|b| {
            lick.iter()
                .any(|(at, _)| (b.rem_euclid(4.0) - at).abs() <= 0.2)
        })
        .count();
    assert!(
        on_lick * 10 >= answer.len() * 7,
        "{on_lick} of {} answering notes keep the player's rhythm: {answer:?}",
        answer.len()
    );
    // The saved take has the player's part as a fifth track, on the band's beats.
    let take = player_track(&saved.join("take.mid"));
    let sent: Vec<f64> = notes.iter().map(|(b, _, _)| *b).collect();
    assert_eq!(take.len(), sent.len(), "{take:?}");
    for (got, want) in take.iter().zip(&sent) {
        assert!((got - want).abs() < 0.01, "{got} for {want}");
    }
    // And the take's text shows the player's part under each section.
    let text = std::fs::read_to_string(saved.join("take.txt")).expect("take.txt");
    assert!(text.contains("\nPLAYER\nC4:100"), "the lick's first note");
}

/// The note-on beats of the track named "Player" in a MIDI file.
fn player_track(path: &std::path::Path) -> Vec<f64> {
    use midly::{MetaMessage, MidiMessage, Smf, Timing, TrackEventKind};
    let bytes = std::fs::read(path).expect("take.mid");
    let smf = Smf::parse(&bytes).expect("SMF");
    let Timing::Metrical(ppq) = smf.header.timing else {
        panic!("beats")
    };
    let mut found = None;
    for track in &smf.tracks {
        let mut tick = 0u32;
        let mut named = false;
        let mut ons = Vec::new();
        for e in track {
            tick += e.delta.as_int();
            match e.kind {
                TrackEventKind::Meta(MetaMessage::TrackName(n)) => named = n == b"Player",
                TrackEventKind::Midi {
                    message: MidiMessage::NoteOn { vel, .. },
                    ..
                } if vel.as_int() > 0 => ons.push(f64::from(tick) / f64::from(ppq.as_int())),
                _ => {}
            }
        }
        if named {
            found = Some(ons);
        }
    }
    found.expect("a Player track")
}
