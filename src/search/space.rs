//! The distributions a search samples settings from, as written in `[search.space]`.
//!
//! A distribution maps a point u in [0, 1) (from [`super::sampler`]) to a value of one
//! setting, monotonically, so that the even coverage of a Sobol search in u carries over
//! to the setting, in log space for the `log_` distributions. Values come out as TOML
//! values so that they go through the same checks as a setting written by hand.
//!
//! Parsing refuses every range that cannot be sampled as meant, and each message says
//! what to write instead: a search is long, and a typo found after it ran is costly.

use toml::Value;

/// The distributions by name, as written in an experiment file.
pub const DISTRIBUTIONS: &[&str] = &["uniform", "log_uniform", "int", "log_int", "choice"];

/// How one setting is sampled; written in an experiment file's `[search.space]` as an
/// inline table with one key: `{ uniform = [a, b] }`, `{ log_uniform = [a, b] }`,
/// `{ int = [a, b] }`, `{ log_int = [a, b] }`, `{ choice = [v1, v2, ...] }`.
///
/// Ranges are closed, [a, b] with a < b, as [`Distribution::parse`] guarantees.
#[derive(Clone, Debug, PartialEq)]
pub enum Distribution {
    /// Any number in [a, b], evenly.
    Uniform(f64, f64),
    /// Any number in [a, b], evenly in log space: for scales such as a learning rate.
    LogUniform(f64, f64),
    /// Every integer in [a, b], equally often.
    Int(i64, i64),
    /// The integers in [a, b], evenly in log space: for sizes such as a batch size.
    LogInt(i64, i64),
    /// One of the values, equally often.
    Choice(Vec<Value>),
}

impl Distribution {
    /// Reads one `[search.space]` entry; the error says what is wrong and how to fix it,
    /// without the key, which the caller adds along with where it was written.
    pub fn parse(value: &Value) -> Result<Distribution, String> {
        let (name, args) = single_entry(value)?;
        match name {
            "uniform" => float_range(name, args).map(|(a, b)| Distribution::Uniform(a, b)),
            "log_uniform" => {
                log_float_range(name, args).map(|(a, b)| Distribution::LogUniform(a, b))
            }
            "int" => int_range(name, args).map(|(a, b)| Distribution::Int(a, b)),
            "log_int" => log_int_range(name, args).map(|(a, b)| Distribution::LogInt(a, b)),
            "choice" => choices(args).map(Distribution::Choice),
            _ => Err(unknown_name(name)),
        }
    }

    /// The value at `u` in [0, 1), as a TOML value the settings code accepts; always
    /// inside the range, even where rounding would step outside it.
    pub fn value(&self, u: f64) -> Value {
        match self {
            Distribution::Uniform(a, b) => Value::Float(within(a + u * (b - a), *a, *b)),
            Distribution::LogUniform(a, b) => Value::Float(log_uniform_at(*a, *b, u)),
            Distribution::Int(a, b) => Value::Integer(int_at(*a, *b, u)),
            Distribution::LogInt(a, b) => Value::Integer(log_int_at(*a, *b, u)),
            Distribution::Choice(items) => items[index_at(items.len(), u)].clone(),
        }
    }

    /// Whether it is sampled in log space: a scatter of it wants a log axis.
    pub fn is_log(&self) -> bool {
        matches!(
            self,
            Distribution::LogUniform(..) | Distribution::LogInt(..)
        )
    }

    /// Its name as written in an experiment file.
    pub fn name(&self) -> &'static str {
        match self {
            Distribution::Uniform(..) => "uniform",
            Distribution::LogUniform(..) => "log_uniform",
            Distribution::Int(..) => "int",
            Distribution::LogInt(..) => "log_int",
            Distribution::Choice(..) => "choice",
        }
    }
}

// ---- sampling ----

/// `x` clamped into [lo, hi]; NaN becomes `lo` instead of panicking as `clamp` would.
fn within(x: f64, lo: f64, hi: f64) -> f64 {
    x.max(lo).min(hi)
}

/// exp(ln a + u (ln b - ln a)), written as a scale of `a` so that u = 0 gives `a` exactly.
fn log_uniform_at(a: f64, b: f64, u: f64) -> f64 {
    within(a * (u * (b.ln() - a.ln())).exp(), a, b)
}

