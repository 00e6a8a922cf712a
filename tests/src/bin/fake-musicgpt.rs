//! A stand-in for MusicGPT's command line in tests: it reads its arguments as MusicGPT's
//! argument parser does (options with values, `--no-playback --no-interactive`, one positional
//! prompt, everything after `--` positional) and, depending on `FAKE_MUSICGPT_MODE`, writes a
//! synthesized 32 kHz mono float WAV (`ok`, the default), fails (`fail`), hangs (`hang`), writes
//! garbage (`garbage`), writes 1 MiB to stderr first (`chatty`), or starts a helper that keeps
//! stderr open and outlives it, then succeeds (`helper`) or hangs (`helper-hang`); the helper's
//! pid goes to `FAKE_MUSICGPT_HELPER_PID_FILE`. The prompt it received is written to
//! `FAKE_MUSICGPT_PROMPT_FILE` when set. An unknown option is an error, as it is for MusicGPT.

use std::time::Duration;

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut model, mut secs, mut output) = (None, None, None);
    let (mut no_playback, mut no_interactive) = (false, false);
    let mut positional: Vec<String> = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--" => positional.extend(args.by_ref()),
            "--model" => model = args.next(),
            "--secs" => secs = args.next(),
            "--output" => output = args.next(),
            "--no-playback" => no_playback = true,
            "--no-interactive" => no_interactive = true,
            other if other.starts_with('-') => {
                eprintln!("error: unexpected argument '{other}'");
                std::process::exit(2);
            }
            _ => positional.push(arg),
        }
    }
    let (Some(model), Some(secs), Some(output)) = (model, secs, output) else {
        eprintln!("usage: musicgpt --model M --secs S --output FILE [--] PROMPT");
        std::process::exit(2);
    };
    if !no_playback || !no_interactive || positional.len() != 1 {
        eprintln!("expected --no-playback --no-interactive and one prompt");
        std::process::exit(2);
    }
    let prompt = positional.remove(0);
    if let Ok(path) = std::env::var("FAKE_MUSICGPT_PROMPT_FILE") {
        let _ = std::fs::write(path, format!("{prompt}\n{model}\n{secs}"));
    }
    let secs: f64 = secs.parse().unwrap_or(10.0);
    let mode = std::env::var("FAKE_MUSICGPT_MODE").unwrap_or_else(|_| "ok".into());
    if mode.starts_with("helper") {
        // Inherits stderr, so the pipe stays open after this process is gone.
        let helper = std::process::Command::new("sleep")
            .arg("120")
            .spawn()
            .expect("sleep starts");
        if let Ok(path) = std::env::var("FAKE_MUSICGPT_HELPER_PID_FILE") {
            let _ = std::fs::write(path, helper.id().to_string());
        }
        std::mem::forget(helper);
    }
    if mode == "chatty" {
        let line = "loading weights ................................................\n";
        let mut err = std::io::stderr().lock();
        for _ in 0..(1 << 20) / line.len() {
            let _ = std::io::Write::write_all(&mut err, line.as_bytes());
        }
    }
    match mode.as_str() {
        "fail" => {
            eprintln!("Error: failed to load model weights");
            std::process::exit(1);
        }
        "hang" | "helper-hang" => std::thread::sleep(Duration::from_secs(120)),
        "garbage" => {
            let _ = std::fs::write(&output, b"this is not a wav file at all");
        }
        _ => {
            std::thread::sleep(Duration::from_millis(200));
            let rate = 32_000u32;
            // A 2-second repeating figure: four notes and a pulse.
            let period = 2 * rate as usize;
            let samples = (0..(secs * f64::from(rate)) as usize).map(|i| {
                let p = i % period;
                let note = [220.0f32, 277.2, 329.6, 440.0][p * 4 / period];
                let t = (p % (period / 4)) as f32 / rate as f32;
                0.3 * (std::f32::consts::TAU * note * t).sin() * (-t * 3.0).exp()
                    + 0.2 * (std::f32::consts::TAU * 60.0 * t).sin() * (-t * 25.0).exp()
            });
            integration_tests::write_mono_wav(std::path::Path::new(&output), rate, samples);
        }
    }
}
