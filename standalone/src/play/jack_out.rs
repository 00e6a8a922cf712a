//! JACK MIDI output: events carry their frame offsets inside each cycle, so timing is exact to
//! the frame.

use super::{midi_bytes, Band, Control, PlayArgs, Running};
use anyhow::{anyhow, Result};
use infinite_jazz_engine::sequencer::Clock;
use infinite_jazz_engine::worker::SectionWorker;
use jack::contrib::ClosureProcessHandler;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The process callback, boxed so the client's type can be named.
type ProcessFn = Box<dyn FnMut(&jack::Client, &jack::ProcessScope) -> jack::Control + Send>;

struct JackRunning {
    client: jack::AsyncClient<(), ClosureProcessHandler<(), ProcessFn>>,
    port_name: String,
}

impl Running for JackRunning {
    fn finish(self: Box<Self>) -> Result<String> {
        self.client
            .deactivate()
            .map_err(|e| anyhow!("closing the JACK client: {e}"))?;
        Ok(format!("JACK: played on {}", self.port_name))
    }
}

pub fn start(
    band: Band,
    args: &PlayArgs,
    control: Arc<Control>,
    limit_beats: Option<f64>,
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
    let Band {
        mut sequencer,
        live,
        config,
        worker,
        ..
    } = band;
    let beats_per_sample = config.tempo_bpm() / 60.0 / sample_rate;
    let control_start = control.clone();
    // The beat comes from JACK's frame clock, not from counting the frames we processed: if
    // the server ever skips our cycle, that cycle's notes are lost but the grid never shifts.
    let mut first_frame: Option<u32> = None;
    let process: ProcessFn = Box::new(move |_client, scope| {
        let frames = scope.n_frames() as usize;
        let mut writer = port.writer(scope);
        if !control.started.load(Ordering::Relaxed) {
            return jack::Control::Continue;
        }
        if control.done.load(Ordering::Relaxed) {
            return jack::Control::Continue;
        }
        let now = scope.last_frame_time();
        let start = *first_frame.get_or_insert(now);
        let beat = f64::from(now.wrapping_sub(start)) * beats_per_sample;
        let clock = control.clock(beat, beats_per_sample, limit_beats);
        sequencer.process(clock, frames, &live, |event| {
            let bytes = midi_bytes(&event);
            let _ = writer.write(&jack::RawMidi {
                time: event.sample(),
                bytes: &bytes,
            });
        });
        if clock == Clock::Stopped {
            control.done.store(true, Ordering::SeqCst);
        }
        jack::Control::Continue
    });
    let active = client
        .activate_async((), ClosureProcessHandler::new(process))
        .map_err(|e| anyhow!("cannot start the JACK client: {e}"))?;
    for target in &args.connect {
        active
            .as_client()
            .connect_ports_by_name(&port_name, target)
            .map_err(|e| anyhow!("cannot connect {port_name} to {target}: {e}"))?;
    }
    control_start.started.store(true, Ordering::SeqCst);
    eprintln!("playing on JACK port {port_name} at {sample_rate} Hz");
    Ok((
        worker,
        Box::new(JackRunning {
            client: active,
            port_name,
        }),
    ))
}