/// Counts in `i128`, so that even [i64::MIN, i64::MAX] has a width.
fn int_at(a: i64, b: i64, u: f64) -> i64 {
    let n = i128::from(b) - i128::from(a) + 1;
    let offset = ((u * n as f64).floor() as i128).max(0).min(n - 1);
    (i128::from(a) + offset).clamp(i128::from(a.min(b)), i128::from(b)) as i64
}

/// Each integer i owns [i - 1/2, i + 1/2) in log space, so that u lands on it with a
/// share proportional to ln((i + 1/2) / (i - 1/2)): both ends get their full share.
fn log_int_at(a: i64, b: i64, u: f64) -> i64 {
    let (lo, hi) = ((a as f64 - 0.5).ln(), (b as f64 + 0.5).ln());
    let x = (lo + u * (hi - lo)).exp().round();
    (x as i64).max(a).min(b)
}

fn index_at(n: usize, u: f64) -> usize {
    ((u * n as f64).floor() as usize).min(n.saturating_sub(1))
}

// ---- parsing: the shape ----

/// The one `name = args` pair of a distribution's table.
fn single_entry(value: &Value) -> Result<(&str, &Value), String> {
    let Value::Table(table) = value else {
        return Err(not_a_table(value));
    };
    let mut entries = table.iter();
    match (entries.next(), entries.next()) {
        (Some((name, args)), None) => Ok((name.as_str(), args)),
        (None, _) => Err(format!(
            "the table is empty: name one distribution, such as {{ uniform = [0.0, 1.0] }} \
             (one of {})",
            DISTRIBUTIONS.join(", ")
        )),
        _ => {
            let keys: Vec<&str> = table.keys().map(String::as_str).collect();
            Err(format!(
                "the table has {} keys ({}): a setting is sampled from one distribution, \
                 so keep one of them",
                keys.len(),
                keys.join(", ")
            ))
        }
    }
}

fn not_a_table(value: &Value) -> String {
    match value {
        Value::Array(_) => format!(
            "{} is a list, not a distribution: to choose among these values, write \
             {{ choice = {} }}",
            show(value),
            show(value)
        ),
        _ => format!(
            "{} is a single value, not a distribution: fix the setting in [train] or [data] \
             instead, or write a distribution such as {{ uniform = [a, b] }} (one of {})",
            show(value),
            DISTRIBUTIONS.join(", ")
        ),
    }
}

fn unknown_name(name: &str) -> String {
    match closest_name(name) {
        Some(close) => format!(
            "unknown distribution `{name}`: did you mean `{close}`? (the distributions are {})",
            DISTRIBUTIONS.join(", ")
        ),
        None => format!(
            "unknown distribution `{name}`: write one of {}",
            DISTRIBUTIONS.join(", ")
        ),
    }
}

/// The distribution `name` most likely misspells: case, dashes and a few typos apart.
fn closest_name(name: &str) -> Option<&'static str> {
    let normalized = name.to_lowercase().replace(['-', ' '], "_");
    let (distance, close) = DISTRIBUTIONS
        .iter()
        .map(|d| (strsim::damerau_levenshtein(&normalized, d), *d))
        .min()?;
    if distance <= (normalized.len() / 3).max(2) {
        return Some(close);
    }
    // A longer word for one of them: `integer`, `log_integer`, `choices`.
    DISTRIBUTIONS
        .iter()
        .filter(|d| normalized.starts_with(*d))
        .max_by_key(|d| d.len())
        .copied()
}

/// A value as it would be written in TOML, for quoting the user's input back.
fn show(value: &Value) -> String {
    match value {
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(show).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Table(table) => {
            let entries: Vec<String> = table
                .iter()
                .map(|(k, v)| format!("{k} = {}", show(v)))
                .collect();
            format!("{{ {} }}", entries.join(", "))
        }
        Value::Float(x) if x.is_finite() => show_number(*x),
        other => other.to_string(),
    }
}

/// A finite number as it may be written in TOML, short: `0.001`, `1e-8`, `1e308`.
fn show_number(x: f64) -> String {
    let magnitude = x.abs();
    if magnitude != 0.0 && !(1e-3..1e6).contains(&magnitude) {
        format!("{x:e}")
    } else {
        format!("{x:?}")
    }
}

// ---- parsing: ranges ----

