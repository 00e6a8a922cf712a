//! A stand-in for MusicGPT's command line in tests: it takes the real flags
//! (`PROMPT --model M --secs S --output F --no-playback --no-interactive`) and, depending on
//! `FAKE_MUSICGPT_MODE`, writes a synthesized 32 kHz mono float WAV (`ok`, the default), fails
//! (`fail`), hangs (`hang`), or writes garbage (`garbage`). The prompt it received is written
//! to `FAKE_MUSICGPT_PROMPT_FILE` when set.

use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let (Some(model), Some(secs), Some(output)) =
        (flag("--model"), flag("--secs"), flag("--output"))
    else {
        eprintln!("usage: musicgpt PROMPT --model M --secs S --output FILE");
        std::process::exit(2);
    };
    if !args.contains(&"--no-playback".to_string())
        || !args.contains(&"--no-interactive".to_string())
    {
        eprintln!("expected --no-playback --no-interactive");
        std::process::exit(2);
    }
    let prompt = args.first().cloned().unwrap_or_default();
    if let Ok(path) = std::env::var("FAKE_MUSICGPT_PROMPT_FILE") {
        let _ = std::fs::write(path, format!("{prompt}\n{model}\n{secs}"));
    }
    let secs: f64 = secs.parse().unwrap_or(10.0);
    match std::env::var("FAKE_MUSICGPT_MODE")
        .as_deref()
        .unwrap_or("ok")
    {
        "fail" => {
            eprintln!("Error: failed to load model weights");
            std::process::exit(1);
        }
        "hang" => std::thread::sleep(Duration::from_secs(120)),
        "garbage" => {
            let _ = std::fs::write(&output, b"this is not a wav file at all");
        }
        _ => {
            std::thread::sleep(Duration::from_millis(200));
            let rate = 32_000u32;
            let spec = hound::WavSpec {
                channels: 1,
                sample_rate: rate,
                bits_per_sample: 32,
                sample_format: hound::SampleFormat::Float,
            };
            let mut w = hound::WavWriter::create(&output, spec).expect("output");
            // A 2-second repeating figure: four notes and a pulse.
            let period = 2 * rate as usize;
            for i in 0..(secs * f64::from(rate)) as usize {
                let p = i % period;
                let note = [220.0f32, 277.2, 329.6, 440.0][p * 4 / period];
                let t = (p % (period / 4)) as f32 / rate as f32;
                let s = 0.3 * (std::f32::consts::TAU * note * t).sin() * (-t * 3.0).exp()
                    + 0.2 * (std::f32::consts::TAU * 60.0 * t).sin() * (-t * 25.0).exp();
                w.write_sample(s).expect("sample");
            }
            w.finalize().expect("finalize");
        }
    }
}
