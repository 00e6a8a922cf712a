//! Audio in memory: one `Vec<f32>` per channel.

/// Decoded or prepared audio.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    /// Frames per second.
    pub sample_rate: u32,
    /// One buffer per channel, all the same length.
    pub channels: Vec<Vec<f32>>,
}

impl Clip {
    /// Length in frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    /// Length in seconds.
    pub fn seconds(&self) -> f64 {
        self.frames() as f64 / f64::from(self.sample_rate.max(1))
    }

    /// The average of the channels, or the first channel when the average cancels out (a
    /// mix with phase-inverted "surround" channels sums to near silence, though it plays
    /// loud on two speakers).
    pub fn mono(&self) -> Vec<f32> {
        let n = self.channels.len().max(1) as f32;
        let average: Vec<f32> = (0..self.frames())
            .map(|i| self.channels.iter().map(|c| c[i]).sum::<f32>() / n)
            .collect();
        let energy = |x: &[f32]| x.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>();
        let first = self.channels.first().map_or(0.0, |c| energy(c));
        // 20 dB under the first channel: the channels oppose each other.
        if self.channels.len() > 1 && energy(&average) < 0.01 * first {
            self.channels[0].clone()
        } else {
            average
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opposed_channels_do_not_cancel_in_the_mono_mix() {
        let tone: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.05).sin()).collect();
        let inverted: Vec<f32> = tone.iter().map(|s| -s).collect();
        let clip = Clip {
            sample_rate: 48_000,
            channels: vec![tone.clone(), inverted],
        };
        assert_eq!(clip.mono(), tone);
        let same = Clip {
            sample_rate: 48_000,
            channels: vec![tone.clone(), tone.clone()],
        };
        assert_eq!(same.mono(), tone);
    }
}