/// The two bounds of a range, as written.
fn bounds<'a>(name: &str, args: &'a Value) -> Result<[&'a Value; 2], String> {
    match args {
        Value::Array(items) if items.len() == 2 => Ok([&items[0], &items[1]]),
        Value::Array(items) if items.len() > 2 => Err(format!(
            "`{name}` takes two bounds, [low, high], but {} has {}: to choose among these \
             values, write {{ choice = {} }}",
            show(args),
            items.len(),
            show(args)
        )),
        Value::Array(items) => Err(format!(
            "`{name}` takes two bounds, [low, high], but {} has {}: write both ends of the range",
            show(args),
            items.len()
        )),
        _ => Err(format!(
            "`{name}` takes a list of two bounds, [low, high], not {}: write {{ {name} = [low, high] }}",
            show(args)
        )),
    }
}

/// A bound of `uniform` or `log_uniform`: integers are numbers too.
fn float_bound(name: &str, bound: &Value) -> Result<f64, String> {
    let x = match bound {
        Value::Float(x) => *x,
        Value::Integer(i) => *i as f64,
        _ => return Err(not_a_number(name, bound)),
    };
    if x.is_finite() {
        Ok(x)
    } else {
        Err(format!(
            "the bound {} is not a finite number: write the range's ends as finite numbers",
            show(bound)
        ))
    }
}

/// A bound of `int` or `log_int`: a float is accepted only if it is whole, so that `1e3`
/// can be written for 1000.
fn int_bound(name: &str, bound: &Value) -> Result<i64, String> {
    const I64_LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    match bound {
        Value::Integer(i) => Ok(*i),
        Value::Float(x) if !x.is_finite() => Err(format!(
            "the bound {} is not a finite number: write the range's ends as whole numbers",
            show(bound)
        )),
        Value::Float(x) if x.fract() != 0.0 => Err(format!(
            "`{name}` samples whole numbers, but the bound {} is not one: write {} or {}, \
             or use `{}` for any number in the range",
            show(bound),
            x.floor(),
            x.ceil(),
            if name == "log_int" {
                "log_uniform"
            } else {
                "uniform"
            }
        )),
        Value::Float(x) if (-I64_LIMIT..I64_LIMIT).contains(x) => Ok(*x as i64),
        Value::Float(_) => Err(format!(
            "the bound {} is beyond the 64-bit integers: narrow the range",
            show(bound)
        )),
        _ => Err(not_a_number(name, bound)),
    }
}

fn not_a_number(name: &str, bound: &Value) -> String {
    match bound {
        Value::String(s) if s.trim().parse::<f64>().is_ok() => format!(
            "the bound {} is a string: write the number without quotes, {}",
            show(bound),
            s.trim()
        ),
        _ => format!(
            "the bound {} is not a number: `{name}` takes numbers, such as {{ {name} = {} }}",
            show(bound),
            example_range(name)
        ),
    }
}

fn example_range(name: &str) -> &'static str {
    match name {
        "log_uniform" => "[1e-4, 1e-1]",
        "int" => "[1, 10]",
        "log_int" => "[16, 512]",
        _ => "[0.0, 1.0]",
    }
}

/// Refuses a reversed or empty range; `one_value` says what to do with a range of one
/// value, which differs between numbers and integers.
fn ordered<T: PartialOrd>(bounds: [&Value; 2], a: T, b: T, one_value: &str) -> Result<(), String> {
    let [low, high] = bounds.map(show);
    if a > b {
        Err(format!(
            "the range [{low}, {high}] is reversed: write the lower bound first, [{high}, {low}]"
        ))
    } else if a == b {
        Err(format!("the range [{low}, {high}] {one_value}"))
    } else {
        Ok(())
    }
}

const EMPTY_FLOAT_RANGE: &str = "is empty: to search the setting, widen the range; to keep it \
                                 at that value, fix the setting in [train] or [data] instead";
const ONE_INT_VALUE: &str = "holds one value: to search the setting, widen the range; to keep \
                             it at that value, fix the setting in [train] or [data] instead";

fn float_range(name: &str, args: &Value) -> Result<(f64, f64), String> {
    let bounds = bounds(name, args)?;
    let (a, b) = (float_bound(name, bounds[0])?, float_bound(name, bounds[1])?);
    ordered(bounds, a, b, EMPTY_FLOAT_RANGE)?;
    if (b - a).is_finite() {
        Ok((a, b))
    } else {
        Err(format!(
            "the range {} is too wide: its width overflows a 64-bit float; narrow it",
            show(args)
        ))
    }
}

