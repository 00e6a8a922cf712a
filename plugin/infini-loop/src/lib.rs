//! The Infini Loop sampler plugin.

pub mod editor;
pub mod plugin;

use nice_plug::prelude::*;
pub use plugin::InfiniLoop;

nice_export_clap!(InfiniLoop);
nice_export_vst3!(InfiniLoop);
