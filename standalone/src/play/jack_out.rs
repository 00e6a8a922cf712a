//! JACK MIDI output: events carry their frame offsets inside each cycle, so timing is exact to
//! the frame.

use super::{midi_bytes, Band, Control, PlayArgs, Running};
use anyhow::{anyhow, Result};
use infinite_jazz_engine::meter::Meter;
use infinite_jazz_engine::player_through::note_from_midi;
use infinite_jazz_engine::sequencer::{BarGrid, Clock};
use infinite_jazz_engine::worker::SectionWorker;
use jack::contrib::ClosureProcessHandler;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The process callback, boxed so the client's type can be named.
type ProcessFn = Box<dyn FnMut(&jack::Client, &jack::ProcessScope) -> jack::Control + Send>;

/// Ends the session when the JACK server goes away, instead of waiting forever for it.
struct ServerWatch {
    control: Arc<Control>,
    gone: Arc<std::sync::atomic::AtomicBool>,
}

impl jack::NotificationHandler for ServerWatch {
    unsafe fn shutdown(&mut self, _status: jack::ClientStatus, _reason: &str) {
        // Only atomic stores: this runs in a signal-safe context.
        self.gone.store(true, Ordering::SeqCst);
        self.control.done.store(true, Ordering::SeqCst);
    }
}

struct JackRunning {
    client: jack::AsyncClient<ServerWatch, ClosureProcessHandler<(), ProcessFn>>,
    port_name: String,
    gone: Arc<std::sync::atomic::AtomicBool>,
}

impl Running for JackRunning {
    fn finish(self: Box<Self>) -> Result<String> {
        if self.gone.load(Ordering::SeqCst) {
            return Ok("JACK: the server went away; stopped".into());
        }
        self.client
            .deactivate()
            .map_err(|e| anyhow!("closing the JACK client: {e}"))?;
        Ok(format!("JACK: played on {}", self.port_name))
    }
}

/// Where JACK's rolling transport is: the beat, beats per frame, and the bars when a timebase
/// master reports them.
struct TransportTime {
    beat: f64,
    beats_per_frame: f64,
    bars: Option<BarGrid>,
    /// How far `beat` may be off: a timebase master gives whole ticks only.
    resolution: f64,
}

/// Carries the beat on from cycle to cycle while the transport rolls on evenly, so positions
/// keep the frame's precision: a timebase master reports whole ticks (1/1920 beat is 10 frames
/// at 150 BPM), and a position rebuilt from them every cycle would jitter by that much.
#[derive(Default)]
struct SmoothBeat {
    next: Option<f64>,
}

impl SmoothBeat {
    /// The beat of this cycle's first frame; `frames` is the cycle's length.
    fn beat(&mut self, time: &TransportTime, frames: usize) -> f64 {
        let beat = match self.next {
            // Within a tick of where the last cycle ended: the same music, rolling on.
            Some(next) if (next - time.beat).abs() <= time.resolution => next,
            // A relocation, a tempo change or the first cycle: the master's word.
            _ => time.beat,
        };
        self.next = Some(beat + frames as f64 * time.beats_per_frame);
        beat
    }

    fn stop(&mut self) {
        self.next = None;
    }
}

/// The beat and tempo of JACK's transport when it rolls: bars, beats and ticks from a timebase
/// master when there is one (JACK counts bars and beats from 1, in its meter), else its frame
/// at our tempo.
fn transport_clock(client: &jack::Client, beats_per_sample: f64) -> Option<TransportTime> {
    let state = client.transport().query().ok()?;
    if state.state != jack::TransportState::Rolling {
        return None;
    }
    if let Some(bbt) = state.pos.bbt() {
        let rate = f64::from(state.pos.frame_rate().unwrap_or(48_000));
        if bbt.ticks_per_beat > 0.0 && bbt.sig_denom > 0.0 && bbt.bpm > 0.0 && rate > 0.0 {
            // In quarter notes, as the sequencer counts.
            let quarter = 4.0 / f64::from(bbt.sig_denom);
            let bar = (bbt.bar.max(1) - 1) as f64;
            let bar_start = bar * f64::from(bbt.sig_num) * quarter;
            let in_bar = (bbt.beat.max(1) - 1) as f64 + bbt.tick as f64 / bbt.ticks_per_beat;
            let meter = Meter::from_host(
                Some(bbt.sig_num.round() as i32),
                Some(bbt.sig_denom.round() as i32),
            );
            return Some(TransportTime {
                beat: bar_start + in_bar * quarter,
                beats_per_frame: bbt.bpm * quarter / 60.0 / rate,
                resolution: 1.5 * quarter / bbt.ticks_per_beat,
                bars: Some(BarGrid::from_host(
                    meter,
                    Some(bar_start),
                    i32::try_from(bbt.bar.max(1) - 1).ok(),
                )),
            });
        }
    }
    Some(TransportTime {
        beat: f64::from(state.pos.frame()) * beats_per_sample,
        beats_per_frame: beats_per_sample,
        bars: None,
        resolution: 0.0,
    })
}