fn log_float_range(name: &str, args: &Value) -> Result<(f64, f64), String> {
    let (a, b) = float_range(name, args)?;
    if a > 0.0 {
        return Ok((a, b));
    }
    let [low, high] = bounds(name, args)?.map(show);
    if b <= 0.0 {
        return Err(format!(
            "`log_uniform` needs bounds above 0, as the log of {low} is undefined: use \
             `uniform` for [{low}, {high}]"
        ));
    }
    // Three decades below the upper bound, rounded to a power of ten: a start that is
    // easy to read and to change.
    let start = format!("1e{}", b.log10().floor() as i32 - 3);
    Err(format!(
        "`log_uniform` needs bounds above 0, as the log of {low} is undefined: start the \
         range at a small positive number, such as [{start}, {high}], or use `uniform`"
    ))
}

fn int_range(name: &str, args: &Value) -> Result<(i64, i64), String> {
    let bounds = bounds(name, args)?;
    let (a, b) = (int_bound(name, bounds[0])?, int_bound(name, bounds[1])?);
    ordered(bounds, a, b, ONE_INT_VALUE)?;
    Ok((a, b))
}

/// `log_int` samples from ln(a - 1/2), so a must be at least 1.
fn log_int_range(name: &str, args: &Value) -> Result<(i64, i64), String> {
    let (a, b) = int_range(name, args)?;
    if a >= 1 {
        return Ok((a, b));
    }
    if b <= 1 {
        return Err(format!(
            "`log_int` needs a lower bound of at least 1, as its log scale has no room for \
             {a}: use `int` for [{a}, {b}]"
        ));
    }
    Err(format!(
        "`log_int` needs a lower bound of at least 1, as its log scale has no room for {a}: \
         write [1, {b}], or use `int` to include {a}"
    ))
}

// ---- parsing: choices ----

fn choices(args: &Value) -> Result<Vec<Value>, String> {
    let Value::Array(items) = args else {
        return Err(format!(
            "`choice` takes a list of values, not {}: write {{ choice = [{}] }}, with each value \
             to try",
            show(args),
            show(args)
        ));
    };
    match items.len() {
        0 => Err("the choice is empty: list the values to try, such as \
                  { choice = [\"relu\", \"tanh\"] }"
            .to_string()),
        1 => Err(format!(
            "the choice {} holds one value: to search the setting, list more values; to keep \
             it at that value, fix the setting in [train] or [data] instead",
            show(args)
        )),
        _ => no_repeats(items).map(|()| items.clone()),
    }
}

/// A repeated value would be drawn twice as often as the others, which is never meant.
fn no_repeats(items: &[Value]) -> Result<(), String> {
    for (j, later) in items.iter().enumerate() {
        if let Some(i) = items[..j].iter().position(|earlier| same(earlier, later)) {
            return Err(format!(
                "the choice lists {} twice (values {} and {}): list each value once, or it is \
                 drawn twice as often as the others",
                show(later),
                i + 1,
                j + 1
            ));
        }
    }
    Ok(())
}

