//! What a router's audio observers conclude from their producers' levels,
//! window by window: mediasoup's AudioLevelObserver (the loudest few above
//! a threshold, or silence) and ActiveSpeakerObserver (who is speaking
//! now, steadily enough to show in a UI). Pure logic; the observer actor
//! feeds it every interval.

use std::collections::HashMap;

use crate::media::audio_level::{AudioLevel, SILENCE_DBOV};

/// What an observer tells `/v1/events` after a window.
#[derive(Debug, Clone, PartialEq)]
pub enum ObserverReport {
    /// Loudest first: (producer id, dBov).
    Volumes(Vec<(String, f64)>),
    Silence,
    DominantSpeaker(String),
}

/// mediasoup's AudioLevelObserver: every window, the `max_entries` loudest
/// producers at or above `threshold` dBov; `silence` once when none is.
pub struct LoudestSelection {
    pub max_entries: usize,
    pub threshold: f64,
    silent: bool,
}

impl LoudestSelection {
    pub fn new(max_entries: usize, threshold: i8) -> Self {
        LoudestSelection {
            max_entries,
            threshold: f64::from(threshold),
            silent: false,
        }
    }

    pub fn window(&mut self, levels: &[(String, Option<AudioLevel>)]) -> Option<ObserverReport> {
        let mut loud: Vec<(String, f64)> = levels
            .iter()
            .filter_map(|(id, level)| level.map(|l| (id.clone(), l.dbov)))
            .filter(|(_, dbov)| *dbov >= self.threshold)
            .collect();
        loud.sort_by(|a, b| b.1.total_cmp(&a.1));
        loud.truncate(self.max_entries);
        if loud.is_empty() {
            if self.silent {
                return None;
            }
            self.silent = true;
            return Some(ObserverReport::Silence);
        }
        self.silent = false;
        Some(ObserverReport::Volumes(loud))
    }
}

/// Speech energy above silence, 0 (silent or no packets) to 127.
fn activity(level: Option<AudioLevel>) -> f64 {
    level.map_or(0.0, |l| l.dbov - f64::from(SILENCE_DBOV))
}

/// Smoothing of each producer's activity per window: speech comes in
/// syllables and pauses, a speaker does not.
const SMOOTHING: f64 = 0.5;
/// Below this smoothed activity nobody is speaking (about −70 dBov).
const SPEAKING: f64 = 57.0;
/// A new speaker must be this much louder than the current one...
const MARGIN: f64 = 6.0;
/// ...for this many windows in a row, so that a cough does not switch.
const WINDOWS_TO_SWITCH: u32 = 2;

/// mediasoup's ActiveSpeakerObserver, simplified: the producer with the
/// most sustained speech, switching only to one clearly and steadily
/// louder (or when the speaker stops).
#[derive(Default)]
pub struct DominantSpeaker {
    smoothed: HashMap<String, f64>,
    current: Option<String>,
    challenger: Option<(String, u32)>,
}

impl DominantSpeaker {
    pub fn current(&self) -> Option<&str> {
        self.current.as_deref()
    }

    pub fn window(&mut self, levels: &[(String, Option<AudioLevel>)]) -> Option<ObserverReport> {
        self.smoothed
            .retain(|id, _| levels.iter().any(|(l, _)| l == id));
        for (id, level) in levels {
            let score = self.smoothed.entry(id.clone()).or_insert(0.0);
            *score = SMOOTHING * *score + (1.0 - SMOOTHING) * activity(*level);
        }
        let (loudest, loudest_score) = self
            .smoothed
            .iter()
            .max_by(|a, b| a.1.total_cmp(b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(id, s)| (id.clone(), *s))?;
        if loudest_score < SPEAKING {
            self.challenger = None;
            return None;
        }
        let current_score = self
            .current
            .as_ref()
            .and_then(|c| self.smoothed.get(c))
            .copied();
        let switch = match current_score {
            None => true,
            Some(_) if self.current.as_deref() == Some(&loudest) => {
                self.challenger = None;
                false
            }
            Some(score) if score < SPEAKING || loudest_score >= score + MARGIN => {
                let windows = match &self.challenger {
                    Some((id, n)) if *id == loudest => n + 1,
                    _ => 1,
                };
                self.challenger = Some((loudest.clone(), windows));
                score < SPEAKING || windows >= WINDOWS_TO_SWITCH
            }
            Some(_) => {
                self.challenger = None;
                false
            }
        };
        if !switch {
            return None;
        }
        self.challenger = None;
        self.current = Some(loudest.clone());
        Some(ObserverReport::DominantSpeaker(loudest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(dbov: f64) -> Option<AudioLevel> {
        Some(AudioLevel { dbov, packets: 15 })
    }

    fn window(a: Option<AudioLevel>, b: Option<AudioLevel>) -> Vec<(String, Option<AudioLevel>)> {
        vec![("a".into(), a), ("b".into(), b)]
    }

    #[test]
    fn the_loudest_above_the_threshold_are_reported_and_silence_once() {
        let mut selection = LoudestSelection::new(1, -60);
        assert_eq!(
            selection.window(&window(level(-30.0), level(-20.0))),
            Some(ObserverReport::Volumes(vec![("b".into(), -20.0)]))
        );
        assert_eq!(
            selection.window(&window(level(-90.0), None)),
            Some(ObserverReport::Silence)
        );
        assert_eq!(selection.window(&window(level(-90.0), None)), None);
    }

    #[test]
    fn the_speaker_is_named_and_switches_when_the_other_talks_steadily() {
        let mut speaker = DominantSpeaker::default();
        let mut named = Vec::new();
        // a talks, b is muted (silence frames).
        for _ in 0..5 {
            named.extend(speaker.window(&window(level(-25.0), level(-127.0))));
        }
        assert_eq!(named, vec![ObserverReport::DominantSpeaker("a".into())]);
        // One loud window of b does not switch; steady speech does.
        assert_eq!(speaker.window(&window(level(-127.0), level(-20.0))), None);
        let mut switched = None;
        for _ in 0..4 {
            switched = switched.or(speaker.window(&window(level(-127.0), level(-20.0))));
        }
        assert_eq!(switched, Some(ObserverReport::DominantSpeaker("b".into())));
        assert_eq!(speaker.current(), Some("b"));
        // Everyone silent: the last speaker stays.
        for _ in 0..5 {
            assert_eq!(speaker.window(&window(level(-127.0), None)), None);
        }
        assert_eq!(speaker.current(), Some("b"));
    }
}
