//! A small CLAP host (clack-host) that loads a built plugin, feeds it a script of blocks with a
//! transport, and records what comes out.
//!
//! Pitfalls handled here: a plugin without audio ports gets its frame count from raw empty
//! buffers; the library is never unloaded while the process lives (unloading with plugin
//! threads alive crashes); processing runs on a thread other than the one that created the
//! instance.

use clack_extensions::state::PluginState;
use clack_host::events::event_types::{
    MidiEvent as ClapMidiEvent, NoteOffEvent, NoteOnEvent, TransportEvent, TransportFlags,
};
use clack_host::events::EventFlags;
use clack_host::prelude::*;
use clack_host::utils::{BeatTime, SecondsTime};
use std::collections::HashMap;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct TestHostShared;

impl SharedHandler<'_> for TestHostShared {
    fn request_restart(&self) {}
    fn request_process(&self) {}
    fn request_callback(&self) {}
}

pub struct TestHost;

impl HostHandlers for TestHost {
    type Shared<'a> = TestHostShared;
    type MainThread<'a> = ();
    type AudioProcessor<'a> = ();
}

static ENTRIES: Mutex<Option<HashMap<PathBuf, &'static PluginEntry>>> = Mutex::new(None);

/// Loads a plugin library once per process and keeps it loaded until the process exits.
pub fn load_entry(path: &Path) -> &'static PluginEntry {
    let mut entries = ENTRIES.lock().unwrap_or_else(|e| e.into_inner());
    let map = entries.get_or_insert_with(HashMap::new);
    if let Some(entry) = map.get(path) {
        return entry;
    }
    // SAFETY: the library is one of ours, built for this test run.
    let entry = unsafe { PluginEntry::load(path) }
        .unwrap_or_else(|e| panic!("loading {}: {e:?}", path.display()));
    let entry: &'static PluginEntry = Box::leak(Box::new(entry));
    map.insert(path.to_path_buf(), entry);
    entry
}

/// The host's musical time for one block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TransportSpec {
    pub playing: bool,
    pub beat: f64,
    pub tempo: f64,
    pub meter: HostMeter,
}

/// The host's time signature: 4/4 up to `since` (a 4/4 bar line, in beats), then
/// `numerator/denominator`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostMeter {
    pub numerator: u16,
    pub denominator: u16,
    pub since: f64,
}

impl HostMeter {
    /// 4/4 throughout.
    pub const COMMON: HostMeter = HostMeter {
        numerator: 4,
        denominator: 4,
        since: 0.0,
    };

    /// The bar of the song holding `beat`: (its start in beats, its number, its meter), as a
    /// host reports them.
    pub fn bar_at(&self, beat: f64) -> (f64, i32, u16, u16) {
        if beat < self.since {
            let bar = (beat / 4.0).floor();
            return (bar * 4.0, bar as i32, 4, 4);
        }
        let length = 4.0 * f64::from(self.numerator) / f64::from(self.denominator);
        let bars_in = ((beat - self.since) / length + 1e-9).floor();
        (
            self.since + bars_in * length,
            (self.since / 4.0) as i32 + bars_in as i32,
            self.numerator,
            self.denominator,
        )
    }
}

impl TransportSpec {
    /// The beat position the plugin really receives: CLAP's 31-bit fixed point.
    pub fn quantized_beat(&self) -> f64 {
        BeatTime::from_float(self.beat).to_float()
    }

    fn event(&self) -> TransportEvent {
        let mut flags = TransportFlags::HAS_TEMPO
            | TransportFlags::HAS_BEATS_TIMELINE
            | TransportFlags::HAS_SECONDS_TIMELINE
            | TransportFlags::HAS_TIME_SIGNATURE;
        if self.playing {
            flags |= TransportFlags::IS_PLAYING;
        }
        let (bar_start, bar_number, numerator, denominator) = self.meter.bar_at(self.beat);
        TransportEvent {
            header: EventHeader::new_core(0, EventFlags::empty()),
            flags,
            song_pos_beats: BeatTime::from_float(self.beat),
            song_pos_seconds: SecondsTime::from_float(self.beat * 60.0 / self.tempo),
            tempo: self.tempo,
            tempo_inc: 0.0,
            loop_start_beats: BeatTime::from_float(0.0),
            loop_end_beats: BeatTime::from_float(0.0),
            loop_start_seconds: SecondsTime::from_float(0.0),
            loop_end_seconds: SecondsTime::from_float(0.0),
            bar_start: BeatTime::from_float(bar_start),
            bar_number,
            time_signature_numerator: numerator,
            time_signature_denominator: denominator,
        }
    }
}