/// Equal as settings: `1` and `1.0` are the same learning rate.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Integer(i), Value::Float(x)) | (Value::Float(x), Value::Integer(i)) => {
            *i as f64 == *x
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::sampler::{unit, Method};

    fn toml(text: &str) -> Value {
        let doc: toml::Table = toml::from_str(&format!("x = {text}")).expect("test TOML");
        doc["x"].clone()
    }

    fn parse(text: &str) -> Result<Distribution, String> {
        Distribution::parse(&toml(text))
    }

    /// The error for `text`, checked to contain every one of `needles`.
    fn refused(text: &str, needles: &[&str]) {
        let message = match parse(text) {
            Ok(d) => panic!("{text} was accepted as {d:?}"),
            Err(message) => message,
        };
        for needle in needles {
            assert!(
                message.contains(needle),
                "{text}: {message:?} lacks {needle:?}"
            );
        }
    }

    #[test]
    fn parses_each_distribution() {
        use Distribution::*;
        assert_eq!(parse("{ uniform = [0.1, 0.9] }"), Ok(Uniform(0.1, 0.9)));
        assert_eq!(parse("{ uniform = [0, 1] }"), Ok(Uniform(0.0, 1.0)));
        assert_eq!(
            parse("{ log_uniform = [1e-4, 1e-1] }"),
            Ok(LogUniform(1e-4, 1e-1))
        );
        assert_eq!(parse("{ int = [-3, 5] }"), Ok(Int(-3, 5)));
        assert_eq!(parse("{ int = [1, 1e3] }"), Ok(Int(1, 1000)));
        assert_eq!(parse("{ log_int = [16, 512] }"), Ok(LogInt(16, 512)));
        assert_eq!(
            parse("{ choice = [\"relu\", \"tanh\"] }"),
            Ok(Choice(vec![toml("\"relu\""), toml("\"tanh\"")]))
        );
        assert_eq!(
            parse("{ choice = [[256], [256, 128]] }"),
            Ok(Choice(vec![toml("[256]"), toml("[256, 128]")]))
        );
    }

    #[test]
    fn names_and_log_round_trip() {
        for text in [
            "{ uniform = [0, 1] }",
            "{ log_uniform = [1, 2] }",
            "{ int = [0, 1] }",
            "{ log_int = [1, 2] }",
            "{ choice = [1, 2] }",
        ] {
            let d = parse(text).expect("valid");
            assert!(text.contains(&format!("{{ {} =", d.name())));
            assert!(DISTRIBUTIONS.contains(&d.name()));
            assert_eq!(d.is_log(), d.name().starts_with("log_"));
        }
    }

    #[test]
    fn refuses_what_is_not_one_distribution() {
        refused(
            "0.1",
            &["single value", "fix the setting in [train] or [data]"],
        );
        refused("\"relu\"", &["single value", "uniform = [a, b]"]);
        refused("[1, 2, 3]", &["is a list", "{ choice = [1, 2, 3] }"]);
        refused("{}", &["empty", "{ uniform = [0.0, 1.0] }"]);
        refused(
            "{ uniform = [0, 1], int = [1, 2] }",
            &["2 keys (uniform, int)", "keep one of them"],
        );
    }

    #[test]
    fn suggests_the_closest_name() {
        refused(
            "{ unifrom = [0, 1] }",
            &["`unifrom`", "did you mean `uniform`?"],
        );
        refused("{ loguniform = [1, 2] }", &["did you mean `log_uniform`?"]);
        refused("{ log-int = [1, 2] }", &["did you mean `log_int`?"]);
        refused("{ Choice = [1, 2] }", &["did you mean `choice`?"]);
        refused("{ integer = [1, 9] }", &["did you mean `int`?"]);
        refused("{ log_integer = [1, 9] }", &["did you mean `log_int`?"]);
        refused(
            "{ normal = [0, 1] }",
            &["unknown distribution `normal`: write one of uniform"],
        );
    }

    #[test]
    fn refuses_bounds_that_are_not_a_pair() {
        refused(
            "{ uniform = 0.5 }",
            &["list of two bounds", "{ uniform = [low, high] }"],
        );
        refused("{ int = [1] }", &["has 1", "both ends"]);
        refused("{ int = [1, 2, 4] }", &["has 3", "{ choice = [1, 2, 4] }"]);
        refused("{ log_uniform = [] }", &["has 0", "both ends"]);
    }

    #[test]
    fn refuses_bounds_that_are_not_numbers() {
        refused(
            "{ uniform = [\"0.1\", 1] }",
            &["string", "without quotes, 0.1"],
        );
        refused(
            "{ log_uniform = [true, 1] }",
            &["not a number", "[1e-4, 1e-1]"],
        );
        refused(
            "{ int = [\"a\", 5] }",
            &["not a number", "{ int = [1, 10] }"],
        );
        refused(
            "{ log_int = [1, \"64\"] }",
            &["string", "without quotes, 64"],
        );
    }

    #[test]
    fn refuses_bounds_that_are_not_finite() {
        refused("{ uniform = [0, inf] }", &["inf", "finite"]);
        refused("{ log_uniform = [nan, 1] }", &["nan", "finite"]);
        refused("{ int = [-inf, 1] }", &["-inf", "whole numbers"]);
        refused(
            "{ uniform = [-1e308, 1e308] }",
            &["[-1e308, 1e308] is too wide", "narrow it"],
        );
    }

    #[test]
    fn refuses_fractional_integer_bounds() {
        refused("{ int = [1, 2.5] }", &["2.5", "write 2 or 3", "`uniform`"]);
        refused(
            "{ log_int = [1.5, 64] }",
            &["1.5", "write 1 or 2", "`log_uniform`"],
        );
        refused(
            "{ int = [1, 1e30] }",
            &["1e30 is beyond the 64-bit integers"],
        );
    }

    #[test]
    fn refuses_reversed_ranges_with_the_fix() {
        refused(
            "{ log_uniform = [0.1, 0.01] }",
            &["the range [0.1, 0.01] is reversed: write the lower bound first, [0.01, 0.1]"],
        );
        refused("{ uniform = [1, 0] }", &["[1, 0] is reversed", "[0, 1]"]);
        refused("{ int = [10, 1] }", &["[10, 1] is reversed", "[1, 10]"]);
        refused("{ log_int = [512, 16] }", &["[16, 512]"]);
    }

    #[test]
    fn refuses_ranges_of_one_value() {
        refused(
            "{ uniform = [0.5, 0.5] }",
            &["is empty", "widen the range", "[train] or [data]"],
        );
        refused(
            "{ log_uniform = [1e-3, 0.001] }",
            &["is empty", "[train] or [data]"],
        );
        refused(
            "{ int = [3, 3] }",
            &["holds one value", "fix the setting in [train] or [data]"],
        );
        refused(
            "{ log_int = [8, 8] }",
            &["holds one value", "[train] or [data]"],
        );
        refused(
            "{ choice = [\"relu\"] }",
            &["holds one value", "[train] or [data]"],
        );
    }

    #[test]
    fn refuses_logs_of_values_not_above_zero() {
        refused(
            "{ log_uniform = [0, 1] }",
            &["log of 0 is", "[1e-3, 1]", "`uniform`"],
        );
        refused(
            "{ log_uniform = [-1, 3e-2] }",
            &["log of -1 is", "[1e-5, 0.03]"],
        );
        refused(
            "{ log_int = [0, 100] }",
            &["at least 1", "[1, 100]", "`int` to include 0"],
        );
        refused("{ log_int = [-4, 8] }", &["at least 1", "[1, 8]"]);
        refused(
            "{ log_uniform = [-2, -1] }",
            &["log of -2 is", "use `uniform` for [-2, -1]"],
        );
        refused(
            "{ log_uniform = [-2, 0.0] }",
            &["use `uniform` for [-2, 0.0]"],
        );
        refused(
            "{ log_int = [-4, 1] }",
            &["at least 1", "use `int` for [-4, 1]"],
        );
    }

    #[test]
    fn refuses_empty_and_repeated_choices() {
        refused(
            "{ choice = [] }",
            &["empty", "{ choice = [\"relu\", \"tanh\"] }"],
        );
        refused(
            "{ choice = \"relu\" }",
            &["list of values", "{ choice = [\"relu\"] }"],
        );
        refused(
            "{ choice = [\"relu\", \"tanh\", \"relu\"] }",
            &["\"relu\" twice (values 1 and 3)", "list each value once"],
        );
        refused("{ choice = [0.5, 1, 1.0] }", &["twice (values 2 and 3)"]);
        refused("{ choice = [[256], [128], [256]] }", &["[256] twice"]);
    }

    /// u at both ends, the middle, and a spread of Sobol and random points.
    fn us() -> Vec<f64> {
        let mut us = vec![0.0, 0.5, 1.0 - 1e-16, 1.0 - f64::EPSILON / 2.0];
        for trial in 0..500 {
            us.push(unit(Method::Random, 3, trial, 0));
            us.push(unit(Method::Sobol, 3, trial, 1));
        }
        us
    }

    fn float(v: Value) -> f64 {
        v.as_float().expect("a float")
    }

    fn int(v: Value) -> i64 {
        v.as_integer().expect("an integer")
    }

    #[test]
    fn values_stay_in_range() {
        for u in us() {
            let x = float(Distribution::Uniform(-2.0, 3.0).value(u));
            assert!((-2.0..=3.0).contains(&x), "{u}: {x}");
            let x = float(Distribution::LogUniform(1e-5, 0.3).value(u));
            assert!((1e-5..=0.3).contains(&x), "{u}: {x}");
            let i = int(Distribution::Int(-3, 4).value(u));
            assert!((-3..=4).contains(&i), "{u}: {i}");
            let i = int(Distribution::LogInt(1, 1000).value(u));
            assert!((1..=1000).contains(&i), "{u}: {i}");
            let items = vec![toml("1"), toml("\"a\""), toml("[2]")];
            assert!(items.contains(&Distribution::Choice(items.clone()).value(u)));
        }
    }

    #[test]
    fn values_hit_the_ends() {
        assert_eq!(float(Distribution::Uniform(0.1, 0.9).value(0.0)), 0.1);
        assert_eq!(float(Distribution::LogUniform(1e-4, 0.1).value(0.0)), 1e-4);
        assert_eq!(int(Distribution::Int(-3, 4).value(0.0)), -3);
        assert_eq!(int(Distribution::Int(-3, 4).value(1.0 - 1e-16)), 4);
        assert_eq!(int(Distribution::LogInt(16, 512).value(0.0)), 16);
        assert_eq!(int(Distribution::LogInt(16, 512).value(1.0 - 1e-16)), 512);
        assert_eq!(
            int(Distribution::Int(i64::MIN, i64::MAX).value(0.0)),
            i64::MIN
        );
        assert_eq!(int(Distribution::Int(i64::MIN, i64::MAX).value(0.5)), 0);
    }

    /// Which of the 2^k equal intervals of [0, 1) holds each t; the nudge puts a t that
    /// rounding left a hair below a boundary back where its u was.
    fn stratified(ts: &[f64], k: u32) -> bool {
        let n = 1usize << k;
        let mut counts = vec![0; n];
        for t in ts {
            counts[((t * n as f64 + 1e-9).floor() as usize).min(n - 1)] += 1;
        }
        counts.iter().all(|&c| c == 1)
    }

    #[test]
    fn sobol_values_are_stratified_in_sampling_space() {
        let uniform = Distribution::Uniform(-2.0, 3.0);
        let log_uniform = Distribution::LogUniform(1e-5, 0.3);
        for seed in [0, 17, u64::MAX] {
            for k in 1..=6 {
                let draw = |d: &Distribution, dim| -> Vec<f64> {
                    (0..1u64 << k)
                        .map(|t| float(d.value(unit(Method::Sobol, seed, t, dim))))
                        .collect()
                };
                let ts: Vec<f64> = draw(&uniform, 0).iter().map(|x| (x + 2.0) / 5.0).collect();
                assert!(stratified(&ts, k), "uniform, seed {seed}, k {k}");
                let (lo, hi) = (1e-5f64.ln(), 0.3f64.ln());
                let ts: Vec<f64> = draw(&log_uniform, 1)
                    .iter()
                    .map(|x| (x.ln() - lo) / (hi - lo))
                    .collect();
                assert!(stratified(&ts, k), "log_uniform, seed {seed}, k {k}");
            }
        }
    }

    #[test]
    fn int_gives_each_integer_an_equal_share() {
        let d = Distribution::Int(-2, 4);
        let n = 7;
        for j in 0..n {
            let u = (j as f64 + 0.5) / n as f64;
            assert_eq!(int(d.value(u)), -2 + j);
        }
        // Over a fine even grid of u, each integer takes exactly its seventh.
        let m = 7 * 1000;
        let mut counts = [0; 7];
        for i in 0..m {
            counts[(int(d.value((i as f64 + 0.5) / m as f64)) + 2) as usize] += 1;
        }
        assert_eq!(counts, [1000; 7]);
    }

    #[test]
    fn log_int_covers_every_integer_with_log_shares() {
        let d = Distribution::LogInt(1, 8);
        let m = 100_000;
        let mut counts = [0usize; 8];
        for i in 0..m {
            counts[(int(d.value((i as f64 + 0.5) / m as f64)) - 1) as usize] += 1;
        }
        let total = (8.5f64 / 0.5).ln();
        for (k, &count) in counts.iter().enumerate() {
            let i = k as f64 + 1.0;
            let share = ((i + 0.5) / (i - 0.5)).ln() / total;
            assert!(
                (count as f64 / m as f64 - share).abs() < 1e-3,
                "{i}: {count}"
            );
        }
    }

    #[test]
    fn choice_picks_each_item() {
        let items = vec![toml("\"sigmoid\""), toml("\"relu\""), toml("\"tanh\"")];
        let d = Distribution::Choice(items.clone());
        for (j, item) in items.iter().enumerate() {
            assert_eq!(&d.value((j as f64 + 0.5) / 3.0), item);
        }
        assert_eq!(d.value(0.0), items[0]);
        assert_eq!(d.value(1.0 - 1e-16), items[2]);
    }
}
