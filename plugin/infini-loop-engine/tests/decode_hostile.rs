//! Decoding: real files round-trip, hostile bytes give errors and never panic.

use infini_loop_engine::decode::{decode_bytes, decode_file, DecodeError};
use proptest::prelude::*;

fn wav(spec: hound::WavSpec, samples: &[f32]) -> Vec<u8> {
    let mut cursor = std::io::Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut cursor, spec).expect("writer");
        for s in samples {
            if spec.sample_format == hound::SampleFormat::Float {
                w.write_sample(*s).expect("sample");
            } else {
                w.write_sample((s * 32767.0) as i16).expect("sample");
            }
        }
        w.finalize().expect("finalize");
    }
    cursor.into_inner()
}

fn float_mono_32k(samples: &[f32]) -> Vec<u8> {
    wav(
        hound::WavSpec {
            channels: 1,
            sample_rate: 32_000,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        },
        samples,
    )
}

#[test]
fn musicgpt_style_float_wav_and_stereo_pcm_decode() {
    let samples: Vec<f32> = (0..32_000).map(|i| (i as f32 * 0.05).sin() * 0.5).collect();
    let clip = decode_bytes(float_mono_32k(&samples), Some("wav")).expect("decodes");
    assert_eq!(
        (clip.sample_rate, clip.channels.len(), clip.frames()),
        (32_000, 1, 32_000)
    );
    assert!(clip.channels[0]
        .iter()
        .zip(&samples)
        .all(|(a, b)| (a - b).abs() < 1e-6));
    let stereo: Vec<f32> = (0..2000)
        .map(|i| if i % 2 == 0 { 0.25 } else { -0.25 })
        .collect();
    let bytes = wav(
        hound::WavSpec {
            channels: 2,
            sample_rate: 44_100,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        },
        &stereo,
    );
    let clip = decode_bytes(bytes, Some("wav")).expect("decodes");
    assert_eq!((clip.channels.len(), clip.frames()), (2, 1000));
    assert!(
        (clip.channels[0][10] - 0.25).abs() < 1e-3 && (clip.channels[1][10] + 0.25).abs() < 1e-3
    );
}

#[test]
fn broken_inputs_are_clear_errors() {
    assert!(matches!(
        decode_bytes(Vec::new(), None),
        Err(DecodeError::Empty)
    ));
    assert!(matches!(
        decode_bytes(b"definitely not audio".to_vec(), Some("wav")),
        Err(DecodeError::Unsupported(_))
    ));
    let whole = float_mono_32k(&vec![0.1; 32_000]);
    // Cut off in the middle of the data: what is there decodes, or it is an error; no panic.
    let cut = whole[..whole.len() / 3].to_vec();
    match decode_bytes(cut, Some("wav")) {
        Ok(clip) => assert!(clip.frames() < 32_000),
        Err(e) => assert!(
            matches!(
                e,
                DecodeError::Corrupt(_) | DecodeError::Empty | DecodeError::Unsupported(_)
            ),
            "{e}"
        ),
    }
    // A header with no samples.
    let header_only = whole[..44].to_vec();
    assert!(decode_bytes(header_only, Some("wav")).is_err());
    let missing = decode_file(std::path::Path::new("/nonexistent/clip.wav"));
    assert!(matches!(missing, Err(DecodeError::File(_))));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096), ext in prop_oneof![Just("wav"), Just("flac"), Just("ogg"), Just("mp3")]) {
        let _ = decode_bytes(bytes, Some(ext));
    }

    #[test]
    fn mutated_wavs_never_panic(flips in proptest::collection::vec((0usize..2000, any::<u8>()), 1..40), cut in 0usize..2100) {
        let mut bytes = float_mono_32k(&(0..480).map(|i| (i as f32 * 0.1).sin()).collect::<Vec<_>>());
        for (at, value) in flips {
            if at < bytes.len() {
                bytes[at] = value;
            }
        }
        bytes.truncate(cut.max(1));
        let _ = decode_bytes(bytes, Some("wav"));
    }
}
