//! Infini Loop's core: turn generated clips into seamless loops and play them forever.
//!
//! - [`decode`]: audio files (WAV including 32-bit float, FLAC, Ogg Vorbis, MP3) to samples.
//! - [`prepare`]: resampling to the playback rate and loudness matching (EBU R128).
//! - [`analysis`]: tempo and beat phase, and the loop points that play without a seam.
//! - [`looper`]: the real-time player with crossfaded seams and clip transitions.
//! - [`stretch`]: loops stretched to whole bars of another tempo, pitch kept.
//!
//! Nothing here knows about plugins or hosts.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod analysis;
pub mod clip;
pub mod decode;
pub mod looper;
pub mod prepare;
pub mod source;
pub mod stretch;
pub mod user_config;
pub mod worker;
