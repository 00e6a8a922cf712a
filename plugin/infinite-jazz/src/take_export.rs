//! Saving what the band played from the editor: a MIDI file and its tracker text side by side,
//! under a name nothing else has (two saves in one second never overwrite each other, nor the
//! user's files). Blocking file I/O: the editor runs it on a thread of its own.

use infinite_jazz_engine::listen::PlayerPart;
use infinite_jazz_engine::midi_file::{write_smf_with_player, MidiFileError};
use infinite_jazz_engine::section::Section;
use infinite_jazz_engine::take::{write_take, write_take_with_player, TakeInfo};
use infinite_jazz_engine::timing::RuntimeConfig;
use infinite_jazz_files::{create_folder, unused_stem, write_bytes_atomically, FileError};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why a take could not be saved.
#[derive(Debug, Error)]
pub enum TakeExportError {
    #[error("nothing has played yet")]
    NothingPlayed,
    #[error(transparent)]
    Midi(#[from] MidiFileError),
    #[error("could not start saving: {0}")]
    Thread(std::io::Error),
    #[error(transparent)]
    Write(#[from] FileError),
}

/// One take to save: the sections, the timing they were played with and the take's notes.
pub struct TakeExport {
    pub sections: Vec<Section>,
    pub config: RuntimeConfig,
    pub info: TakeInfo,
    /// The player's part on the take's beats and its channel (0-based): a fifth track.
    pub player: Option<(PlayerPart, u8)>,
}

impl TakeExport {
    /// Writes `<folder>/infinite-jazz-<seconds>.mid` and `.txt` (with a number added when
    /// either is taken) and returns their common path without extension.
    pub fn save(&self, folder: &Path, stamp_secs: u64) -> Result<PathBuf, TakeExportError> {
        if self.sections.is_empty() {
            return Err(TakeExportError::NothingPlayed);
        }
        create_folder(folder)?;
        let stem = format!("infinite-jazz-{stamp_secs}");
        let base = unused_stem(folder, &stem, &["mid", "txt"]);
        let player = self.player.as_ref().map(|(part, channel)| (part, *channel));
        let midi = write_smf_with_player(&self.sections, &self.config, player)?;
        write_bytes_atomically(&base.with_extension("mid"), &midi)?;
        let text = match &self.player {
            Some((part, _)) => write_take_with_player(&self.info, &self.sections, part),
            None => write_take(&self.info, &self.sections),
        };
        write_bytes_atomically(&base.with_extension("txt"), text.as_bytes())?;
        Ok(base)
    }
}

/// Seconds since 1970, for the file names.
pub fn now_stamp() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use infinite_jazz_engine::composer::{BuiltinComposer, ComposerSettings};
    use infinite_jazz_engine::take::read_take;

    fn take(sections: usize) -> TakeExport {
        let config = RuntimeConfig::default();
        let mut composer = BuiltinComposer::new(&ComposerSettings::default());
        TakeExport {
            sections: (0..sections)
                .map(|_| composer.compose_next(&config).section)
                .collect(),
            info: TakeInfo::from_config(&config),
            config,
            player: None,
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "infinite-jazz-take-export-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn saves_never_overwrite_and_the_text_reads_back() {
        let dir = scratch("twice").join("new folder");
        let export = take(2);
        let first = export.save(&dir, 1000).expect("saves");
        // A file of the user's with the next text name is left alone.
        std::fs::write(dir.join("infinite-jazz-1000-2.txt"), "mine").expect("write");
        let second = export.save(&dir, 1000).expect("saves again");
        assert_ne!(first, second);
        assert_eq!(
            std::fs::read_to_string(dir.join("infinite-jazz-1000-2.txt")).expect("read"),
            "mine"
        );
        for base in [&first, &second] {
            let midi = std::fs::read(base.with_extension("mid")).expect("midi");
            assert!(midi.starts_with(b"MThd"));
            let text = std::fs::read_to_string(base.with_extension("txt")).expect("text");
            let read = read_take(&text, RuntimeConfig::default()).expect("the text parses");
            assert_eq!(read.sections, export.sections);
        }
    }

    #[test]
    fn the_players_part_is_a_fifth_track() {
        use infinite_jazz_engine::listen::PlayerNote;
        let dir = scratch("player");
        let tracks = |export: &TakeExport| {
            let base = export.save(&dir, 7).expect("saves");
            let midi = std::fs::read(base.with_extension("mid")).expect("midi");
            let count = midi.windows(4).filter(|w| w == b"MTrk").count();
            (count, midi.windows(6).any(|w| w == b"Player"))
        };
        let mut export = take(2);
        let (without, named) = tracks(&export);
        assert!(!named);
        export.player = Some((
            PlayerPart::new([PlayerNote {
                start: 1.0,
                end: 2.0,
                key: 64,
                velocity: 80,
            }]),
            3,
        ));
        assert_eq!(tracks(&export), (without + 1, true));
        let base = export.save(&dir, 8).expect("saves");
        let text = std::fs::read_to_string(base.with_extension("txt")).expect("text");
        assert!(
            text.contains("\nPLAYER\n") && text.contains("E4:80"),
            "{text}"
        );
    }

    #[test]
    fn nothing_played_or_no_folder_is_a_clear_error() {
        let dir = scratch("errors");
        assert!(matches!(
            take(0).save(&dir, 1),
            Err(TakeExportError::NothingPlayed)
        ));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("a file");
        std::fs::write(&file, "x").expect("write");
        let err = take(1)
            .save(&file.join("below"), 1)
            .expect_err("a file is no folder");
        assert!(
            matches!(err, TakeExportError::Write(FileError::Folder { .. })),
            "{err}"
        );
    }
}
