//! Audio files to [`Clip`]s with symphonia. Anything that is not audio, is cut short, or is too
//! large is a clear [`DecodeError`]; nothing panics.

use crate::clip::Clip;
use infinite_jazz_files::{read_bounded, FileError};
use std::io::Cursor;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;
use thiserror::Error;

/// Files larger than this are refused before reading.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;
/// Decoded audio longer than this is refused (MusicGPT clips are up to 30 s).
pub const MAX_SECONDS: f64 = 600.0;
/// Most channels decoded (7.1); more is no music clip.
pub const MAX_CHANNELS: usize = 8;

/// Why a file gave no audio.
#[derive(Debug, Error)]
pub enum DecodeError {
    /// It could not be opened as a regular file.
    #[error(transparent)]
    File(#[from] FileError),
    /// The file is larger than [`MAX_FILE_BYTES`] (its name).
    #[error("{0} is larger than {MAX_FILE_BYTES} bytes")]
    TooLarge(String),
    /// A format or codec not read here (what the decoder said).
    #[error("not an audio file this player reads (WAV, FLAC, Ogg Vorbis, MP3): {0}")]
    Unsupported(String),
    /// The stream breaks off or does not decode (what the decoder said).
    #[error("the audio is damaged: {0}")]
    Corrupt(String),
    /// A valid file without a single sample.
    #[error("the file holds no audio")]
    Empty,
    /// Stopped on request.
    #[error("decoding cancelled")]
    Cancelled,
    /// More than [`MAX_SECONDS`] of audio.
    #[error("the audio is longer than {MAX_SECONDS} s")]
    TooLong,
    /// More than [`MAX_CHANNELS`] channels (how many).
    #[error("{0} channels; at most {MAX_CHANNELS} are supported")]
    TooManyChannels(usize),
}

/// Decodes a regular file of at most [`MAX_FILE_BYTES`] (a device, a FIFO or a directory is
/// refused before anything is read).
pub fn decode_file(path: &Path) -> Result<Clip, DecodeError> {
    decode_file_cancellable(path, &AtomicBool::new(false))
}

/// [`decode_file`], ending with [`DecodeError::Cancelled`] soon after `cancel` is set.
pub fn decode_file_cancellable(path: &Path, cancel: &AtomicBool) -> Result<Clip, DecodeError> {
    let bytes = read_bounded(path, MAX_FILE_BYTES)?;
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_string);
    decode_guarded(bytes, extension.as_deref(), cancel)
}

thread_local! {
    /// Set while this thread runs the third-party parsers, whose panics become errors.
    static DECODING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Keeps the panic hook from printing a parser's panic that [`decode_bytes`] turns into a
/// [`DecodeError`]; every other panic reaches the hook that was installed before.
fn quiet_decoder_panics() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !DECODING.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
}

/// Decodes bytes already in memory; `extension` is a hint (`wav`, `flac`, …).
///
/// The parsers are third-party code fed with untrusted bytes, and some damaged headers make
/// them panic (found by this crate's property tests); decoding never runs on the audio thread,
/// so a panic is caught here and reported as damage.
pub fn decode_bytes(bytes: Vec<u8>, extension: Option<&str>) -> Result<Clip, DecodeError> {
    decode_guarded(bytes, extension, &AtomicBool::new(false))
}

fn decode_guarded(
    bytes: Vec<u8>,
    extension: Option<&str>,
    cancel: &AtomicBool,
) -> Result<Clip, DecodeError> {
    quiet_decoder_panics();
    DECODING.with(|d| d.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decode_unchecked(bytes, extension, cancel)
    }));
    DECODING.with(|d| d.set(false));
    result.unwrap_or_else(|_| {
        Err(DecodeError::Corrupt(
            "the decoder failed on this data".into(),
        ))
    })
}

fn decode_unchecked(
    bytes: Vec<u8>,
    extension: Option<&str>,
    cancel: &AtomicBool,
) -> Result<Clip, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(DecodeError::TooLarge("the data".into()));
    }
    let stream = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = extension {
        hint.with_extension(ext);
    }
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            stream,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| DecodeError::Unsupported(e.to_string()))?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| DecodeError::Unsupported("no audio track".into()))?;
    let track_id = track.id;
    let sample_rate = track
        .codec_params
        .sample_rate
        .filter(|r| (1000..=384_000).contains(r))
        .ok_or_else(|| DecodeError::Unsupported("no usable sample rate".into()))?;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| DecodeError::Unsupported(e.to_string()))?;
    let max_frames = (MAX_SECONDS * f64::from(sample_rate)) as usize;
    let mut channels: Vec<Vec<f32>> = Vec::new();
    let mut damaged = None;
    for packets in 0u64.. {
        if packets % 64 == 0 && cancel.load(Ordering::Relaxed) {
            return Err(DecodeError::Cancelled);
        }
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break
            }
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) => {
                damaged = Some(e.to_string());
                break;
            }
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            // A damaged packet is skipped, as players do; a file of nothing else is an error.
            Err(SymphoniaError::DecodeError(e)) => {
                damaged = Some(e.to_string());
                continue;
            }
            Err(e) => {
                damaged = Some(e.to_string());
                break;
            }
        };
        let spec = *decoded.spec();
        let count = spec.channels.count();
        if count == 0 {
            continue;
        }
        if count > MAX_CHANNELS {
            return Err(DecodeError::TooManyChannels(count));
        }
        if channels.is_empty() {
            channels = vec![Vec::new(); count];
        }
        if channels.len() != count {
            return Err(DecodeError::Corrupt(
                "the channel count changes mid-stream".into(),
            ));
        }
        let mut samples = SampleBuffer::<f32>::new(decoded.capacity() as u64, spec);
        samples.copy_interleaved_ref(decoded);
        for frame in samples.samples().chunks(count) {
            for (c, s) in frame.iter().enumerate() {
                channels[c].push(if s.is_finite() { *s } else { 0.0 });
            }
        }
        if channels[0].len() > max_frames {
            return Err(DecodeError::TooLong);
        }
    }
    if channels.first().is_none_or(Vec::is_empty) {
        return Err(match damaged {
            Some(e) => DecodeError::Corrupt(e),
            None => DecodeError::Empty,
        });
    }
    Ok(Clip {
        sample_rate,
        channels,
    })
}
