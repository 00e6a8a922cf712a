//! MIDI ports through midir (ALSA, CoreMIDI, WinMM). midir sends at once, without timestamps,
//! so a clock thread renders a few milliseconds ahead and sends each event when its time
//! comes, sleeping most of the wait and spinning the last fraction of a millisecond; the lateness
//! of every send is measured and reported.

use super::midi_in::PlayerPort;
use super::{midi_bytes, Band, Control, PlayArgs, Running};
use anyhow::{anyhow, Result};
use infinite_jazz_engine::sequencer::{Clock, MidiEvent};
use infinite_jazz_engine::worker::SectionWorker;
use midir::{MidiIO, MidiOutput, MidiOutputConnection};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The clock's own sample rate: events are placed on a 48 kHz grid.
const RATE: f64 = 48_000.0;
/// Rendered per step of the clock: 1 ms.
const BLOCK: usize = 48;
/// How far ahead of time the clock renders.
const LOOKAHEAD: Duration = Duration::from_millis(5);
/// The last part of a wait is spun rather than slept, for precision.
const SPIN: Duration = Duration::from_micros(300);

fn open_output(name: &str) -> Result<MidiOutput> {
    MidiOutput::new(name).map_err(|e| {
        anyhow!("MIDI output is not available here ({e}); on Linux it needs ALSA's sequencer (/dev/snd/seq). Try --backend jack or synth")
    })
}

pub fn list_ports(name: &str) -> Result<()> {
    print_ports(&open_output(name)?, "output");
    Ok(())
}

/// Prints `io`'s ports, numbered as --port and --midi-in take them.
pub fn print_ports<T: MidiIO>(io: &T, kind: &str) {
    let ports = io.ports();
    if ports.is_empty() {
        println!("no MIDI {kind} ports");
    }
    for (i, port) in ports.iter().enumerate() {
        println!(
            "{kind} {i}: {}",
            io.port_name(port).unwrap_or_else(|_| "(unnamed)".into())
        );
    }
}

/// The port of `io` that `wanted` names (its index or part of its name), and its name.
pub fn pick_port<T: MidiIO>(io: &T, wanted: &str, kind: &str) -> Result<(T::Port, String)> {
    let ports = io.ports();
    let names: Vec<String> = ports
        .iter()
        .map(|p| io.port_name(p).unwrap_or_default())
        .collect();
    let index = wanted
        .parse::<usize>()
        .ok()
        .filter(|i| *i < ports.len())
        .or_else(|| {
            names
                .iter()
                .position(|n| n.to_lowercase().contains(&wanted.to_lowercase()))
        })
        .ok_or_else(|| {
            anyhow!(
                "no MIDI {kind} port matches {wanted:?}; available: {}",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )
        })?;
    Ok((ports[index].clone(), names[index].clone()))
}

fn connect(out: MidiOutput, args: &PlayArgs, virtual_port: bool) -> Result<MidiOutputConnection> {
    if virtual_port {
        #[cfg(unix)]
        {
            use midir::os::unix::VirtualOutput;
            return out
                .create_virtual(&args.client_name)
                .map_err(|e| anyhow!("cannot create a virtual MIDI port: {e}"));
        }
        #[cfg(not(unix))]
        return Err(anyhow!("virtual MIDI ports need ALSA or CoreMIDI"));
    }
    let wanted = args
        .port
        .as_deref()
        .ok_or_else(|| anyhow!("choose a port with --port NAME-OR-INDEX (see --list-ports)"))?;
    let (port, name) = pick_port(&out, wanted, "output")?;
    out.connect(&port, &args.client_name)
        .map_err(|e| anyhow!("cannot open {name}: {e}"))
}

struct PortRunning {
    thread: JoinHandle<Vec<Duration>>,
}

impl Running for PortRunning {
    fn finish(self: Box<Self>) -> Result<String> {
        let mut late = self
            .thread
            .join()
            .map_err(|_| anyhow!("the MIDI clock thread failed"))?;
        Ok(jitter_report(&mut late))
    }
}

/// Mean, 99th percentile and worst lateness of the sends.
pub fn jitter_report(late: &mut [Duration]) -> String {
    if late.is_empty() {
        return "MIDI port: no events sent".into();
    }
    late.sort();
    let mean = late.iter().sum::<Duration>() / late.len() as u32;
    let p99 = late[(late.len() * 99 / 100).min(late.len() - 1)];
    let max = late[late.len() - 1];
    format!(
        "MIDI port: {} events, lateness mean {} µs, 99% under {} µs, worst {} µs",
        late.len(),
        mean.as_micros(),
        p99.as_micros(),
        max.as_micros()
    )
}

fn wait_until(due: Instant) {
    loop {
        let now = Instant::now();
        if now >= due {
            return;
        }
        let left = due - now;
        if left > SPIN {
            std::thread::sleep(left - SPIN);
        } else {
            std::hint::spin_loop();
        }
    }
}

