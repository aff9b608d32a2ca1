//! From an experiment file and `--set` overrides to checked tables: unknown keys, wrong
//! shapes and conflicting axes are found here, before anything runs or is written.

use std::path::Path;

use toml::{Table, Value};

use super::settings::axis_value;
use super::settings::{self, Draft, DATA_KEYS, TRAIN_KEYS};
use super::source::{bad, line_col, KeyPath, Source};
use crate::error::input_error;

const TOP_KEYS: &[&str] = &["name", "description", "data", "train", "sweep", "search"];

/// The longest file or folder name most filesystems take (ext4, XFS, btrfs, NFS: 255 bytes).
pub const MAX_NAME_BYTES: usize = 255;

/// One sweep axis: a setting and the values it takes.
#[derive(Clone, Debug)]
pub struct Axis {
    pub key: String,
    pub values: Vec<Value>,
    /// Where the list was written, for messages.
    pub path: KeyPath,
}

/// An experiment file after overrides and checks, ready to expand.
pub struct Parsed {
    pub name: String,
    pub description: Option<String>,
    pub base: Draft,
    /// Axes that combine as a product.
    pub product: Vec<Axis>,
    /// Groups of axes that vary together, row by row.
    pub zips: Vec<Vec<Axis>>,
    /// Sampled trials, each run with every combination of the axes.
    pub search: Option<crate::search::Search>,
    pub source: Source,
}

/// Reads `path`, applies `overrides` (`KEY=VALUE`), and checks everything but the
/// combinations themselves.
pub fn parse(path: &Path, overrides: &[String]) -> anyhow::Result<Parsed> {
    let text = read_experiment(path)?;
    let mut table: Table = text.parse().map_err(|e: toml::de::Error| {
        let at = match e.span() {
            Some(span) => {
                let (line, col) = line_col(&text, span.start);
                format!("{}:{line}:{col}", path.display())
            }
            None => path.display().to_string(),
        };
        input_error(format!("{at}: not valid TOML: {}", e.message().trim_end()))
    })?;
    let mut source = Source::new(path, &text);
    check_file_underflow(&source)?;
    for arg in overrides {
        apply_override(&mut table, &mut source, arg)?;
    }
    check_keys(&table, &source)?;
    let name = experiment_name(&table, path, &source)?;
    let description = match table.get("description") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(bad(
                &source,
                &KeyPath::parse("description"),
                &format!("must be a string, got {other}"),
            ))
        }
    };
    let base = base_settings(&table, &source)?;
    let (product, zips) = sweep_axes(&table, &source)?;
    check_axis_conflicts(&table, &product, &zips, &source)?;
    for axis in product.iter().chain(zips.iter().flatten()) {
        check_axis_values(&base, axis, &source)?;
    }
    let swept: Vec<super::search::Swept> = product
        .iter()
        .chain(zips.iter().flatten())
        .map(|a| (a.key.as_str(), &a.path))
        .collect();
    let search = super::search::read(&table, &base, &swept, &source)?;
    Ok(Parsed {
        name,
        description,
        base,
        product,
        zips,
        search,
        source,
    })
}

