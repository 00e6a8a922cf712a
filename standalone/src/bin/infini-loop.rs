//! `infini-loop`: find seamless loops in audio files, export them, generate clips with
//! MusicGPT, and play them forever.

use anyhow::{anyhow, Context, Result};
use clap::{Args, Parser, Subcommand};
use infini_loop_engine::analysis::{analyze, AnalysisOptions, AnalysisReport};
use infini_loop_engine::clip::Clip;
use infini_loop_engine::decode::decode_file;
use infini_loop_engine::looper::{looper, render_repeats, LooperSettings, PreparedLoop};
use infini_loop_engine::source::{run_musicgpt, MusicGptRequest};
use infini_loop_engine::stretch::{bars_for, stretched_repeats, RATIO_RANGE};
use infini_loop_engine::worker::{ClipSource, ClipWorker, ClipWorkerConfig};
use infinite_jazz_files::{check_outputs, check_wav_size, write_atomically};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "infini-loop",
    version,
    about = "Seamless loops from audio clips, forever"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Args, Debug, Clone)]
struct AnalysisArgs {
    /// The music's tempo, when you know it (estimated otherwise).
    #[arg(long)]
    bpm: Option<f64>,
    /// Shortest loop, in seconds.
    #[arg(long, default_value_t = 2.0)]
    min_secs: f64,
    /// Candidates to report.
    #[arg(long, default_value_t = 5)]
    top: usize,
}

impl AnalysisArgs {
    fn options(&self) -> Result<AnalysisOptions> {
        if let Some(bpm) = self.bpm {
            if !(bpm.is_finite() && (20.0..=400.0).contains(&bpm)) {
                return Err(anyhow!("--bpm must be between 20 and 400"));
            }
        }
        if !(self.min_secs.is_finite() && (0.25..=60.0).contains(&self.min_secs)) {
            return Err(anyhow!("--min-secs must be between 0.25 and 60"));
        }
        Ok(AnalysisOptions {
            bpm: self.bpm,
            min_seconds: self.min_secs,
            top: self.top.clamp(1, 50),
        })
    }
}

