//! The settings a run can have, and how a TOML value becomes one of them.
//!
//! Fixed settings (`[data]`, `[train]`), sweep values and `--set` overrides all pass
//! through [`apply`], so a value is checked the same way wherever it was written.

use toml::Value;

use super::{Activation, AdamFormula, Init, RunConfig};
use crate::data::DatasetName;

/// Keys of the `[data]` table.
pub const DATA_KEYS: &[&str] = &["dataset", "train_examples"];

/// Keys of the `[train]` table; `depth` selects the first `depth` widths of `hidden`.
pub const TRAIN_KEYS: &[&str] = &[
    "hidden",
    "depth",
    "activation",
    "init",
    "init_scale",
    "noise_level",
    "eval_noise_level",
    "learning_rate",
    "adam",
    "batch_size",
    "epochs",
    "seed",
];

/// Every key that may be a sweep axis, in the order run ids and tables list them.
pub fn axis_keys() -> impl Iterator<Item = &'static str> {
    DATA_KEYS.iter().chain(TRAIN_KEYS).copied()
}

/// Short prefix of a key in run ids (`h256_noise0.6_lr0.01_seed2`).
pub fn id_prefix(key: &str) -> &'static str {
    match key {
        "dataset" => "",
        "train_examples" => "n",
        "hidden" => "h",
        "depth" => "depth",
        "activation" => "",
        "init" => "",
        "init_scale" => "scale",
        "noise_level" => "noise",
        "eval_noise_level" => "evalnoise",
        "learning_rate" => "lr",
        "adam" => "adam-",
        "batch_size" => "bs",
        "epochs" => "ep",
        "seed" => "seed",
        _ => "",
    }
}

/// The largest `init_scale` and `noise_level`. Weights of ±1e6 already saturate every
/// sigmoid on the first step, whatever the input; past about 1e35 the first layer's sums
/// over 784 pixels overflow f32, and near 2e38 the uniform draw itself cannot be made.
pub const MAX_SCALE: f64 = 1e6;

/// The most epochs a run may ask for: a 20-epoch MNIST run takes about 15 s on one core,
/// so 100,000 epochs is about three weeks. More is a typo, not a budget.
pub const MAX_EPOCHS: usize = 100_000;

/// Most runs one experiment may expand to. A million runs expand in about a second and
/// take about 600 MB (measured, see benches/scale.rs); far more would take the memory of
/// a small machine before anything is checked, and is better split into several files.
pub const MAX_RUNS: usize = 2_000_000;

/// A run's settings while they are being assembled: `depth` is resolved at the end.
#[derive(Clone, Debug, Default)]
pub struct Draft {
    pub config: RunConfig,
    pub depth: Option<usize>,
}

/// Sets `key` from `value`, or says what is wrong with the value.
pub fn apply(draft: &mut Draft, key: &str, value: &Value) -> Result<(), String> {
    let c = &mut draft.config;
    match key {
        "dataset" => c.data.dataset = dataset(value)?,
        "train_examples" => c.data.train_examples = Some(positive(value)?),
        "hidden" => c.train.hidden = widths(value)?,
        "depth" => draft.depth = Some(positive(value)?),
        "activation" => c.train.activation = activation(value)?,
        "init" => c.train.init = init(value)?,
        "init_scale" => c.train.init_scale = positive_float(at_most(value, MAX_SCALE)?)?,
        "noise_level" => c.train.noise_level = non_negative_float(at_most(value, MAX_SCALE)?)?,
        "eval_noise_level" => {
            c.train.eval_noise_level = Some(non_negative_float(at_most(value, MAX_SCALE)?)?)
        }
        "learning_rate" => c.train.learning_rate = positive_float(value)?,
        "adam" => c.train.adam = adam(value)?,
        "batch_size" => c.train.batch_size = positive(value)?,
        "epochs" => c.train.epochs = at_most_count(positive(value)?, MAX_EPOCHS)?,
        "seed" => c.train.seed = seed(value)?,
        _ => return Err(format!("`{key}` is not a setting")),
    }
    Ok(())
}

/// Resolves `depth` against `hidden` into the final config.
pub fn finish(draft: Draft) -> Result<RunConfig, String> {
    let mut config = draft.config;
    if let Some(depth) = draft.depth {
        let n = config.train.hidden.len();
        if depth > n {
            return Err(format!(
                "depth = {depth} needs at least {depth} widths in `hidden`, which has {n} ({})",
                show_widths(&config.train.hidden)
            ));
        }
        config.train.hidden.truncate(depth);
    }
    Ok(config.normalized())
}

/// The section a setting is fixed in: `data` or `train`.
pub fn section(key: &str) -> &'static str {
    if DATA_KEYS.contains(&key) {
        "data"
    } else {
        "train"
    }
}