/// The largest experiment file read: far beyond any sweep's (a million-value list takes
/// about 10 MB), small enough that `runner /dev/zero`-like mistakes cannot take the
/// machine's memory.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// The file's text, read with a cap. Regular files and pipes (`runner <(generate)`) are
/// read; a device, a socket or a folder is refused at once rather than read for ever.
fn read_experiment(path: &Path) -> anyhow::Result<String> {
    use std::io::Read;
    let cannot = |e: &dyn std::fmt::Display| {
        input_error(format!(
            "cannot read experiment file {}: {e}",
            path.display()
        ))
    };
    let kind = std::fs::metadata(path).map_err(|e| cannot(&e))?.file_type();
    #[cfg(unix)]
    let pipe = std::os::unix::fs::FileTypeExt::is_fifo(&kind);
    #[cfg(not(unix))]
    let pipe = false;
    if !(kind.is_file() || pipe) {
        let what = if kind.is_dir() {
            "a folder"
        } else {
            "a device or socket"
        };
        return Err(input_error(format!(
            "{}: is {what}, not a regular file: give an experiment file (TOML), or a pipe such as <(generate-experiment)",
            path.display()
        )));
    }
    let file = std::fs::File::open(path).map_err(|e| cannot(&e))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| cannot(&e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(input_error(format!(
            "{}: is larger than {} MB, more than any experiment file needs: split the sweep into several files",
            path.display(),
            MAX_FILE_BYTES >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        input_error(format!(
            "{}: is not UTF-8 text (byte {}): TOML files are UTF-8",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })
}

/// `--set KEY=VALUE`: VALUE is TOML, or a plain string when it does not parse as TOML.
/// An override wins everywhere: setting `train.seed` removes a `seed` axis, and setting
/// `sweep.seed` removes a fixed `train.seed`. A table value sets its keys one by one
/// (`train={epochs=2}` is `train.epochs=2`), so the rest of the table stays.
fn apply_override(table: &mut Table, source: &mut Source, arg: &str) -> anyhow::Result<()> {
    let Some((key, raw)) = arg.split_once('=') else {
        return Err(input_error(format!(
            "--set {arg}: expected KEY=VALUE, e.g. --set train.epochs=2 or --set sweep.seed=[1,2]"
        )));
    };
    let mut leaves = Vec::new();
    flatten(key.trim(), parse_value(arg, raw.trim())?, &mut leaves);
    for (key, value) in leaves {
        set_key(table, source, arg, &key, value)?;
    }
    Ok(())
}

/// `(dotted key, value)` for every value of `value` that is not a non-empty table.
fn flatten(key: &str, value: Value, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Table(t) if !t.is_empty() => {
            for (k, v) in t {
                flatten(&format!("{key}.{k}"), v, out);
            }
        }
        other => out.push((key.to_string(), other)),
    }
}

fn set_key(
    table: &mut Table,
    source: &mut Source,
    arg: &str,
    key: &str,
    value: Value,
) -> anyhow::Result<()> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(input_error(format!(
            "--set {arg}: `{key}` is not a valid key"
        )));
    }
    if parts.len() >= 2 && parts[..2] == ["sweep", "zip"] {
        return Err(input_error(format!(
            "--set {arg}: a [[sweep.zip]] group cannot be changed with --set; sweep the key as a product axis (--set sweep.{}=[...]) or edit the group in {}",
            parts.last().filter(|p| **p != "zip").unwrap_or(&"KEY"),
            source.file
        )));
    }
    if let [section, setting] = parts[..] {
        forget_elsewhere(table, section, setting);
    }
    let (last, parents) = parts.split_last().expect("split yields one part at least");
    let mut t = &mut *table;
    for p in parents {
        let entry = t
            .entry(p.to_string())
            .or_insert_with(|| Value::Table(Table::new()));
        t = match entry {
            Value::Table(inner) => inner,
            _ => {
                return Err(input_error(format!(
                    "--set {arg}: `{p}` is not a table, so `{key}` cannot be set"
                )))
            }
        };
    }
    t.insert(last.to_string(), value);
    source.note_override(key, arg);
    Ok(())
}

/// VALUE as TOML; a bare word (`relu`, `fashion-mnist`) is the string it spells, but
/// anything else that is not TOML (`[1,`, `0.1.2`) is an error rather than a string that
/// a later check would reject for being a string.
fn parse_value(arg: &str, raw: &str) -> anyhow::Result<Value> {
    let parsed = format!("v = {raw}")
        .parse::<Table>()
        .map(|mut t| t.remove("v"));
    match parsed {
        Ok(Some(value)) => {
            check_underflow(raw, &value).map_err(|e| input_error(format!("--set {arg}: {e}")))?;
            Ok(value)
        }
        _ if is_bare_word(raw) => Ok(Value::String(raw.to_string())),
        Ok(None) | Err(_) => {
            let why = format!("v = {raw}")
                .parse::<Table>()
                .err()
                .map(|e| format!(" ({})", e.message().trim_end()))
                .unwrap_or_default();
            Err(input_error(format!(
                "--set {arg}: VALUE `{raw}` is not TOML{why}. VALUE is TOML: a number (2, 0.01, 1e-3), a string (\"relu\", or a bare word such as relu), a list ([1, 2] or [[256], [256, 128]]), true or false, or an inline table ({{epochs = 2}})"
            )))
        }
    }
}

/// A word that reads as a string without quotes: a letter, then no TOML punctuation.
fn is_bare_word(raw: &str) -> bool {
    raw.chars().next().is_some_and(char::is_alphabetic)
        && !raw
            .chars()
            .any(|c| "[]{}\"'=,#".contains(c) || c.is_control())
}

/// A float written with non-zero digits that TOML's 64-bit float reads as 0 (`1e-400`):
/// "must be greater than 0, got 0" would name neither the value written nor the cause.
fn check_underflow(repr: &str, value: &Value) -> Result<(), String> {
    let mantissa = repr
        .split(['e', 'E'])
        .next()
        .unwrap_or_default()
        .trim_start_matches(['+', '-']);
    match value {
        Value::Float(f) if *f == 0.0 && mantissa.chars().any(|c| ('1'..='9').contains(&c)) => {
            Err(format!(
                "{repr} is smaller than any 64-bit float and reads as 0: use at least 1.2e-38, the smallest 32-bit float training computes with"
            ))
        }
        _ => Ok(()),
    }
}

/// Every float of the file written with non-zero digits but read as 0, as an error at
/// its key.
fn check_file_underflow(source: &Source) -> anyhow::Result<()> {
    let Some(doc) = source.document() else {
        return Ok(());
    };
    let mut found = None;
    walk_floats(doc.as_item(), &KeyPath::default(), &mut |path, f| {
        let repr = f
            .as_repr()
            .and_then(|r| r.as_raw().as_str())
            .map(str::to_string)
            .unwrap_or_else(|| f.value().to_string());
        if let Err(e) = check_underflow(&repr, &Value::Float(*f.value())) {
            found.get_or_insert((path.clone(), e));
        }
    });
    match found {
        Some((path, e)) => Err(bad(source, &path, &format!("= {e}"))),
        None => Ok(()),
    }
}

/// Calls `f` with every float of `item` and its key path.
fn walk_floats(
    item: &toml_edit::Item,
    path: &KeyPath,
    f: &mut dyn FnMut(&KeyPath, &toml_edit::Formatted<f64>),
) {
    match item {
        toml_edit::Item::Value(v) => walk_value(v, path, f),
        toml_edit::Item::Table(t) => {
            for (k, v) in t.iter() {
                walk_floats(v, &path.key(k), f);
            }
        }
        toml_edit::Item::ArrayOfTables(ts) => {
            for (i, t) in ts.iter().enumerate() {
                for (k, v) in t.iter() {
                    walk_floats(v, &path.index(i).key(k), f);
                }
            }
        }
        toml_edit::Item::None => {}
    }
}

fn walk_value(
    value: &toml_edit::Value,
    path: &KeyPath,
    f: &mut dyn FnMut(&KeyPath, &toml_edit::Formatted<f64>),
) {
    match value {
        toml_edit::Value::Float(x) => f(path, x),
        toml_edit::Value::Array(items) => items.iter().for_each(|v| walk_value(v, path, f)),
        toml_edit::Value::InlineTable(t) => {
            for (k, v) in t.iter() {
                walk_value(v, &path.key(k), f);
            }
        }
        _ => {}
    }
}

/// `-0.0` as `0.0`, everywhere in `value`: the two are one setting, and must give one run
/// id, not two runs with one meaning.
fn without_negative_zero(value: Value) -> Value {
    match value {
        Value::Float(f) => Value::Float(f + 0.0),
        Value::Array(items) => Value::Array(items.into_iter().map(without_negative_zero).collect()),
        other => other,
    }
}

/// Removes `setting` from the places other than `section` where it may be given.
fn forget_elsewhere(table: &mut Table, section: &str, setting: &str) {
    for other in ["data", "train", "sweep"] {
        if other != section {
            if let Some(Value::Table(t)) = table.get_mut(other) {
                t.remove(setting);
            }
        }
    }
    let zips = table
        .get_mut("sweep")
        .and_then(|s| s.as_table_mut())
        .and_then(|s| s.get_mut("zip"))
        .and_then(|z| z.as_array_mut());
    if let Some(groups) = zips {
        for g in groups.iter_mut() {
            if let Some(t) = g.as_table_mut() {
                t.remove(setting);
            }
        }
        groups.retain(|g| g.as_table().is_none_or(|t| !t.is_empty()));
    }
}

fn check_keys(table: &Table, source: &Source) -> anyhow::Result<()> {
    let root = KeyPath::default();
    check_known(table, TOP_KEYS, &root, source)?;
    for (section, keys) in [("data", DATA_KEYS), ("train", TRAIN_KEYS)] {
        if let Some(v) = table.get(section) {
            let t = as_table(v, &root.key(section), source)?;
            check_known(t, keys, &root.key(section), source)?;
        }
    }
    if let Some(v) = table.get("sweep") {
        let path = root.key("sweep");
        let sweep = as_table(v, &path, source)?;
        let keys: Vec<&str> = settings::axis_keys().collect();
        check_known_excluding(sweep, &keys, "zip", &path, source)?;
        for (i, group) in zip_groups(sweep, source)?.iter().enumerate() {
            check_known(group, &keys, &path.key("zip").index(i), source)?;
        }
    }
    if let Some(v) = table.get("search") {
        use super::search::{HALVING_KEYS, SEARCH_KEYS};
        let path = root.key("search");
        let search = as_table(v, &path, source)?;
        check_known(search, SEARCH_KEYS, &path, source)?;
        if let Some(h) = search.get("halving") {
            let path = path.key("halving");
            check_known(as_table(h, &path, source)?, HALVING_KEYS, &path, source)?;
        }
    }
    Ok(())
}

fn check_known(t: &Table, known: &[&str], at: &KeyPath, source: &Source) -> anyhow::Result<()> {
    check_known_excluding(t, known, "", at, source)
}

fn check_known_excluding(
    t: &Table,
    known: &[&str],
    also: &str,
    at: &KeyPath,
    source: &Source,
) -> anyhow::Result<()> {
    for key in t.keys() {
        if known.contains(&key.as_str()) || key == also {
            continue;
        }
        let mut candidates: Vec<&str> = known.to_vec();
        if !also.is_empty() {
            candidates.push(also);
        }
        let hint = super::hint(key, &candidates, "valid keys here");
        return Err(bad(
            source,
            &at.key(key),
            &format!("is not a known key; {hint}"),
        ));
    }
    Ok(())
}

fn as_table<'a>(v: &'a Value, path: &KeyPath, source: &Source) -> anyhow::Result<&'a Table> {
    v.as_table()
        .ok_or_else(|| bad(source, path, "must be a table, e.g. a [section] header"))
}

