//! Property tests: the parser survives any input, and written sections read back exactly.

use infinite_jazz_engine::section::{Instrument, Note, Section, Step, MAX_NOTES_PER_STEP};
use infinite_jazz_engine::timing::RuntimeConfig;
use infinite_jazz_engine::tracker::{parse_section, write_section};
use proptest::prelude::*;

fn config(bars: usize) -> RuntimeConfig {
    RuntimeConfig::default().with_bars_per_section(bars)
}

fn step_strategy(low: u8, high: u8) -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::Rest),
        1 => Just(Step::Tie),
        2 => proptest::collection::btree_map(low..=high, 1u8..=127, 1..=MAX_NOTES_PER_STEP)
            .prop_map(|m| Step::Notes(m.into_iter().map(|(key, velocity)| Note { key, velocity }).collect())),
    ]
}

fn section_strategy(bars: usize) -> impl Strategy<Value = Section> {
    let c = config(bars);
    let n = c.total_steps();
    let part = |i: Instrument| {
        let r = c.range(i);
        proptest::collection::vec(step_strategy(r.low, r.high), n)
    };
    (
        part(Instrument::Bass),
        part(Instrument::Drums),
        part(Instrument::Piano),
        part(Instrument::Sax),
    )
        .prop_map(move |(b, d, p, s)| {
            let mut section = Section::empty(n);
            for (i, steps) in Instrument::ALL.into_iter().zip([b, d, p, s]) {
                section.part_mut(i).steps = steps;
            }
            section
        })
}

/// Fragments real answers are made of, shuffled into hostile but plausible text.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("BASS".to_string()),
        Just("**Drums**".to_string()),
        Just("piano:".to_string()),
        Just("## SAX".to_string()),
        Just("```".to_string()),
        Just(".".to_string()),
        Just("^".to_string()),
        Just("# tempo: 120".to_string()),
        "[A-Gb#]{1,3}-?[0-9]{1,2}:[0-9]{1,4}",
        "[0-9]{1,3}[.:|)]? ?[A-G][#b]?[0-9]:[0-9]{1,3}(,[A-G][0-9]:[0-9]{1,3}){0,12}",
        "\\PC{0,40}",
        "[:,;|#^.\\- ]{0,20}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn written_sections_read_back_exactly(section in section_strategy(2)) {
        let parsed = parse_section(&write_section(&section), &config(2)).expect("own output parses");
        prop_assert_eq!(&parsed.section, &section);
        prop_assert!(parsed.repairs.is_empty());
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,2000}") {
        let _ = parse_section(&text, &config(2));
    }

    #[test]
    fn plausible_garbage_yields_valid_sections(lines in proptest::collection::vec(fragment(), 0..300), bars in 1usize..=4) {
        let text = lines.join("\n");
        let c = config(bars);
        if let Ok(parsed) = parse_section(&text, &c) {
            for i in Instrument::ALL {
                let part = parsed.section.part(i);
                prop_assert_eq!(part.steps.len(), c.total_steps());
                for step in &part.steps {
                    if let Step::Notes(notes) = step {
                        prop_assert!(!notes.is_empty() && notes.len() <= MAX_NOTES_PER_STEP);
                        for n in notes {
                            prop_assert!(c.range(i).contains(n.key));
                            prop_assert!((1..=127).contains(&n.velocity));
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..2000 {
        let len = (rng % 3000) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                (rng >> 24) as u8
            })
            .collect();
        let _ = parse_section(&String::from_utf8_lossy(&bytes), &config(2));
    }
}
