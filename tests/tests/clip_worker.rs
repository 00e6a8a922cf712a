//! Infini Loop's clip worker with a stand-in MusicGPT (built in this test suite) that succeeds,
//! fails, hangs or writes garbage: each case ends in a clip or a clear status, never a stuck
//! worker, and temporary files are cleaned up.

use infini_loop_engine::looper::{looper, LooperSettings};
use infini_loop_engine::source::MusicGptRequest;
use infini_loop_engine::worker::{ClipCommand, ClipSource, ClipWorker, ClipWorkerConfig};
use integration_tests::binary;
use std::time::{Duration, Instant};

fn config(timeout: Duration) -> ClipWorkerConfig {
    ClipWorkerConfig {
        source: ClipSource::MusicGpt(MusicGptRequest {
            executable: binary("integration-tests", "fake-musicgpt"),
            prompt: "late night vibraphone".into(),
            model: "small".into(),
            seconds: 6,
            timeout,
        }),
        active: true,
        sample_rate: 48_000,
        loudness_target: -16.0,
        prefetch: 1,
        bpm: None,
        to_bpm: None,
        follow_host: false,
    }
}

fn wait_for(what: &str, limit: Duration, f: impl Fn() -> bool) {
    let end = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn musicgpt_success_failure_hang_and_garbage() {
    // The mode is read by the stand-in from its environment, inherited from this process;
    // the cases run one after another in this one test.
    let (_player, queue, returned) = looper(LooperSettings::default(), 4);
    std::env::set_var("FAKE_MUSICGPT_MODE", "ok");
    let worker =
        ClipWorker::spawn(queue, returned, config(Duration::from_secs(30))).expect("worker");
    let status = worker.status();
    wait_for("a prepared clip", Duration::from_secs(30), || {
        status.lock().map(|s| s.clips_made >= 1).unwrap_or(false)
    });
    {
        let s = status.lock().expect("status");
        let view = &s.prepared[0];
        assert!(view.loop_end > view.loop_start);
        assert_eq!(view.sample_rate, 48_000);
        assert!(s.last_error.is_none(), "{:?}", s.last_error);
    }
    drop(worker);

    for (mode, expected, timeout) in [
        ("fail", "MusicGPT failed", 30),
        ("garbage", "not usable audio", 30),
        ("hang", "did not finish within 2 s", 2),
    ] {
        std::env::set_var("FAKE_MUSICGPT_MODE", mode);
        let (_player, queue, returned) = looper(LooperSettings::default(), 4);
        let worker = ClipWorker::spawn(queue, returned, config(Duration::from_secs(timeout)))
            .expect("worker");
        let status = worker.status();
        wait_for(expected, Duration::from_secs(20), || {
            status
                .lock()
                .map(|s| {
                    s.last_error
                        .as_deref()
                        .is_some_and(|e| e.contains(expected))
                })
                .unwrap_or(false)
        });
        assert_eq!(status.lock().expect("status").clips_made, 0);
        drop(worker);
    }

    // Cancelling a hung run: the worker comes back at once, and dropping it does not wait.
    std::env::set_var("FAKE_MUSICGPT_MODE", "hang");
    let (_player, queue, returned) = looper(LooperSettings::default(), 4);
    let worker =
        ClipWorker::spawn(queue, returned, config(Duration::from_secs(60))).expect("worker");
    let status = worker.status();
    wait_for("the run to start", Duration::from_secs(10), || {
        status.lock().map(|s| s.busy.is_some()).unwrap_or(false)
    });
    let started = Instant::now();
    worker.send(ClipCommand::Configure(ClipWorkerConfig {
        active: false,
        ..config(Duration::from_secs(60))
    }));
    worker.send(ClipCommand::Cancel);
    wait_for("the cancel", Duration::from_secs(5), || {
        status.lock().map(|s| s.busy.is_none()).unwrap_or(false)
    });
    drop(worker);
    assert!(started.elapsed() < Duration::from_secs(5));
    std::env::remove_var("FAKE_MUSICGPT_MODE");
    // Every worker removed its temporary folder of generated clips.
    let prefix = format!("infini-loop-{}-", std::process::id());
    let leftovers: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .expect("temp dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

/// Tearing a worker down while it prepares a long file (ten minutes of audio) returns at once:
/// a plugin's `destroy()` must not wait for a worker's long job.
#[test]
fn dropping_a_worker_mid_preparation_does_not_wait_for_it() {
    let dir = integration_tests::scratch_dir("clip_worker_teardown");
    let rate = 48_000u32;
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(dir.join("long.wav"), spec).expect("create");
    for i in 0..600 * rate {
        let t = f64::from(i) / f64::from(rate);
        w.write_sample((8000.0 * (std::f64::consts::TAU * 220.0 * t).sin()) as i16)
            .expect("sample");
    }
    w.finalize().expect("finalize");
    for wait_ms in [0u64, 300, 1500, 4000] {
        let (_player, queue, returned) = looper(LooperSettings::default(), 4);
        let worker = ClipWorker::spawn(
            queue,
            returned,
            ClipWorkerConfig {
                source: ClipSource::Folder(dir.clone()),
                ..config(Duration::from_secs(1))
            },
        )
        .expect("worker");
        let status = worker.status();
        wait_for("preparation to start", Duration::from_secs(10), || {
            status.lock().map(|s| s.busy.is_some()).unwrap_or(false)
        });
        std::thread::sleep(Duration::from_millis(wait_ms));
        let started = Instant::now();
        drop(worker);
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "drop after {wait_ms} ms of preparation took {:?}",
            started.elapsed()
        );
    }
}

/// 12 s at 48 kHz of a bar of four notes lasting 2.4 s (100 BPM), in `dir`.
fn write_bar_clip(dir: &std::path::Path) -> std::path::PathBuf {
    let rate = 48_000u32;
    let bar = (2.4 * f64::from(rate)) as usize;
    let samples = (0..12 * rate as usize).map(|i| {
        let t = (i % bar) as f32 / rate as f32;
        let note = [220.0f32, 277.2, 329.6, 440.0][(i % bar) * 4 / bar];
        0.4 * (std::f32::consts::TAU * note * t).sin() * (-t * 3.0).exp()
    });
    let path = dir.join("bar.wav");
    integration_tests::write_mono_wav(&path, rate, samples);
    path
}

/// With a tempo to play at, a loop is prepared stretched to whole bars of it, to the frame.
#[test]
fn a_loop_prepared_for_another_tempo_lasts_whole_bars_of_it() {
    use infini_loop_engine::worker::prepare_clip;
    let dir = integration_tests::scratch_dir("clip_worker_to_bpm");
    let rate = 48_000u32;
    // A 2.4 s bar (100 BPM): at 120 BPM a bar lasts 2 s.
    let path = write_bar_clip(&dir);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let plain = ClipWorkerConfig::default();
    let (own, _) = prepare_clip(&path, &plain, &stop).expect("prepared");
    let in_time = ClipWorkerConfig {
        to_bpm: Some(120.0),
        ..ClipWorkerConfig::default()
    };
    let (stretched, _) = prepare_clip(&path, &in_time, &stop).expect("prepared");
    let own_seconds = (own.end - own.start) as f64 / f64::from(rate);
    let bars = (own_seconds / 2.0).round().max(1.0) as usize;
    assert_eq!(
        stretched.end - stretched.start,
        bars * 2 * rate as usize,
        "{own_seconds} s at its own tempo becomes {bars} bars of 2 s"
    );
    // At 20 BPM a bar lasts 12 s: no ratio a stretch does well, so its own tempo.
    let far = ClipWorkerConfig {
        to_bpm: Some(20.0),
        ..ClipWorkerConfig::default()
    };
    let (unchanged, _) = prepare_clip(&path, &far, &stop).expect("prepared");
    assert_eq!(unchanged.end - unchanged.start, own.end - own.start);
}

/// Following the host: loops are stretched to the host's tempo, the loops in play are
/// prepared again when it changes, and with Sync off they go back to their own tempo.
#[test]
fn a_worker_following_the_host_prepares_renditions_for_a_new_tempo() {
    use infini_loop_engine::looper::PreparedLoop;
    use infini_loop_engine::worker::{ClipSource, HostTempo, WorkerQueues};
    use std::sync::Arc;
    let dir = integration_tests::scratch_dir("clip_worker_follow");
    let rate = 48_000u32;
    let path = write_bar_clip(&dir);
    let host = Arc::new(HostTempo::default());
    host.follow(Some(120.0));
    let (queue, mut played) = rtrb::RingBuffer::<Box<PreparedLoop>>::new(2);
    let (mut back, returned) = rtrb::RingBuffer::<Box<PreparedLoop>>::new(8);
    let (renditions, mut fresh) = rtrb::RingBuffer::<Box<PreparedLoop>>::new(8);
    let config = ClipWorkerConfig {
        source: ClipSource::Files(vec![path]),
        prefetch: 1,
        follow_host: true,
        ..ClipWorkerConfig::default()
    };
    let worker = infini_loop_engine::worker::ClipWorker::spawn_with(
        WorkerQueues {
            queue,
            returned,
            renditions: Some(renditions),
            host: Some(host.clone()),
        },
        config,
    )
    .expect("worker");
    let wait_for = |rx: &mut rtrb::Consumer<Box<PreparedLoop>>| {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(l) = rx.pop() {
                return l;
            }
            assert!(Instant::now() < until, "nothing came");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let bar_frames = |bpm: f64| 4.0 * 60.0 / bpm * f64::from(rate);
    let first = wait_for(&mut played);
    let grid = first.grid.expect("stretched to the host's bars");
    assert_eq!(grid.bpm, 120.0);
    assert_eq!(
        (first.end - first.start) as f64,
        (grid.beats / 4.0 * bar_frames(120.0)).round()
    );
    // The host moves to 132 BPM: the loop comes again, same clip, 132 BPM's bars.
    host.follow(Some(132.0));
    let again = wait_for(&mut fresh);
    assert_eq!(again.id, first.id);
    let grid = again.grid.expect("stretched again");
    assert_eq!(grid.bpm, 132.0);
    assert!(((again.end - again.start) as f64 - grid.beats / 4.0 * bar_frames(132.0)).abs() <= 1.0);
    // Sync off: its own tempo, unlocked.
    host.follow(None);
    let own = wait_for(&mut fresh);
    assert_eq!(own.id, first.id);
    assert!(own.grid.is_none());
    let status = worker.status();
    let said = status
        .lock()
        .map(|s| s.prepared[0].in_time.clone())
        .ok()
        .flatten();
    assert_eq!(said, None, "the status no longer claims a stretch");
    for l in [first, again, own] {
        let _ = back.push(l);
    }
    drop(worker);
}