fn zip_groups<'a>(sweep: &'a Table, source: &Source) -> anyhow::Result<Vec<&'a Table>> {
    let path = KeyPath::parse("sweep.zip");
    let Some(z) = sweep.get("zip") else {
        return Ok(Vec::new());
    };
    let shape = "must be a list of tables, written as [[sweep.zip]] sections";
    let groups = z.as_array().ok_or_else(|| bad(source, &path, shape))?;
    groups
        .iter()
        .map(|g| g.as_table().ok_or_else(|| bad(source, &path, shape)))
        .collect()
}

fn experiment_name(table: &Table, path: &Path, source: &Source) -> anyhow::Result<String> {
    let key = KeyPath::parse("name");
    let name = match table.get("name") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => return Err(bad(source, &key, &format!("must be a string, got {other}"))),
        None => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    if name.len() > MAX_NAME_BYTES {
        return Err(bad(
            source,
            &key,
            &format!(
                "is {} bytes long, more than the {MAX_NAME_BYTES} a folder name may have: give a shorter name",
                name.len()
            ),
        ));
    }
    let safe = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if safe {
        Ok(name)
    } else {
        Err(bad(
            source,
            &key,
            &format!(
                "\"{name}\" cannot be a folder name under --out: use letters, digits, '-', '_' and '.', not starting with '.' (no '/', no '..')"
            ),
        ))
    }
}

