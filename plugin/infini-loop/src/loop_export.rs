//! Saving the loop that plays as a WAV file: the editor's "Save current loop". Plain file
//! work with no window in it; the editor runs it on a thread of its own.

use infini_loop_engine::worker::ClipView;
use infinite_jazz_files::{
    check_wav_size, create_folder, unused_path, write_atomically, FileError,
};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why a loop could not be saved.
#[derive(Debug, Error)]
pub enum SaveLoopError {
    #[error("this clip's audio is no longer kept")]
    AudioGone,
    #[error(transparent)]
    File(#[from] FileError),
}

/// A file name made of a clip's label: a label comes from a file name or MusicGPT, so only
/// its plain characters are kept.
pub fn file_stem(label: &str) -> String {
    label
        .trim_end_matches(".wav")
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect()
}

/// Writes `view`'s loop (its samples from the loop start to the loop end, 32-bit float) to a
/// new file in `folder`, never over an earlier one, and returns its path.
pub fn save_loop_wav(view: &ClipView, folder: &Path) -> Result<PathBuf, SaveLoopError> {
    let audio = view.audio.as_ref().ok_or(SaveLoopError::AudioGone)?;
    create_folder(folder)?;
    let path = unused_path(folder, &format!("{}-loop", file_stem(&view.label)), "wav");
    let end = view.loop_end.min(audio.frames());
    let start = view.loop_start.min(end);
    let channels = audio.channels.len() as u16;
    check_wav_size((end - start) as u64, channels, 32)?;
    let spec = hound::WavSpec {
        channels,
        sample_rate: audio.sample_rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    write_atomically(&path, |file| {
        let mut w = hound::WavWriter::new(file, spec).map_err(std::io::Error::other)?;
        for i in start..end {
            for c in &audio.channels {
                w.write_sample(c[i]).map_err(std::io::Error::other)?;
            }
        }
        w.finalize().map_err(std::io::Error::other)
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use infini_loop_engine::clip::Clip;
    use std::sync::Arc;

    fn view(label: &str, audio: Option<Arc<Clip>>) -> ClipView {
        ClipView {
            label: label.into(),
            sample_rate: 8_000,
            frames: 100,
            peaks: vec![],
            loop_start: 10,
            loop_end: 60,
            candidates: vec![],
            bpm: None,
            loop_beats: None,
            audio,
            id: 1,
            in_time: None,
        }
    }

    #[test]
    fn the_loop_is_saved_beside_earlier_saves_never_over_them() {
        let dir = std::env::temp_dir().join(format!("loop-export-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let clip = Arc::new(Clip {
            sample_rate: 8_000,
            channels: vec![(0..100).map(|i| i as f32 / 100.0).collect(); 2],
        });
        let v = view("../evil name.wav", Some(clip));
        let first = save_loop_wav(&v, &dir).expect("saved");
        let second = save_loop_wav(&v, &dir).expect("saved again");
        assert_ne!(first, second, "an earlier save is kept");
        assert_eq!(first.parent(), Some(dir.as_path()), "inside the folder");
        let reader = hound::WavReader::open(&first).expect("a WAV");
        assert_eq!(reader.spec().channels, 2);
        let samples: Vec<f32> = reader.into_samples().map(|s| s.expect("sample")).collect();
        assert_eq!(samples.len(), 2 * 50, "the loop only");
        assert!((samples[0] - 0.10).abs() < 1e-6, "from the loop start");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_clip_whose_audio_is_gone_says_so() {
        let dir = std::env::temp_dir();
        assert!(matches!(
            save_loop_wav(&view("x", None), &dir),
            Err(SaveLoopError::AudioGone)
        ));
    }
}
