//! The built-in synth on the default audio device (cpal): the sequencer and the synth run
//! inside the audio callback, on buffers allocated before it starts.

use super::midi_in::PlayerPort;
use super::{Band, Control, PlayArgs, Running};
use crate::synth::{find_soundfont, load_soundfont, BandSynth};
use anyhow::{anyhow, Result};
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use infinite_jazz_engine::sequencer::{Clock, MidiEvent};
use infinite_jazz_engine::worker::SectionWorker;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Frames handled per inner step of the callback (buffers are this long).
const CHUNK: usize = 1024;

struct SynthRunning {
    stream: cpal::Stream,
}

impl Running for SynthRunning {
    fn finish(self: Box<Self>) -> Result<String> {
        // Let the release tails ring for a moment.
        std::thread::sleep(std::time::Duration::from_millis(500));
        drop(self.stream);
        Ok("synth: stopped".into())
    }
}

pub fn start(
    band: Band,
    args: &PlayArgs,
    control: Arc<Control>,
) -> Result<(SectionWorker, Box<dyn Running>)> {
    let font = load_soundfont(&find_soundfont(args.soundfont.as_deref())?)?;
    let host = cpal::default_host();
    let device = host.default_output_device().ok_or_else(|| {
        anyhow!("no audio output device found; try --backend jack, or render to a file with `render --out take.wav`")
    })?;
    let supported = device
        .default_output_config()
        .map_err(|e| anyhow!("the audio device has no usable output format: {e}"))?;
    if supported.sample_format() != cpal::SampleFormat::F32 {
        return Err(anyhow!(
            "the audio device wants {:?} samples; only 32-bit float output is supported",
            supported.sample_format()
        ));
    }
    let stream_config = supported.config();
    let channels = usize::from(stream_config.channels).max(1);
    let sample_rate = stream_config.sample_rate;
    control.started.store(true, Ordering::SeqCst);
    let bps = band.output.beats_per_sample(f64::from(sample_rate));
    let config = band.output.config.clone();
    let mut output = band.output;
    let mut player = match &args.midi_in {
        Some(wanted) => Some(PlayerPort::open(&args.client_name, wanted)?),
        None => None,
    };
    let worker = band.worker;
    let mut synth = BandSynth::new(&font, sample_rate, &config)?;
    let mut beat = 0.0f64;
    let mut left = vec![0.0f32; CHUNK];
    let mut right = vec![0.0f32; CHUNK];
    let mut events: Vec<MidiEvent> = Vec::with_capacity(4096);
    let stream = device
        .build_output_stream(
            stream_config,
            move |data: &mut [f32], _| {
                for frame_chunk in data.chunks_mut(CHUNK * channels) {
                    let frames = frame_chunk.len() / channels;
                    let clock = control.clock(beat, bps);
                    let stopping = clock == Clock::Stopped;
                    events.clear();
                    output.begin_block();
                    if let Some(port) = player.as_mut() {
                        port.push_into(&mut output.player.through);
                    }
                    output.play_block(clock, frames, |e| {
                        let room = events.len() < events.capacity();
                        if room {
                            events.push(e);
                        }
                        room
                    });
                    synth.render_block(&events, &mut left[..frames], &mut right[..frames]);
                    for (i, frame) in frame_chunk.chunks_mut(channels).enumerate() {
                        frame[0] = left[i];
                        if channels > 1 {
                            frame[1] = right[i];
                        }
                    }
                    if stopping {
                        control.done.store(true, Ordering::SeqCst);
                    } else {
                        beat += frames as f64 * bps;
                    }
                }
            },
            |e| eprintln!("audio output error: {e}"),
            None,
        )
        .map_err(|e| anyhow!("cannot open the audio output: {e}"))?;
    stream
        .play()
        .map_err(|e| anyhow!("cannot start the audio output: {e}"))?;
    eprintln!("playing through the built-in synth at {sample_rate} Hz");
    Ok((worker, Box::new(SynthRunning { stream })))
}
