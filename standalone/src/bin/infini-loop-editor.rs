//! The Infini Loop plugin with its editor, outside a host (nice-plug's standalone wrapper):
//! `infini-loop-editor --backend dummy` opens the editor. Used to look at the editor and for
//! the headless smoke test.

use infini_loop::InfiniLoop;

fn main() {
    nice_plug::prelude::nice_export_standalone::<InfiniLoop>();
}
