//! The host-independent core of Infinite Jazz: no plugin API and no I/O; the only thread is
//! the section worker, which a host or a command line starts.
//! Every module can be used, tested and benchmarked alone.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod composer;
pub mod feel;
pub mod listen;
pub mod meter;
pub mod midi_file;
pub mod pitch;
pub mod player_capture;
pub mod player_through;
pub mod section;
pub mod sequencer;
pub mod take;
pub mod timing;
pub mod tracker;
pub mod worker;
