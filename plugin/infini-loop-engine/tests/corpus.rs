//! The loop search against clips made here with a known repeating period: the chosen loop must
//! be a whole number of periods (within 3 ms) and its seam must be nearly inaudible.

use infini_loop_engine::analysis::{analyze, AnalysisError, AnalysisOptions};
use infini_loop_engine::clip::Clip;

const RATE: u32 = 32_000;

struct Noise(u64);
impl Noise {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
}

/// One period of a little band: kick on 1 and 3, snare on 2 and 4, hats on 8ths, a bass note
/// per beat and a chord per bar, all different across the period's bars.
fn period(bpm: f64, bars: usize, seed: u64) -> Vec<f32> {
    let beat = (60.0 / bpm * f64::from(RATE)) as usize;
    let len = beat * 4 * bars;
    let mut x = vec![0f32; len];
    let mut noise = Noise(seed);
    let bass = [43.0f32, 46.0, 48.0, 50.0, 41.0, 45.0, 48.0, 52.0];
    let chords = [
        [55.0f32, 59.0, 62.0],
        [57.0, 60.0, 64.0],
        [53.0, 57.0, 60.0],
        [52.0, 55.0, 59.0],
    ];
    let hz = |m: f32| 440.0 * 2f32.powf((m - 69.0) / 12.0);
    for b in 0..4 * bars {
        let at = b * beat;
        for i in 0..beat.min(len - at) {
            let t = i as f32 / RATE as f32;
            let mut s = 0.0;
            if b % 2 == 0 {
                s += 0.6 * (std::f32::consts::TAU * 55.0 * t * (1.0 - t)).sin() * (-t * 18.0).exp();
            } else {
                s += 0.3 * noise.next() * (-t * 25.0).exp();
            }
            let eighth = i % (beat / 2);
            s += 0.08 * noise.next() * (-(eighth as f32 / RATE as f32) * 60.0).exp();
            let note = hz(bass[(b + seed as usize) % bass.len()]);
            s += 0.25 * (std::f32::consts::TAU * note * t).sin() * (-t * 3.0).exp();
            let chord = chords[(b / 4 + seed as usize) % chords.len()];
            let tb = (b % 4 * beat + i) as f32 / RATE as f32;
            for m in chord {
                s += 0.05 * (std::f32::consts::TAU * hz(m) * tb).sin();
            }
            x[at + i] += s;
        }
    }
    x
}

fn tile(p: &[f32], seconds: f64) -> Vec<f32> {
    let n = (seconds * f64::from(RATE)) as usize;
    (0..n).map(|i| p[i % p.len()]).collect()
}

fn clip(x: Vec<f32>) -> Clip {
    Clip {
        sample_rate: RATE,
        channels: vec![x],
    }
}

/// Checks the best loop is k whole periods (k ≥ 1) within 3 ms and returns its seam error.
fn assert_whole_periods(c: &Clip, period_frames: usize, options: &AnalysisOptions) -> f64 {
    let report = analyze(c, options).expect("a loop is found");
    let best = report.best().expect("a candidate");
    let len = (best.end - best.start) as f64;
    let periods = len / period_frames as f64;
    let k = periods.round();
    let off_ms = (len - k * period_frames as f64).abs() / f64::from(RATE) * 1000.0;
    assert!(
        k >= 1.0 && off_ms <= 3.0,
        "loop of {:.4} periods ({off_ms:.2} ms off); report {:?}",
        periods,
        report.candidates
    );
    best.seam_error
}

#[test]
fn a_clean_two_bar_groove_loops_on_its_period() {
    let p = period(120.0, 2, 1);
    let c = clip(tile(&p, 20.0));
    let err = assert_whole_periods(&c, p.len(), &AnalysisOptions::default());
    assert!(err < 0.05, "seam error {err}");
    let report = analyze(&c, &AnalysisOptions::default()).expect("report");
    let bpm = report.bpm.expect("a tempo");
    assert!(
        (bpm - 120.0).abs() < 2.0 || (bpm - 60.0).abs() < 1.0 || (bpm - 240.0).abs() < 4.0,
        "{bpm}"
    );
}

#[test]
fn other_tempi_and_a_given_tempo() {
    for (bpm, bars, seed) in [(96.0, 1, 2), (140.0, 2, 3), (84.0, 1, 4)] {
        let p = period(bpm, bars, seed);
        let c = clip(tile(&p, 18.0));
        let err = assert_whole_periods(&c, p.len(), &AnalysisOptions::default());
        assert!(err < 0.05, "{bpm} BPM: seam error {err}");
        let given = AnalysisOptions {
            bpm: Some(bpm),
            ..Default::default()
        };
        let err = assert_whole_periods(&c, p.len(), &given);
        assert!(err < 0.05, "{bpm} BPM given: seam error {err}");
    }
}

#[test]
fn background_noise_and_variation_still_loop() {
    let p = period(110.0, 2, 5);
    let mut noise = Noise(99);
    let x: Vec<f32> = tile(&p, 24.0)
        .into_iter()
        .map(|s| s + 0.02 * noise.next())
        .collect();
    let err = assert_whole_periods(&clip(x), p.len(), &AnalysisOptions::default());
    assert!(err < 0.35, "seam error {err}");
}

