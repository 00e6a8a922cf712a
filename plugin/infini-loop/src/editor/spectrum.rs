//! The live spectrum's numbers: magnitudes of the newest output on a log frequency axis.
//! No drawing here, so it is tested without a window.

use crate::playback::{SpectrumFrame, SPECTRUM_SAMPLES};
use rustfft::num_complex::Complex32;

/// Magnitudes in dB of the newest samples, on a log frequency axis of `bins` points.
pub fn spectrum_db(frame: &SpectrumFrame, fft: &dyn rustfft::Fft<f32>, bins: usize) -> Vec<f32> {
    let mut buf: Vec<Complex32> = frame
        .samples
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let w = 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / SPECTRUM_SAMPLES as f32).cos();
            Complex32::new(s * w, 0.0)
        })
        .collect();
    fft.process(&mut buf);
    let nyquist = frame.sample_rate / 2.0;
    (0..bins)
        .map(|b| {
            let f = 30.0 * (nyquist / 30.0).powf(b as f32 / bins as f32);
            let k = ((f / nyquist) * (SPECTRUM_SAMPLES / 2) as f32) as usize;
            let m =
                buf[k.clamp(1, SPECTRUM_SAMPLES / 2 - 1)].norm() / (SPECTRUM_SAMPLES as f32 / 4.0);
            20.0 * m.max(1e-6).log10()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sine_peaks_in_its_band() {
        let mut frame = SpectrumFrame::default();
        for (i, s) in frame.samples.iter_mut().enumerate() {
            *s = 0.5 * (std::f32::consts::TAU * 1000.0 * i as f32 / 48_000.0).sin();
        }
        let fft = rustfft::FftPlanner::new().plan_fft_forward(SPECTRUM_SAMPLES);
        let db = spectrum_db(&frame, fft.as_ref(), 120);
        let peak = db
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
            .unwrap_or(0);
        let f = 30.0 * (24_000.0f32 / 30.0).powf(peak as f32 / 120.0);
        assert!((800.0..1250.0).contains(&f), "{f} Hz");
    }
}