/// One `process()` call: its length and the transport (none: the host gives no transport).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockSpec {
    pub samples: u32,
    pub transport: Option<TransportSpec>,
}

impl BlockSpec {
    /// `count` blocks of `samples` each, the transport playing at 120 BPM from beat 0; with
    /// `stop_last`, it stops in the last block (so the plugin releases its notes).
    pub fn at_120_bpm(count: usize, samples: u32, sample_rate: f64, stop_last: bool) -> Vec<Self> {
        (0..count)
            .map(|i| BlockSpec {
                samples,
                transport: Some(TransportSpec {
                    playing: !(stop_last && i + 1 == count),
                    beat: i as f64 * f64::from(samples) * 2.0 / sample_rate,
                    tempo: 120.0,
                    meter: HostMeter::COMMON,
                }),
            })
            .collect()
    }
}

/// An event the plugin sent, with its time inside the block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OutEvent {
    NoteOn {
        time: u32,
        channel: u16,
        key: u16,
        velocity: f64,
    },
    NoteOff {
        time: u32,
        channel: u16,
        key: u16,
    },
    Midi {
        time: u32,
        data: [u8; 3],
    },
    Other {
        time: u32,
    },
}

impl OutEvent {
    pub fn time(&self) -> u32 {
        match *self {
            OutEvent::NoteOn { time, .. }
            | OutEvent::NoteOff { time, .. }
            | OutEvent::Midi { time, .. }
            | OutEvent::Other { time } => time,
        }
    }
}

/// What one block produced.
#[derive(Debug, Clone)]
pub struct ProcessedBlock {
    pub spec: BlockSpec,
    pub events: Vec<OutEvent>,
    /// One buffer per output channel (empty for plugins without audio outputs).
    pub audio: Vec<Vec<f32>>,
}

/// A session's set-up.
pub struct Session<'a> {
    pub library: &'a Path,
    pub plugin_id: &'a str,
    pub sample_rate: f64,
    /// Output channels on one main port (0 for a pure MIDI plugin).
    pub output_channels: usize,
    /// Plugin state to load before activation.
    pub state: Option<&'a [u8]>,
    /// Time between activation and the first block (the plugin's worker fills its queue).
    pub settle: std::time::Duration,
    /// When set, never process faster than this many times real time (background work such
    /// as preparing clips gets wall-clock time, as in a host).
    pub pace: Option<f64>,
    /// Notes played into the plugin's note input, by block.
    pub input: &'a [InputNote],
}

/// A note event sent into the plugin in block `block`, at `time` samples into it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputNote {
    pub block: usize,
    pub time: u32,
    pub channel: u8,
    pub key: u8,
    /// A note-on (velocity 0.8) or a note-off.
    pub on: bool,
}

/// Everything a session produced, with the plugin's saved state at the end.
pub struct SessionResult {
    pub blocks: Vec<ProcessedBlock>,
    pub saved_state: Vec<u8>,
    /// Whether the plugin accepted the state given to it.
    pub state_loaded: Option<bool>,
}

fn collect_events(buffer: &EventBuffer) -> Vec<OutEvent> {
    buffer
        .iter()
        .map(|event| {
            let time = event.header().time();
            if let Some(on) = event.as_event::<NoteOnEvent>() {
                OutEvent::NoteOn {
                    time,
                    channel: on.channel().into_specific().unwrap_or(u16::MAX),
                    key: on.key().into_specific().unwrap_or(u16::MAX),
                    velocity: on.velocity(),
                }
            } else if let Some(off) = event.as_event::<NoteOffEvent>() {
                OutEvent::NoteOff {
                    time,
                    channel: off.channel().into_specific().unwrap_or(u16::MAX),
                    key: off.key().into_specific().unwrap_or(u16::MAX),
                }
            } else if let Some(midi) = event.as_event::<ClapMidiEvent>() {
                OutEvent::Midi {
                    time,
                    data: midi.data(),
                }
            } else {
                OutEvent::Other { time }
            }
        })
        .collect()
}

