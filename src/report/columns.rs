//! A run's settings as CSV columns, written the same way in every result file.
//!
//! Values come from the resolved config, not from the run id, so a file says what ran
//! (`depth = 2` with `hidden = [256, 128, 64]` is `h256x128`, depth 2). `hidden` is text
//! that no spreadsheet reads as a number or a date (`h256`, `h256x128`); its numeric
//! companion is `depth`.

use super::cells;
use crate::config::{Activation, AdamFormula, Experiment, Init, RunConfig};
use crate::data;

/// Every setting, in the order of the experiment file's keys (`depth` after `hidden`):
/// the keys a sweep may vary, so a new setting gets its column wherever settings are.
pub fn settings() -> impl Iterator<Item = &'static str> {
    crate::config::settings::axis_keys()
}

/// The cell of setting `key` for a run with `config`.
pub fn setting(config: &RunConfig, key: &str) -> String {
    let (d, t) = (&config.data, &config.train);
    match key {
        "dataset" => d.dataset.as_str().to_string(),
        "train_examples" => {
            let all = data::train_size(d.dataset);
            d.train_examples.map_or(all, |cap| cap.min(all)).to_string()
        }
        "hidden" => hidden(&t.hidden),
        "depth" => t.hidden.len().to_string(),
        "activation" => match t.activation {
            Activation::Sigmoid => "sigmoid",
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
        }
        .to_string(),
        "init" => match t.init {
            Init::Uniform => "uniform",
            Init::Xavier => "xavier",
        }
        .to_string(),
        "init_scale" => cells::real(Some(t.init_scale)),
        "noise_level" => cells::real(Some(t.noise_level)),
        // Empty: the run's own noise level and draw.
        "eval_noise_level" => cells::real(t.eval_noise_level),
        "learning_rate" => cells::real(Some(t.learning_rate)),
        "adam" => match t.adam {
            AdamFormula::Tf1 => "tf1",
            AdamFormula::Dfdx => "dfdx",
        }
        .to_string(),
        "batch_size" => t.batch_size.to_string(),
        "epochs" => t.epochs.to_string(),
        "seed" => t.seed.to_string(),
        _ => String::new(),
    }
}

/// Encoder widths as text: `h256`, `h256x128`.
pub fn hidden(widths: &[usize]) -> String {
    let parts: Vec<String> = widths.iter().map(|w| w.to_string()).collect();
    format!("h{}", parts.join("x"))
}

/// The experiment's swept settings as columns, in [`settings`] order. `hidden` and
/// `depth` come as a pair when either is swept, since each determines the other's
/// meaning.
pub fn swept(experiment: &Experiment) -> Vec<&'static str> {
    let axis = |k: &str| experiment.axes.iter().any(|a| a == k);
    let architecture = axis("hidden") || axis("depth");
    settings()
        .filter(|k| match *k {
            "hidden" | "depth" => architecture,
            k => axis(k),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_written_from_the_resolved_config() {
        let mut c = RunConfig::default();
        c.train.hidden = vec![256, 128];
        c.train.learning_rate = 0.001;
        c.data.train_examples = Some(3000);
        let cells: Vec<String> = settings().map(|k| setting(&c, k)).collect();
        assert_eq!(
            cells.join(","),
            "mnist,3000,h256x128,2,sigmoid,uniform,1.0,0.6,,0.0010,tf1,100,20,1"
        );
        c.data.train_examples = None;
        assert_eq!(setting(&c, "train_examples"), "55000");
        c.data.train_examples = Some(99_999);
        assert_eq!(
            setting(&c, "train_examples"),
            "55000",
            "the cap exceeds the set"
        );
        assert_eq!(hidden(&[256]), "h256");
    }

    #[test]
    fn every_setting_has_a_cell() {
        let mut c = RunConfig::default();
        for key in settings().filter(|k| *k != "eval_noise_level") {
            assert!(!setting(&c, key).is_empty(), "{key}");
        }
        assert_eq!(setting(&c, "eval_noise_level"), "", "unset: the run's own");
        c.train.eval_noise_level = Some(0.5);
        assert_eq!(setting(&c, "eval_noise_level"), "0.5");
    }

    #[test]
    fn hidden_and_depth_are_swept_together() {
        let experiment = |axes: &[&str]| Experiment {
            name: "e".into(),
            description: None,
            axes: axes.iter().map(|a| a.to_string()).collect(),
            runs: Vec::new(),
            search: None,
        };
        assert_eq!(
            swept(&experiment(&["depth", "seed"])),
            ["hidden", "depth", "seed"]
        );
        assert_eq!(
            swept(&experiment(&["hidden", "noise_level"])),
            ["hidden", "depth", "noise_level"]
        );
        assert!(swept(&experiment(&[])).is_empty());
    }
}