pub fn start(
    band: Band,
    args: &PlayArgs,
    control: Arc<Control>,
) -> Result<(SectionWorker, Box<dyn Running>)> {
    let (client, _status) = jack::Client::new(&args.client_name, jack::ClientOptions::NO_START_SERVER)
        .map_err(|e| {
            anyhow!("cannot reach a JACK server ({e}); start one (e.g. `jackd -d alsa`) or choose another --backend")
        })?;
    let sample_rate = f64::from(client.sample_rate());
    let mut port = client
        .register_port("midi_output", jack::MidiOut::default())
        .map_err(|e| anyhow!("cannot create the JACK MIDI port: {e}"))?;
    let port_name = port.name().map_err(|e| anyhow!("JACK port name: {e}"))?;
    // The player's notes come in here when there is a player.
    let player_port = match &args.midi_in {
        Some(_) => Some(
            client
                .register_port("player_in", jack::MidiIn::default())
                .map_err(|e| anyhow!("cannot create the JACK MIDI input port: {e}"))?,
        ),
        None => None,
    };
    let player_port_name = match &player_port {
        Some(p) => Some(p.name().map_err(|e| anyhow!("JACK port name: {e}"))?),
        None => None,
    };
    let beats_per_sample = band.output.beats_per_sample(sample_rate);
    let mut output = band.output;
    let worker = band.worker;
    let control_start = control.clone();
    // The beat comes from JACK's frame clock, not from counting the frames we processed: if
    // the server ever skips our cycle, that cycle's notes are lost but the grid never shifts.
    let mut first_frame: Option<u32> = None;
    let follow_transport = args.follow_jack_transport;
    let mut smooth = SmoothBeat::default();
    let process: ProcessFn = Box::new(move |client, scope| {
        let frames = scope.n_frames() as usize;
        let mut writer = port.writer(scope);
        if !control.started.load(Ordering::Relaxed) {
            return jack::Control::Continue;
        }
        if control.done.load(Ordering::Relaxed) {
            return jack::Control::Continue;
        }
        // (the clock for this cycle, whether the music ends with it)
        let (clock, ending) = if follow_transport {
            match transport_clock(client, beats_per_sample) {
                Some(time) => {
                    if let Some(bars) = time.bars {
                        output.follow_bars(bars);
                    }
                    let beat = smooth.beat(&time, frames);
                    (
                        control.clock(beat, time.beats_per_frame),
                        control.past_limit(beat),
                    )
                }
                // The transport is stopped: notes are released, and we wait for it to roll.
                None => {
                    smooth.stop();
                    (Clock::Stopped, false)
                }
            }
        } else {
            let now = scope.last_frame_time();
            let start = *first_frame.get_or_insert(now);
            let beat = f64::from(now.wrapping_sub(start)) * beats_per_sample;
            let clock = control.clock(beat, beats_per_sample);
            (clock, clock == Clock::Stopped)
        };
        let ending = ending || control.stop.load(Ordering::Relaxed);
        output.begin_block();
        if let Some(input) = &player_port {
            let last = frames.saturating_sub(1) as u32;
            for raw in input.iter(scope) {
                if let Some((key, velocity)) = note_from_midi(raw.bytes) {
                    output
                        .player
                        .through
                        .push(raw.time.min(last), key, velocity);
                }
            }
        }
        output.play_block(clock, frames, |event| {
            let bytes = midi_bytes(&event);
            writer
                .write(&jack::RawMidi {
                    time: event.sample(),
                    bytes: &bytes,
                })
                .is_ok()
        });
        if ending {
            control.done.store(true, Ordering::SeqCst);
        }
        jack::Control::Continue
    });
    let gone = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watch = ServerWatch {
        control: control_start.clone(),
        gone: gone.clone(),
    };
    let active = client
        .activate_async(watch, ClosureProcessHandler::new(process))
        .map_err(|e| anyhow!("cannot start the JACK client: {e}"))?;
    for target in &args.connect {
        active
            .as_client()
            .connect_ports_by_name(&port_name, target)
            .map_err(|e| anyhow!("cannot connect {port_name} to {target}: {e}"))?;
    }
    if let (Some(from), Some(ours)) = (&args.midi_in, &player_port_name) {
        active
            .as_client()
            .connect_ports_by_name(from, ours)
            .map_err(|e| anyhow!("cannot connect the player's port {from} to {ours}: {e}"))?;
    }
    control_start.started.store(true, Ordering::SeqCst);
    eprintln!("playing on JACK port {port_name} at {sample_rate} Hz");
    Ok((
        worker,
        Box::new(JackRunning {
            client: active,
            port_name,
            gone,
        }),
    ))
}