#[test]
fn fades_and_silence_are_avoided() {
    let p = period(120.0, 1, 6);
    let mut x = vec![0f32; (1.5 * f64::from(RATE)) as usize];
    x.extend(tile(&p, 16.0));
    let n = x.len();
    let fade = (2.0 * f64::from(RATE)) as usize;
    let silence = (1.5 * f64::from(RATE)) as usize;
    for i in 0..fade {
        x[silence + i] *= i as f32 / fade as f32;
        x[n - 1 - i] *= i as f32 / fade as f32;
    }
    let c = clip(x);
    let report = analyze(&c, &AnalysisOptions::default()).expect("a loop");
    let best = report.best().expect("candidate");
    let start_s = best.start as f64 / f64::from(RATE);
    let end_s = best.end as f64 / f64::from(RATE);
    assert!(
        start_s >= 1.5 + 0.5,
        "starts after the silence and most of the fade-in: {start_s}"
    );
    assert!(
        end_s <= 17.5 - 0.5,
        "ends before most of the fade-out: {end_s}"
    );
    let periods = (best.end - best.start) as f64 / p.len() as f64;
    assert!((periods - periods.round()).abs() * p.len() as f64 / f64::from(RATE) < 0.003);
}

#[test]
fn music_without_a_beat_loops_on_its_own_cycle() {
    // A drone whose timbre cycles every 3.7 s: no bar lines to lean on.
    let cycle = (3.7 * f64::from(RATE)) as usize;
    let x: Vec<f32> = (0..cycle * 5)
        .map(|i| {
            let t = i as f32 / RATE as f32;
            let phase = (i % cycle) as f32 / cycle as f32;
            let bright = 0.5 + 0.5 * (std::f32::consts::TAU * phase).sin();
            0.3 * (std::f32::consts::TAU * 110.0 * t).sin()
                + 0.2 * bright * (std::f32::consts::TAU * 330.0 * t).sin()
                + 0.1 * (1.0 - bright) * (std::f32::consts::TAU * 550.0 * t).sin()
        })
        .collect();
    let c = clip(x);
    let report = analyze(&c, &AnalysisOptions::default()).expect("a loop");
    let best = report.best().expect("candidate");
    let periods = (best.end - best.start) as f64 / cycle as f64;
    let off_ms = (periods - periods.round()).abs() * cycle as f64 / f64::from(RATE) * 1000.0;
    assert!(
        periods.round() >= 1.0 && off_ms < 3.0,
        "{periods:.4} cycles, {off_ms:.2} ms off; {:?} BPM, confidence {}",
        report.bpm,
        report.tempo_confidence
    );
    assert!(best.seam_error < 0.1, "seam error {}", best.seam_error);
}

#[test]
fn a_clip_shorter_than_the_minimum_loops_by_its_bar() {
    // 1.9 s at 160 BPM holds one 1.5 s bar (and not the 2 s minimum): it loops by the bar.
    for seed in [2, 5, 11] {
        let bar = period(160.0, 1, seed);
        let c = clip(tile(&bar, 1.9));
        assert_whole_periods(&c, bar.len(), &AnalysisOptions::default());
        let best = analyze(&c, &AnalysisOptions::default())
            .expect("report")
            .best()
            .map(|b| b.end - b.start)
            .expect("a loop");
        assert!(best <= c.frames() * 9 / 10, "the whole file is no loop");
    }
    // With the tempo given, the same holds without any estimate.
    let bar = period(170.0, 1, 4);
    let given = AnalysisOptions {
        bpm: Some(170.0),
        ..AnalysisOptions::default()
    };
    assert_whole_periods(&clip(tile(&bar, 1.9)), bar.len(), &given);
}

#[test]
fn music_after_a_long_silence_still_loops() {
    // Twelve seconds of silence, then eight of a groove: more than half the clip is silent,
    // as in a cut from a piece that opens quietly.
    let p = period(120.0, 2, 9);
    let mut x = vec![0.0f32; 12 * RATE as usize];
    x.extend(tile(&p, 8.0));
    let c = clip(x);
    assert_whole_periods(&c, p.len(), &AnalysisOptions::default());
    let best = analyze(&c, &AnalysisOptions::default())
        .expect("a loop")
        .best()
        .map(|b| b.start)
        .expect("candidate");
    assert!(
        best >= 12 * RATE as usize,
        "the loop is in the music: {best}"
    );
}

#[test]
fn short_silent_and_noisy_clips_are_handled() {
    let short = clip(tile(&period(120.0, 1, 7), 1.5));
    assert!(matches!(
        analyze(&short, &AnalysisOptions::default()),
        Err(AnalysisError::TooShort(_))
    ));
    let silent = clip(vec![0.0; RATE as usize * 10]);
    assert_eq!(
        analyze(&silent, &AnalysisOptions::default()),
        Err(AnalysisError::Silent)
    );
    let mut noise = Noise(3);
    let white = clip((0..RATE as usize * 8).map(|_| 0.3 * noise.next()).collect());
    match analyze(&white, &AnalysisOptions::default()) {
        Ok(report) => {
            let best = report.best().expect("candidate");
            assert!(best.end > best.start && best.end <= white.frames());
            assert!(best.end - best.start >= 2 * RATE as usize);
        }
        Err(e) => assert!(matches!(e, AnalysisError::NoLoop(_)), "{e}"),
    }
}
