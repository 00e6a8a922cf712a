//! What a host checks before it lists Infinite Jazz: CLAP descriptor, ports and parameters, and
//! the VST3 factory, read from the built library.

use integration_tests::conformance::{clap_report, vst3_report};
use integration_tests::plugin_library;

#[test]
fn clap_hosts_see_a_midi_generator_with_sane_parameters() {
    let lib = plugin_library("infinite-jazz", &["assert_process_allocs"]);
    let report = clap_report(&lib, "com.infinite-jazz.infinite-jazz");
    assert_eq!(report.name, "Infinite Jazz");
    assert!(!report.vendor.is_empty());
    assert!(
        report.features.iter().any(|f| f == "note-effect"),
        "{:?}",
        report.features
    );
    assert_eq!(
        (report.audio_inputs, report.audio_outputs),
        (0, 0),
        "a pure MIDI generator"
    );
    assert_eq!(report.note_inputs, 1, "the player's notes come in");
    assert_eq!(report.note_outputs, 1);
    assert!(
        report.midi_output,
        "the note output speaks MIDI, so any instrument can follow it"
    );
    assert!(
        report.params.len() >= 20,
        "{} parameters",
        report.params.len()
    );
    let mut ids = std::collections::HashSet::new();
    for (id, name, min, default, max) in &report.params {
        assert!(ids.insert(*id), "parameter ids are unique");
        assert!(!name.is_empty());
        assert!(
            min <= default && default <= max,
            "{name}: {min} <= {default} <= {max}"
        );
    }
    for expected in [
        "Swing",
        "Section Bars",
        "Sections Ahead",
        "Seed",
        "Bass Mute",
        "Drums Channel",
        "Sax Velocity",
        "Humanize Timing",
    ] {
        assert!(
            report.params.iter().any(|p| p.1 == expected),
            "missing parameter {expected}"
        );
    }
}

#[test]
fn vst3_hosts_find_one_audio_module_class() {
    let lib = plugin_library("infinite-jazz", &["assert_process_allocs"]);
    let report = vst3_report(&lib);
    assert!(!report.vendor.is_empty());
    assert_eq!(
        report.classes,
        vec![(
            "Audio Module Class".to_string(),
            "Infinite Jazz".to_string()
        )]
    );
}

#[test]
fn hosts_see_infini_loop_as_a_stereo_instrument() {
    let lib = plugin_library("infini-loop", &["assert_process_allocs"]);
    let report = clap_report(&lib, "com.infinite-jazz.infini-loop");
    assert_eq!(report.name, "Infini Loop");
    assert!(
        report.features.iter().any(|f| f == "instrument"),
        "{:?}",
        report.features
    );
    assert_eq!((report.audio_inputs, report.audio_outputs), (0, 1));
    assert_eq!(report.note_inputs, 1, "a MIDI input for the gate");
    for (_, name, min, default, max) in &report.params {
        assert!(min <= default && default <= max, "{name}");
    }
    let vst3 = vst3_report(&lib);
    assert_eq!(
        vst3.classes,
        vec![("Audio Module Class".to_string(), "Infini Loop".to_string())]
    );
}