/// Checks that need a run's whole config, before any data is loaded: the key to blame
/// and what is wrong with it.
pub fn check_run(config: &RunConfig) -> Result<(), (&'static str, String)> {
    let dataset = config.data.dataset;
    let available = dataset.train_size();
    let n = match config.data.train_examples {
        Some(n) if n > available => {
            return Err((
                "train_examples",
                format!(
                    "is {n}, but {} has {available} training images (the first 5000 of 60000 are held out for validation): use at most {available}, or remove the key to use them all",
                    dataset.as_str()
                ),
            ))
        }
        Some(n) => n,
        None => available,
    };
    let batch = config.train.batch_size;
    if batch > n {
        return Err((
            "batch_size",
            format!(
                "is {batch}, more than the {n} training examples (`train_examples`), so an epoch would have no full batch: use a batch_size of at most {n}"
            ),
        ));
    }
    Ok(())
}

/// How a value appears in a run id and in tables: compact and filesystem-safe. A float
/// whose decimal form is long (1e-300 has 300 digits) is written in exponent form.
pub fn display(key: &str, value: &Value) -> String {
    let raw = match value {
        Value::String(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => compact_float(*f),
        Value::Boolean(b) => b.to_string(),
        Value::Array(items) if key == "hidden" => items
            .iter()
            .map(|v| display(key, v))
            .collect::<Vec<_>>()
            .join("-"),
        other => other.to_string(),
    };
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn compact_float(f: f64) -> String {
    let plain = f.to_string();
    let exp = format!("{f:e}");
    if plain.len() > 12 && exp.len() < plain.len() {
        exp
    } else {
        plain
    }
}

pub fn show_widths(widths: &[usize]) -> String {
    let parts: Vec<String> = widths.iter().map(|w| w.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

fn describe(value: &Value) -> String {
    let kind = match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "a list",
        Value::Table(_) => "a table",
    };
    format!("{kind} ({value})")
}

fn positive(value: &Value) -> Result<usize, String> {
    match value {
        Value::Integer(i) if *i >= 1 => Ok(*i as usize),
        Value::Integer(i) => Err(format!("must be at least 1, got {i}")),
        other => Err(format!(
            "expected a positive integer, got {}",
            describe(other)
        )),
    }
}

fn seed(value: &Value) -> Result<u64, String> {
    match value {
        Value::Integer(i) if *i >= 0 => Ok(*i as u64),
        other => Err(format!(
            "expected a non-negative integer, got {}",
            describe(other)
        )),
    }
}

fn float(value: &Value) -> Result<f64, String> {
    let f = match value {
        Value::Float(f) => *f,
        Value::Integer(i) => *i as f64,
        other => return Err(format!("expected a number, got {}", describe(other))),
    };
    if f.is_finite() {
        Ok(f)
    } else {
        Err(format!("must be a finite number, got {f}"))
    }
}

fn positive_float(value: &Value) -> Result<f64, String> {
    let f = float(value)?;
    if f > 0.0 {
        in_f32(f)
    } else {
        Err(format!("must be greater than 0, got {f}"))
    }
}

/// `-0.0` comes back as `0.0`: one setting, one meaning.
fn non_negative_float(value: &Value) -> Result<f64, String> {
    let f = float(value)?;
    if f >= 0.0 {
        in_f32(f + 0.0)
    } else {
        Err(format!("must be 0 or more, got {f}"))
    }
}

/// Training computes in f32: a value that is 0, a subnormal or infinite there would train
/// with another value than the one written.
fn in_f32(f: f64) -> Result<f64, String> {
    let single = f as f32;
    if f == 0.0 || single.is_normal() {
        Ok(f)
    } else if single.is_infinite() {
        Err(format!(
            "is {}, beyond the largest 32-bit float training computes with (3.4e38)",
            compact_float(f)
        ))
    } else {
        Err(format!(
            "is {}, which is 0 or lossy in the 32-bit floats training computes with: use at least 1.2e-38",
            compact_float(f)
        ))
    }
}

/// `value` if it is no number above `limit`; other checks come after.
fn at_most(value: &Value, limit: f64) -> Result<&Value, String> {
    match float(value) {
        Ok(f) if f > limit => Err(format!(
            "is {}: use at most {limit:e} (beyond it the 32-bit arithmetic of training saturates or overflows)",
            compact_float(f)
        )),
        _ => Ok(value),
    }
}

fn at_most_count(n: usize, limit: usize) -> Result<usize, String> {
    if n <= limit {
        Ok(n)
    } else {
        Err(format!(
            "is {n}: use at most {limit} (an epoch of MNIST takes about a second, so more would train for weeks)"
        ))
    }
}

fn widths(value: &Value) -> Result<Vec<usize>, String> {
    let items = match value {
        Value::Integer(_) => return Ok(vec![positive(value)?]),
        Value::Array(items) => items,
        other => {
            return Err(format!(
                "expected a list of layer widths such as [256, 128], got {}",
                describe(other)
            ))
        }
    };
    if items.is_empty() {
        return Err("needs at least one layer width, e.g. [256]".into());
    }
    items
        .iter()
        .map(|v| positive(v).map_err(|e| format!("layer width {e}")))
        .collect()
}

fn choice<T: Copy>(value: &Value, options: &[(&str, T)]) -> Result<T, String> {
    let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
    let Value::String(s) = value else {
        return Err(format!(
            "expected one of {}, got {}",
            quoted(&names),
            describe(value)
        ));
    };
    if let Some((_, t)) = options.iter().find(|(n, _)| n == s) {
        return Ok(*t);
    }
    let hint = super::suggest(s, names.iter().copied())
        .map(|n| format!(" (did you mean \"{n}\"?)"))
        .unwrap_or_default();
    Err(format!("\"{s}\" is not one of {}{hint}", quoted(&names)))
}

fn quoted(names: &[&str]) -> String {
    let q: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    q.join(", ")
}

fn dataset(value: &Value) -> Result<DatasetName, String> {
    choice(
        value,
        &[
            ("mnist", DatasetName::Mnist),
            ("fashion-mnist", DatasetName::FashionMnist),
        ],
    )
}

fn activation(value: &Value) -> Result<Activation, String> {
    choice(
        value,
        &[
            ("sigmoid", Activation::Sigmoid),
            ("relu", Activation::Relu),
            ("tanh", Activation::Tanh),
        ],
    )
}

fn adam(value: &Value) -> Result<AdamFormula, String> {
    choice(
        value,
        &[("tf1", AdamFormula::Tf1), ("dfdx", AdamFormula::Dfdx)],
    )
}

fn init(value: &Value) -> Result<Init, String> {
    choice(
        value,
        &[("uniform", Init::Uniform), ("xavier", Init::Xavier)],
    )
}

/// In a `hidden` axis a bare width stands for a one-layer list: `hidden = [256, 512]`
/// sweeps two single-layer models.
pub fn axis_value(key: &str, value: &Value) -> Value {
    match value {
        Value::Integer(_) if key == "hidden" => Value::Array(vec![value.clone()]),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(key: &str, toml_value: &str) -> Result<Draft, String> {
        let value: Value = toml::from_str::<toml::Table>(&format!("v = {toml_value}"))
            .expect("test value parses")
            .remove("v")
            .expect("v present");
        let mut d = Draft::default();
        apply(&mut d, key, &value).map(|_| d)
    }

    #[test]
    fn accepts_valid_values() {
        assert_eq!(
            set("hidden", "[256, 128]").unwrap().config.train.hidden,
            vec![256, 128]
        );
        assert_eq!(set("hidden", "64").unwrap().config.train.hidden, vec![64]);
        assert_eq!(
            set("learning_rate", "1")
                .unwrap()
                .config
                .train
                .learning_rate,
            1.0
        );
        assert_eq!(
            set("dataset", "\"fashion-mnist\"")
                .unwrap()
                .config
                .data
                .dataset,
            DatasetName::FashionMnist
        );
    }

    #[test]
    fn rejects_wrong_types_and_ranges() {
        assert!(set("epochs", "0").unwrap_err().contains("at least 1"));
        assert!(set("epochs", "\"20\"")
            .unwrap_err()
            .contains("positive integer"));
        assert!(set("learning_rate", "-0.1")
            .unwrap_err()
            .contains("greater than 0"));
        assert!(set("noise_level", "-1").unwrap_err().contains("0 or more"));
        assert!(set("hidden", "[]").unwrap_err().contains("at least one"));
        assert!(set("hidden", "[256, 0]")
            .unwrap_err()
            .contains("at least 1"));
        let e = set("activation", "\"sigmod\"").unwrap_err();
        assert!(e.contains("did you mean \"sigmoid\""), "{e}");
    }

    #[test]
    fn depth_takes_the_first_widths() {
        let mut d = set("hidden", "[256, 128, 64]").unwrap();
        d.depth = Some(2);
        assert_eq!(finish(d.clone()).unwrap().train.hidden, vec![256, 128]);
        d.depth = Some(4);
        assert!(finish(d).unwrap_err().contains("depth = 4"));
    }

    #[test]
    fn display_is_filesystem_safe() {
        let v: Value = Value::Array(vec![Value::Integer(256), Value::Integer(128)]);
        assert_eq!(display("hidden", &v), "256-128");
        assert_eq!(display("noise_level", &Value::Float(0.6)), "0.6");
        assert_eq!(display("dataset", &Value::String("a/b c".into())), "a-b-c");
    }
}