fn base_settings(table: &Table, source: &Source) -> anyhow::Result<Draft> {
    let mut draft = Draft::default();
    for section in ["data", "train"] {
        let Some(Value::Table(t)) = table.get(section) else {
            continue;
        };
        for (key, value) in t {
            let path = KeyPath::parse(section).key(key);
            settings::apply(&mut draft, key, value).map_err(|e| bad(source, &path, &e))?;
        }
    }
    Ok(draft)
}

fn sweep_axes(table: &Table, source: &Source) -> anyhow::Result<(Vec<Axis>, Vec<Vec<Axis>>)> {
    let Some(Value::Table(sweep)) = table.get("sweep") else {
        return Ok((Vec::new(), Vec::new()));
    };
    let root = KeyPath::parse("sweep");
    let mut product = Vec::new();
    for (key, value) in sweep.iter().filter(|(k, _)| *k != "zip") {
        product.push(axis(key, value, root.key(key), source)?);
    }
    let mut zips = Vec::new();
    for (i, group) in zip_groups(sweep, source)?.into_iter().enumerate() {
        let at = root.key("zip").index(i);
        let axes = group
            .iter()
            .map(|(key, value)| axis(key, value, at.key(key), source))
            .collect::<anyhow::Result<Vec<_>>>()?;
        check_zip_lengths(&axes, source)?;
        if !axes.is_empty() {
            zips.push(axes);
        }
    }
    Ok((product, zips))
}

