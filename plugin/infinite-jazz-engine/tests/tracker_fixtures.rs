//! The parser against a corpus of model-style answers (tests/fixtures/model_outputs): each
//! fixture imitates one habit of real model output, and every one must come out as the same
//! music the clean version holds, with the repairs it needed listed.

use infinite_jazz_engine::section::{Instrument, Note, Section, Step};
use infinite_jazz_engine::timing::RuntimeConfig;
use infinite_jazz_engine::tracker::{parse_section, ParseError, ParsedSection, Repair};
use std::path::PathBuf;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/model_outputs")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn config() -> RuntimeConfig {
    RuntimeConfig::default().with_bars_per_section(1)
}

fn parse(name: &str) -> ParsedSection {
    parse_section(&fixture(name), &config()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn clean() -> Section {
    parse("01_clean.txt").section
}

fn note(key: u8, velocity: u8) -> Step {
    Step::Notes(vec![Note { key, velocity }])
}

/// Several notes struck together, as (key, velocity) pairs in the order written.
fn chord(notes: &[(u8, u8)]) -> Step {
    Step::Notes(
        notes
            .iter()
            .map(|&(key, velocity)| Note { key, velocity })
            .collect(),
    )
}

/// Fixtures whose music must equal the clean fixture's exactly, without any repair.
const SAME_AS_CLEAN: [&str; 13] = [
    "02_markdown_fence.txt",
    "03_chatter_around.txt",
    "04_lowercase_headers.txt",
    "05_bold_headers.txt",
    "06_colon_headers.txt",
    "07_step_numbers.txt",
    "08_numbered_dots_and_pipes.txt",
    "09_trailing_spaces_blank_lines.txt",
    "17_chords_with_spaces.txt",
    "19_inline_comments.txt",
    "20_markdown_headers.txt",
    "21_fence_per_instrument.txt",
    "25_table_header_row.txt",
];

#[test]
fn the_corpus_has_at_least_twenty_fixtures() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/model_outputs");
    let count = std::fs::read_dir(dir).expect("fixture folder").count();
    assert!(count >= 20, "{count} fixtures");
}

#[test]
fn clean_fixture_reads_as_written() {
    let parsed = parse("01_clean.txt");
    assert!(parsed.repairs.is_empty(), "{:?}", parsed.repairs);
    let s = &parsed.section;
    assert_eq!(s.part(Instrument::Bass).steps[0], note(36, 90));
    assert_eq!(s.part(Instrument::Bass).steps[1], Step::Tie);
    assert_eq!(s.part(Instrument::Bass).steps[3], Step::Rest);
    assert_eq!(
        s.part(Instrument::Drums).steps[0],
        chord(&[(51, 80), (36, 35)])
    );
    assert_eq!(
        s.part(Instrument::Piano).steps[2],
        chord(&[(52, 60), (57, 58), (62, 62)])
    );
    assert_eq!(s.part(Instrument::Sax).steps[0], note(67, 80));
}

#[test]
fn decorated_answers_read_like_the_clean_one() {
    let clean = clean();
    for name in SAME_AS_CLEAN {
        let parsed = parse(name);
        assert_eq!(parsed.section, clean, "{name}");
        assert!(parsed.repairs.is_empty(), "{name}: {:?}", parsed.repairs);
    }
}

fn has(parsed: &ParsedSection, pred: impl Fn(&Repair) -> bool) -> bool {
    parsed.repairs.kept.iter().any(pred)
}

#[test]
fn short_and_long_blocks_are_padded_and_cut() {
    let short = parse("10_too_few_steps.txt");
    assert!(has(&short, |r| matches!(
        r,
        Repair::PaddedSteps {
            instrument: Instrument::Sax,
            found: 12,
            expected: 16
        }
    )));
    assert_eq!(short.section.part(Instrument::Sax).steps.len(), 16);
    assert_eq!(short.section.part(Instrument::Sax).steps[12], Step::Rest);
    let long = parse("11_too_many_steps.txt");
    assert!(has(&long, |r| matches!(
        r,
        Repair::TruncatedSteps {
            found: 20,
            expected: 16,
            ..
        }
    )));
    assert_eq!(long.section, clean());
}

#[test]
fn a_missing_instrument_rests_and_is_reported() {
    let parsed = parse("12_missing_sax.txt");
    assert_eq!(parsed.repairs.missing_instruments(), vec![Instrument::Sax]);
    assert_eq!(parsed.section.part(Instrument::Sax).note_count(), 0);
    assert_eq!(
        parsed.section.part(Instrument::Bass),
        clean().part(Instrument::Bass)
    );
}

#[test]
fn out_of_range_notes_fold_by_octaves() {
    let parsed = parse("13_out_of_range.txt");
    assert_eq!(parsed.section.part(Instrument::Bass).steps[0], note(60, 90));
    assert_eq!(parsed.section.part(Instrument::Sax).steps[0], note(67, 80));
    assert!(has(&parsed, |r| matches!(
        r,
        Repair::FoldedNote {
            from: 72,
            to: 60,
            ..
        }
    )));
    assert!(has(&parsed, |r| matches!(
        r,
        Repair::FoldedNote {
            from: 91,
            to: 67,
            ..
        }
    )));
}

#[test]
fn garbage_tokens_are_dropped_and_reported() {
    let parsed = parse("14_garbage_tokens.txt");
    let bass = &parsed.section.part(Instrument::Bass).steps;
    assert_eq!(bass[4], Step::Rest, "E2:loud has no velocity to trust");
    assert_eq!(bass[12], Step::Rest);
    assert_eq!(bass[13], Step::Tie, "later steps keep their place");
    assert_eq!(parsed.section.part(Instrument::Sax).steps[10], note(71, 82));
    let dropped = parsed
        .repairs
        .kept
        .iter()
        .filter(|r| matches!(r, Repair::TokenDropped { .. }))
        .count();
    assert_eq!(dropped, 3);
}

#[test]
fn velocities_are_defaulted_clamped_or_silent_notes_dropped() {
    let missing = parse("15_missing_velocities.txt");
    assert_eq!(
        missing.section.part(Instrument::Bass).steps[0],
        note(36, 80)
    );
    assert_eq!(
        missing
            .repairs
            .kept
            .iter()
            .filter(|r| matches!(r, Repair::VelocityMissing { .. }))
            .count(),
        2
    );
    let bad = parse("16_bad_velocities.txt");
    assert_eq!(bad.section.part(Instrument::Bass).steps[0], note(36, 127));
    assert_eq!(bad.section.part(Instrument::Bass).steps[4], Step::Rest);
    assert!(has(&bad, |r| matches!(
        r,
        Repair::VelocityClamped { from: 300, .. }
    )));
    assert!(has(&bad, |r| matches!(
        r,
        Repair::SilentNoteDropped { step: 4, .. }
    )));
}

#[test]
fn numeric_keys_flats_and_tie_words_are_understood() {
    assert_eq!(parse("18_numeric_drum_keys.txt").section, clean());
    let flats = parse("22_flats_lowercase_notes.txt");
    assert_eq!(flats.section.part(Instrument::Bass).steps[0], note(34, 90));
    assert_eq!(flats.section.part(Instrument::Bass).steps[4], note(39, 85));
    let words = parse("26_metadata_and_tie_words.txt");
    assert_eq!(words.section, clean());
    assert_eq!(
        words.metadata,
        vec![
            ("tempo".into(), "132".into()),
            ("swing".into(), "0.6".into())
        ]
    );
}

#[test]
fn a_repeated_block_is_ignored() {
    let parsed = parse("23_duplicate_block.txt");
    assert_eq!(parsed.section, clean());
    assert!(has(&parsed, |r| matches!(
        r,
        Repair::DuplicateBlock(Instrument::Bass)
    )));
}

#[test]
fn a_refusal_is_an_error_not_silence() {
    assert_eq!(
        parse_section(&fixture("24_refusal.txt"), &config()),
        Err(ParseError::NoInstrumentBlocks)
    );
}