/// The clock loop: renders ahead with `play` (a block's clock and length, and where its
/// events go; the sender returns whether it took the event), sends each event at its time
/// through `send_bytes`, stops on `control.stop` or the bar limit after releasing every note.
/// Returns each send's lateness.
pub fn run_clock(
    mut play: impl FnMut(Clock, usize, &mut dyn FnMut(MidiEvent) -> bool),
    bps: f64,
    control: &Control,
    mut send_bytes: impl FnMut(&[u8]),
) -> Vec<Duration> {
    let start = Instant::now();
    let mut rendered = 0usize;
    let mut pending: Vec<(usize, MidiEvent)> = Vec::with_capacity(1024);
    let mut late = Vec::new();
    let mut send = |event: &MidiEvent, due: Instant, late: &mut Vec<Duration>| {
        wait_until(due);
        send_bytes(&midi_bytes(event));
        late.push(Instant::now().saturating_duration_since(due));
    };
    loop {
        let beat = rendered as f64 * bps;
        if control.stopping_at(beat) {
            // What is already scheduled goes out on time, then every note is released.
            for (at, event) in pending.drain(..) {
                send(
                    &event,
                    start + Duration::from_secs_f64(at as f64 / RATE),
                    &mut late,
                );
            }
            let mut releases = Vec::new();
            play(Clock::Stopped, BLOCK, &mut |event| {
                releases.push(event);
                true
            });
            for event in &releases {
                send(event, Instant::now(), &mut late);
            }
            control.done.store(true, Ordering::SeqCst);
            return late;
        }
        let horizon = ((start.elapsed() + LOOKAHEAD).as_secs_f64() * RATE) as usize;
        while rendered < horizon {
            let at = rendered;
            play(
                Clock::Rolling {
                    start_beat: at as f64 * bps,
                    beats_per_sample: bps,
                },
                BLOCK,
                &mut |event| {
                    pending.push((at + event.sample() as usize, event));
                    true
                },
            );
            rendered += BLOCK;
        }
        // Send what is due within the next millisecond, each at its time.
        let now_frames = (start.elapsed().as_secs_f64() * RATE) as usize;
        let mut sent = 0;
        for (at, event) in pending.iter() {
            if *at > now_frames + BLOCK {
                break;
            }
            send(
                event,
                start + Duration::from_secs_f64(*at as f64 / RATE),
                &mut late,
            );
            sent += 1;
        }
        pending.drain(..sent);
        std::thread::sleep(Duration::from_micros(500));
    }
}

pub fn start(
    band: Band,
    args: &PlayArgs,
    virtual_port: bool,
    control: Arc<Control>,
) -> Result<(SectionWorker, Box<dyn Running>)> {
    let out = open_output(&args.client_name)?;
    let mut connection = connect(out, args, virtual_port)?;
    control.started.store(true, Ordering::SeqCst);
    let bps = band.output.beats_per_sample(RATE);
    let mut output = band.output;
    let mut player = match &args.midi_in {
        Some(wanted) => Some(PlayerPort::open(&args.client_name, wanted)?),
        None => None,
    };
    let worker = band.worker;
    let thread = std::thread::Builder::new()
        .name("infinite-jazz-midi-clock".into())
        .spawn(move || {
            let play = |clock: Clock, frames: usize, emit: &mut dyn FnMut(MidiEvent) -> bool| {
                output.begin_block();
                if let Some(port) = player.as_mut() {
                    port.push_into(&mut output.player.through);
                }
                output.play_block(clock, frames, emit);
            };
            run_clock(play, bps, &control, |bytes| {
                let _ = connection.send(bytes);
            })
        })?;
    eprintln!(
        "playing on a MIDI port ({})",
        if virtual_port { "virtual" } else { "hardware" }
    );
    Ok((worker, Box::new(PortRunning { thread })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use infinite_jazz_engine::sequencer::{LiveSettings, Sequencer, SequencerStats};
    use infinite_jazz_engine::worker::{reserve_section, section_queues, WorkerSettings};

    /// The clock thread's own precision, with a sink instead of a port (these machines have no
    /// ALSA). Prints the lateness; asserts only what must hold: every note released, in order.
    #[test]
    fn the_clock_sends_every_event_and_releases_every_note() {
        let settings = WorkerSettings {
            config: infinite_jazz_engine::timing::RuntimeConfig::default(),
            depth: 4,
            composer: Default::default(),
            listen: Default::default(),
        };
        let (_worker_queues, queues) = section_queues();
        let stats = std::sync::Arc::new(SequencerStats::default());
        let mut sequencer = Sequencer::new(queues, stats, reserve_section(&settings));
        let control = Control {
            limit_beats: Some(8.0),
            ..Control::default()
        };
        let mut sent: Vec<[u8; 3]> = Vec::new();
        let bps = 240.0 / 60.0 / RATE;
        let live = LiveSettings::default();
        let play = |clock: Clock, frames: usize, emit: &mut dyn FnMut(MidiEvent) -> bool| {
            sequencer.process_bounded(clock, frames, &live, emit);
        };
        let mut late = run_clock(play, bps, &control, |b| {
            sent.push([b[0], b[1], b[2]]);
        });
        eprintln!("{}", jitter_report(&mut late));
        assert!(control.done.load(Ordering::SeqCst));
        let ons = sent.iter().filter(|b| b[0] & 0xF0 == 0x90).count();
        let offs = sent.iter().filter(|b| b[0] & 0xF0 == 0x80).count();
        assert!(ons > 40);
        assert_eq!(ons, offs, "every note released");
        assert_eq!(late.len(), sent.len());
    }
}