fn axis(key: &str, value: &Value, path: KeyPath, source: &Source) -> anyhow::Result<Axis> {
    let values = match value {
        Value::Array(items) if items.is_empty() => {
            return Err(bad(
                source,
                &path,
                "is an empty list: give at least one value, or remove the axis",
            ))
        }
        Value::Array(items) => items.iter().cloned().map(without_negative_zero).collect(),
        // A single value is a one-value axis, handy on the command line: --set sweep.seed=3
        other => vec![without_negative_zero(other.clone())],
    };
    Ok(Axis {
        key: key.to_string(),
        values,
        path,
    })
}

fn check_zip_lengths(axes: &[Axis], source: &Source) -> anyhow::Result<()> {
    let Some(first) = axes.first() else {
        return Ok(());
    };
    for a in axes {
        if a.values.len() != first.values.len() {
            return Err(bad(
                source,
                &a.path,
                &format!(
                    "has {} values but `{}` in the same zip group has {}: the lists of one zip group vary together and need equal lengths",
                    a.values.len(),
                    first.key,
                    first.values.len()
                ),
            ));
        }
    }
    Ok(())
}

fn check_axis_conflicts(
    table: &Table,
    product: &[Axis],
    zips: &[Vec<Axis>],
    source: &Source,
) -> anyhow::Result<()> {
    let all: Vec<&Axis> = product.iter().chain(zips.iter().flatten()).collect();
    for (i, a) in all.iter().enumerate() {
        if let Some(b) = all[..i].iter().find(|b| b.key == a.key) {
            return Err(bad(
                source,
                &a.path,
                &format!(
                    "is swept twice (also at `{}`, {}): give each axis in one place only",
                    b.path,
                    source.locate(&b.path)
                ),
            ));
        }
        for section in ["data", "train"] {
            let fixed = table
                .get(section)
                .and_then(|t| t.as_table())
                .is_some_and(|t| t.contains_key(&a.key));
            if fixed {
                let fixed_path = KeyPath::parse(section).key(&a.key);
                return Err(bad(
                    source,
                    &a.path,
                    &format!(
                        "is swept but also fixed at `{fixed_path}` ({}): remove one of them",
                        source.locate(&fixed_path)
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn check_axis_values(base: &Draft, axis: &Axis, source: &Source) -> anyhow::Result<()> {
    for (i, value) in axis.values.iter().enumerate() {
        let mut d = base.clone();
        let value = axis_value(&axis.key, value);
        settings::apply(&mut d, &axis.key, &value).map_err(|e| {
            bad(
                source,
                &axis.path,
                &format!("value {} ({}): {e}", i + 1, value),
            )
        })?;
    }
    Ok(())
}