/// Prints to stdout; a reader that went away (`… | head`) ends the output quietly.
fn print_out(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Find the loop points of a file.
    Analyze {
        file: PathBuf,
        #[command(flatten)]
        analysis: AnalysisArgs,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Write the loop played N times, its seams crossfaded.
    Export {
        file: PathBuf,
        out: PathBuf,
        #[arg(long, default_value_t = 4)]
        repeats: usize,
        /// Crossfade across each seam, in milliseconds.
        #[arg(long, default_value_t = 10.0)]
        crossfade_ms: f64,
        /// Stretch the loop (pitch kept) to whole 4/4 bars at this tempo.
        #[arg(long)]
        to_bpm: Option<f64>,
        /// With --to-bpm: this many bars (default: the number whose stretch is nearest 1).
        #[arg(long, requires = "to_bpm")]
        bars: Option<usize>,
        #[command(flatten)]
        analysis: AnalysisArgs,
    },
    /// Generate a clip with MusicGPT, then find and export its loop.
    Generate {
        prompt: String,
        out: PathBuf,
        #[command(flatten)]
        musicgpt: MusicGptArgs,
        #[arg(long, default_value_t = 4)]
        repeats: usize,
    },
    /// Play loops forever on the default audio device: `play FILES…`, or `play "PROMPT"` to
    /// generate clips with MusicGPT. Ctrl+C fades out and exits.
    Play {
        /// Audio files; a single argument that is not a file is a prompt for MusicGPT.
        files: Vec<PathBuf>,
        /// Generate clips from this prompt instead of playing files.
        #[arg(long)]
        prompt: Option<String>,
        #[command(flatten)]
        musicgpt: MusicGptArgs,
        /// Repeats of each clip before the next one.
        #[arg(long, default_value_t = 4)]
        repeats: u32,
        /// Crossfade between clips, in seconds.
        #[arg(long, default_value_t = 2.0)]
        transition_secs: f64,
        /// Stretch each loop (pitch kept) to whole 4/4 bars at this tempo.
        #[arg(long)]
        to_bpm: Option<f64>,
    },
}

#[derive(Args, Debug, Clone)]
struct MusicGptArgs {
    /// Seconds of audio to generate (5-30).
    #[arg(long, default_value_t = 10)]
    secs: u32,
    /// small, medium or large.
    #[arg(long, default_value = "medium")]
    model: String,
    /// The musicgpt executable (default: `musicgpt` on PATH).
    #[arg(long)]
    musicgpt: Option<PathBuf>,
    /// Longest a generation may take before it is stopped, in seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Analyze {
            file,
            analysis,
            json,
        } => cmd_analyze(&file, &analysis, json),
        Cmd::Export {
            file,
            out,
            repeats,
            crossfade_ms,
            to_bpm,
            bars,
            analysis,
        } => cmd_export(
            &file,
            &out,
            repeats,
            crossfade_ms,
            to_bpm.map(|bpm| (bpm, bars)),
            &analysis,
        ),
        Cmd::Generate {
            prompt,
            out,
            musicgpt,
            repeats,
        } => cmd_generate(&prompt, &out, &musicgpt, repeats),
        Cmd::Play {
            files,
            prompt,
            musicgpt,
            repeats,
            transition_secs,
            to_bpm,
        } => {
            // `play "a prompt"`: one argument that names no file.
            let (files, prompt) = match (prompt, files.as_slice()) {
                (None, [one]) if !one.exists() => (Vec::new(), Some(one.display().to_string())),
                (prompt, _) => (files, prompt),
            };
            cmd_play(
                &files,
                prompt.as_deref(),
                &musicgpt,
                repeats,
                transition_secs,
                to_bpm,
            )
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_and_analyze(file: &Path, analysis: &AnalysisArgs) -> Result<(Clip, AnalysisReport)> {
    let options = analysis.options()?;
    let clip = decode_file(file).with_context(|| format!("decoding {}", file.display()))?;
    let report =
        analyze(&clip, &options).with_context(|| format!("analysing {}", file.display()))?;
    Ok((clip, report))
}

fn cmd_analyze(file: &Path, analysis: &AnalysisArgs, json: bool) -> Result<()> {
    let (_, report) = load_and_analyze(file, analysis)?;
    let best = report.best().ok_or_else(|| anyhow!("no loop found"))?;
    if json {
        let value = serde_json::json!({
            "sample_rate": report.sample_rate,
            "frames": report.frames,
            "loop_start": best.start,
            "loop_end": best.end,
            "bpm": report.bpm,
            "tempo_confidence": report.tempo_confidence,
            "score": best.score,
            "candidates": report.candidates,
        });
        print_out(&value.to_string())?;
    } else {
        let sr = f64::from(report.sample_rate);
        print_out(&format!(
            "loop {:.3} s to {:.3} s ({:.3} s{}), score {:.3}, seam error {:.4}",
            best.start as f64 / sr,
            best.end as f64 / sr,
            (best.end - best.start) as f64 / sr,
            best.beats
                .map_or(String::new(), |b| format!(", {b:.2} beats")),
            best.score,
            best.seam_error
        ))?;
        if let Some(bpm) = report.bpm {
            print_out(&format!(
                "tempo {bpm:.1} BPM (confidence {:.2})",
                report.tempo_confidence
            ))?;
        }
    }
    Ok(())
}

fn write_float_wav(path: &Path, clip: &Clip) -> Result<()> {
    let spec = hound::WavSpec {
        channels: clip.channels.len() as u16,
        sample_rate: clip.sample_rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    write_atomically(path, |file| {
        let mut w = hound::WavWriter::new(file, spec).map_err(std::io::Error::other)?;
        for i in 0..clip.frames() {
            for c in &clip.channels {
                w.write_sample(c[i]).map_err(std::io::Error::other)?;
            }
        }
        w.finalize().map_err(std::io::Error::other)
    })?;
    Ok(())
}

/// A tempo to play loops at, from the command line: a musical one or none.
fn check_to_bpm(bpm: Option<f64>) -> Result<()> {
    match bpm {
        Some(bpm) if !(bpm.is_finite() && (20.0..=400.0).contains(&bpm)) => {
            Err(anyhow!("--to-bpm must be between 20 and 400"))
        }
        _ => Ok(()),
    }
}

fn cmd_export(
    file: &Path,
    out: &Path,
    repeats: usize,
    crossfade_ms: f64,
    to_bpm: Option<(f64, Option<usize>)>,
    analysis: &AnalysisArgs,
) -> Result<()> {
    if !(1..=1000).contains(&repeats) {
        return Err(anyhow!("--repeats must be between 1 and 1000"));
    }
    if !(crossfade_ms.is_finite() && (0.0..=2000.0).contains(&crossfade_ms)) {
        return Err(anyhow!("--crossfade-ms must be between 0 and 2000"));
    }
    check_outputs(&[file], &[out])?;
    let (clip, report) = load_and_analyze(file, analysis)?;
    let best = report
        .best()
        .ok_or_else(|| anyhow!("no loop found"))?
        .clone();
    let frames = (best.end - best.start) as u64 * repeats as u64;
    check_wav_size(frames, clip.channels.len() as u16, 32)?;
    let crossfade = (crossfade_ms / 1000.0 * f64::from(clip.sample_rate)) as usize;
    let rate = f64::from(clip.sample_rate);
    let loop_seconds = (best.end - best.start) as f64 / rate;
    let prepared = |clip: Clip| PreparedLoop {
        clip: std::sync::Arc::new(clip),
        start: best.start,
        end: best.end,
        label: String::new(),
        id: 0,
        grid: None,
    };
    let Some((bpm, bars)) = to_bpm else {
        let rendered = render_repeats(prepared(clip), repeats, crossfade);
        write_float_wav(out, &rendered)?;
        eprintln!(
            "wrote {} ({} × {:.3} s loop)",
            out.display(),
            repeats,
            loop_seconds
        );
        return Ok(());
    };
    check_to_bpm(Some(bpm))?;
    let (bars, ratio) = bars_for(loop_seconds, bpm, 4.0, best.beats, bars).ok_or_else(|| {
        anyhow!(
            "a {loop_seconds:.2} s loop cannot be stretched to {} at {bpm} BPM within ratios {:.1}-{:.1}",
            bars.map_or("whole bars".to_string(), |b| format!("{b} bars")),
            RATIO_RANGE.0,
            RATIO_RANGE.1
        )
    })?;
    // The loop's length at the new tempo, in frames, as a real number: repeats are placed on
    // its multiples, so the file is exactly `repeats` × that long, to the frame.
    let length = bars as f64 * 4.0 * 60.0 / bpm * rate;
    check_wav_size(
        (length * repeats as f64) as u64 + 1,
        clip.channels.len() as u16,
        32,
    )?;
    let (stretched, kept) = stretched_repeats(
        &prepared(clip),
        repeats,
        crossfade,
        length,
        &std::sync::atomic::AtomicBool::new(false),
    )?;
    let rendered = Clip {
        sample_rate: stretched.sample_rate,
        channels: stretched
            .channels
            .iter()
            .map(|c| c[kept.clone()].to_vec())
            .collect(),
    };
    write_float_wav(out, &rendered)?;
    eprintln!(
        "wrote {} ({repeats} × {bars} bars at {bpm} BPM: the {loop_seconds:.3} s loop stretched by {ratio:.3})",
        out.display()
    );
    Ok(())
}

fn musicgpt_request(prompt: &str, args: &MusicGptArgs) -> MusicGptRequest {
    MusicGptRequest {
        executable: args
            .musicgpt
            .clone()
            .unwrap_or_else(|| PathBuf::from("musicgpt")),
        prompt: prompt.to_string(),
        model: args.model.clone(),
        seconds: args.secs,
        timeout: Duration::from_secs(args.timeout.max(1)),
    }
}

/// Runs MusicGPT for one clip (see `infini_loop_engine::source::run_musicgpt`).
fn generate_clip(prompt: &str, args: &MusicGptArgs, dir: &Path) -> Result<PathBuf> {
    let request = musicgpt_request(prompt, args);
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let started = Instant::now();
    let path = run_musicgpt(&request, dir, &cancel, |_| {})?;
    eprintln!(
        "MusicGPT generated a clip in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(path)
}

fn cmd_generate(prompt: &str, out: &Path, args: &MusicGptArgs, repeats: usize) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("infini-loop-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = generate_clip(prompt, args, &dir).and_then(|clip| {
        let analysis = AnalysisArgs {
            bpm: None,
            min_secs: 2.0,
            top: 5,
        };
        cmd_export(&clip, out, repeats, 10.0, None, &analysis)
    });
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn cmd_play(
    files: &[PathBuf],
    prompt: Option<&str>,
    args: &MusicGptArgs,
    repeats: u32,
    transition_secs: f64,
    to_bpm: Option<f64>,
) -> Result<()> {
    use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
    check_to_bpm(to_bpm)?;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    if files.is_empty() && prompt.is_none() {
        return Err(anyhow!(
            "give audio files to play, or --prompt for MusicGPT"
        ));
    }
    let device = cpal::default_host()
        .default_output_device()
        .ok_or_else(|| anyhow!("no audio output device found"))?;
    let config = device
        .default_output_config()
        .map_err(|e| anyhow!("the audio device has no usable format: {e}"))?;
    if config.sample_format() != cpal::SampleFormat::F32 {
        return Err(anyhow!("only 32-bit float audio devices are supported"));
    }
    let stream_config = config.config();
    let rate = stream_config.sample_rate;
    let channels = usize::from(stream_config.channels).max(1);
    let settings = LooperSettings {
        seam: (0.01 * f64::from(rate)) as usize,
        transition: (transition_secs.clamp(0.01, 30.0) * f64::from(rate)) as usize,
        repeats_before_switch: repeats.max(1),
        on_bar_lines: false,
        sync: false,
    };
    let (mut player, queue, finished) = looper(settings, 4);
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))?;
    }
    let (stop_cb, stopped_cb) = (stop.clone(), stopped.clone());
    let mut buffers = vec![vec![0f32; 4096]; 2];
    let stream = device
        .build_output_stream(
            stream_config,
            move |data: &mut [f32], _| {
                if stop_cb.load(Ordering::Relaxed) {
                    player.stop();
                }
                for chunk in data.chunks_mut(4096 * channels) {
                    let frames = chunk.len() / channels;
                    let (l, r) = buffers.split_at_mut(1);
                    let mut out: [&mut [f32]; 2] = [&mut l[0][..frames], &mut r[0][..frames]];
                    player.render(&mut out, None);
                    for (i, frame) in chunk.chunks_mut(channels).enumerate() {
                        for (c, s) in frame.iter_mut().enumerate() {
                            *s = out[c.min(1)][i];
                        }
                    }
                }
                if stop_cb.load(Ordering::Relaxed)
                    && player.state() == infini_loop_engine::looper::LooperState::Idle
                {
                    stopped_cb.store(true, Ordering::SeqCst);
                }
            },
            |e| eprintln!("audio error: {e}"),
            None,
        )
        .map_err(|e| anyhow!("cannot open the audio output: {e}"))?;
    stream.play()?;
    // The plugin's clip worker prepares the clips (decode, loop search, resampling, loudness)
    // and frees the finished ones, off the audio thread.
    let source = match prompt {
        Some(p) => ClipSource::MusicGpt(musicgpt_request(p, args)),
        None => ClipSource::Files(files.to_vec()),
    };
    let worker = ClipWorker::spawn(
        queue,
        finished,
        ClipWorkerConfig {
            source,
            sample_rate: rate,
            prefetch: 1,
            to_bpm,
            ..Default::default()
        },
    )?;
    let status = worker.status();
    let mut shown = (0, None);
    while !stopped.load(Ordering::SeqCst) {
        if let Ok(status) = status.lock() {
            if status.clips_made != shown.0 {
                if let Some(clip) = status.prepared.last() {
                    eprintln!("queued {}", clip.label);
                }
            }
            if status.last_error != shown.1 {
                if let Some(e) = &status.last_error {
                    eprintln!("skipped a clip: {e}");
                }
            }
            shown = (status.clips_made, status.last_error.clone());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}