/// Runs a session: instantiate, load state, activate, process every block on an audio
/// thread, save state, deactivate.
pub fn run_session(session: &Session, blocks: &[BlockSpec]) -> SessionResult {
    let entry = load_entry(session.library);
    let host_info = HostInfo::new(
        "Infinite Jazz tests",
        "Infinite Jazz",
        "https://localhost",
        "1.0",
    )
    .expect("host info");
    let id = CString::new(session.plugin_id).expect("plugin id");
    let mut instance =
        PluginInstance::<TestHost>::new(|_| TestHostShared, |_| (), entry, &id, &host_info)
            .expect("plugin instantiates");
    let state_ext: Option<PluginState> = instance.plugin_handle().get_extension();
    let state_loaded = session.state.map(|bytes| {
        let ext = state_ext.expect("plugin has the state extension");
        let mut reader = bytes;
        ext.load(&instance.plugin_handle(), &mut reader).is_ok()
    });
    let max_frames = blocks.iter().map(|b| b.samples).max().unwrap_or(1).max(1);
    let config = PluginAudioConfiguration {
        sample_rate: session.sample_rate,
        min_frames_count: 1,
        max_frames_count: max_frames,
    };
    let processor = instance
        .activate(|_, _| (), config)
        .expect("plugin activates");
    let channels = session.output_channels;
    std::thread::sleep(session.settle);
    let (processor, processed) = std::thread::scope(|scope| {
        scope
            .spawn(move || {
                let mut processor = processor.start_processing().expect("starts processing");
                let mut out_buffer = EventBuffer::with_capacity(8192);
                let mut in_buffer = EventBuffer::new();
                let mut outputs: Vec<Vec<f32>> = vec![vec![0.0; max_frames as usize]; channels];
                let mut output_ports = AudioPorts::with_capacity(channels, 1);
                let mut processed = Vec::with_capacity(blocks.len());
                let mut steady = 0u64;
                let started = std::time::Instant::now();
                for spec in blocks {
                    if let Some(factor) = session.pace {
                        let due = steady as f64 / session.sample_rate / factor;
                        let now = started.elapsed().as_secs_f64();
                        if due > now {
                            std::thread::sleep(std::time::Duration::from_secs_f64(due - now));
                        }
                    }
                    out_buffer.clear();
                    in_buffer.clear();
                    let block_index = processed.len();
                    for note in session.input.iter().filter(|n| n.block == block_index) {
                        let pckn = Pckn::new(
                            0u16,
                            u16::from(note.channel),
                            u16::from(note.key),
                            clack_host::events::Match::<u32>::All,
                        );
                        if note.on {
                            in_buffer.push(&NoteOnEvent::new(note.time, pckn, 0.8));
                        } else {
                            in_buffer.push(&NoteOffEvent::new(note.time, pckn, 0.0));
                        }
                    }
                    let transport = spec.transport.map(|t| t.event());
                    let n = spec.samples as usize;
                    let mut raw_out = [];
                    // A plugin without audio ports learns the block length from raw empty buffers.
                    let (inputs, mut out) = if channels == 0 {
                        // SAFETY: no channel buffers are referenced.
                        unsafe {
                            (
                                InputAudioBuffers::from_raw_buffers(&[], spec.samples),
                                OutputAudioBuffers::from_raw_buffers(&mut raw_out, spec.samples),
                            )
                        }
                    } else {
                        (
                            InputAudioBuffers::empty(),
                            output_ports.with_output_buffers([AudioPortBuffer {
                                latency: 0,
                                channels: AudioPortBufferType::f32_output_only(
                                    outputs.iter_mut().map(|c| &mut c[..n]),
                                ),
                            }]),
                        )
                    };
                    let status = processor.process(
                        &inputs,
                        &mut out,
                        &in_buffer.as_input(),
                        &mut out_buffer.as_output(),
                        Some(steady),
                        transport.as_ref(),
                    );
                    status.expect("process succeeds");
                    steady += u64::from(spec.samples);
                    processed.push(ProcessedBlock {
                        spec: *spec,
                        events: collect_events(&out_buffer),
                        audio: outputs.iter().map(|c| c[..n].to_vec()).collect(),
                    });
                }
                (processor.stop_processing(), processed)
            })
            .join()
            .expect("audio thread finished")
    });
    instance.deactivate(processor);
    let mut saved_state = Vec::new();
    if let Some(ext) = state_ext {
        let _ = ext.save(&instance.plugin_handle(), &mut saved_state);
    }
    SessionResult {
        blocks: processed,
        saved_state,
        state_loaded,
    }
}
