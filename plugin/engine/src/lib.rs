//! The host-independent core of Infinite Jazz: no plugin API, no threads of its own, no I/O.
//! Every module can be used, tested and benchmarked alone.

pub mod composer;
pub mod midi_file;
pub mod pitch;
pub mod section;
pub mod take;
pub mod timing;
pub mod tracker;
