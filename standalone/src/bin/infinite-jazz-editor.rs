//! The Infinite Jazz plugin with its editor, outside a host (nice-plug's standalone wrapper):
//! `infinite-jazz-editor --backend dummy` opens the editor with a dummy audio device. Used to
//! look at the editor and for the headless smoke test.

use infinite_jazz::InfiniteJazz;

fn main() {
    nice_plug::prelude::nice_export_standalone::<InfiniteJazz>();
}
