//! Where a key was written: `file:line:col` from the TOML text, or the `--set` that
//! overrode it, so every message points at the place to edit.

use std::collections::HashMap;
use std::path::Path;

use crate::error::input_error;

/// One step of a key path: a table key or an index into an array of tables.
#[derive(Clone, Debug, PartialEq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A dotted key path such as `sweep.zip[1].noise_level`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyPath(pub Vec<Seg>);

impl KeyPath {
    pub fn parse(dotted: &str) -> KeyPath {
        KeyPath(dotted.split('.').map(|k| Seg::Key(k.to_string())).collect())
    }

    pub fn key(&self, k: &str) -> KeyPath {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }

    pub fn index(&self, i: usize) -> KeyPath {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }
}

impl std::fmt::Display for KeyPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// The experiment file's text and the overrides, for locating keys in messages.
pub struct Source {
    pub file: String,
    doc: Option<toml_edit::ImDocument<String>>,
    text: String,
    /// Dotted key given with `--set` -> the argument as typed.
    overrides: HashMap<String, String>,
}

impl Source {
    pub fn new(path: &Path, text: &str) -> Source {
        Source {
            file: path.display().to_string(),
            doc: toml_edit::ImDocument::parse(text.to_string()).ok(),
            text: text.to_string(),
            overrides: HashMap::new(),
        }
    }

    /// The file as TOML with its original spelling, where it parses.
    pub fn document(&self) -> Option<&toml_edit::ImDocument<String>> {
        self.doc.as_ref()
    }

    pub fn note_override(&mut self, dotted: &str, argument: &str) {
        self.overrides
            .insert(dotted.to_string(), argument.to_string());
    }

    /// `file:line:col` of the key (or of its nearest written ancestor), or the `--set`
    /// that provided it.
    pub fn locate(&self, path: &KeyPath) -> String {
        for n in (1..=path.0.len()).rev() {
            let prefix = KeyPath(path.0[..n].to_vec()).to_string();
            if let Some(arg) = self.overrides.get(&prefix) {
                return format!("{} (--set {arg})", self.file);
            }
        }
        // A key below this one came from --set (`--set unknown.key=1` makes `unknown`).
        let below = format!("{path}.");
        let set_below = self
            .overrides
            .iter()
            .filter(|(k, _)| k.starts_with(&below))
            .min_by_key(|(k, _)| k.as_str());
        if let Some((_, arg)) = set_below {
            return format!("{} (--set {arg})", self.file);
        }
        match self.offset(path) {
            Some(offset) => {
                let (line, col) = line_col(&self.text, offset);
                format!("{}:{line}:{col}", self.file)
            }
            None => self.file.clone(),
        }
    }

    /// Byte offset of the deepest part of `path` that the text holds.
    fn offset(&self, path: &KeyPath) -> Option<usize> {
        let doc = self.doc.as_ref()?;
        let mut table: &dyn toml_edit::TableLike = doc.as_table();
        let mut tables: Option<&toml_edit::ArrayOfTables> = None;
        let mut found = None;
        for seg in &path.0 {
            match seg {
                Seg::Key(k) => {
                    let Some(next) = table.get(k) else {
                        return found;
                    };
                    let span = table.key(k).and_then(|key| key.span());
                    found = span.or_else(|| next.span()).map(|r| r.start).or(found);
                    tables = next.as_array_of_tables();
                    match next.as_table_like() {
                        Some(t) => table = t,
                        None if tables.is_some() => {}
                        None => return found,
                    }
                }
                Seg::Index(i) => {
                    let Some(t) = tables.and_then(|ts| ts.get(*i)) else {
                        return found;
                    };
                    found = t.span().map(|r| r.start).or(found);
                    table = t;
                }
            }
        }
        found
    }
}

/// 1-based line and column (in characters) of a byte offset; an offset inside a
/// character counts as that character.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |nl| nl + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// The message for a bad key: where it is, which key, what is wrong.
pub fn bad(source: &Source, path: &KeyPath, problem: &str) -> anyhow::Error {
    input_error(format!("{}: `{path}` {problem}", source.locate(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "name = \"x\"\n[train]\nepochs = 0\n[sweep]\nseed = [1]\n[[sweep.zip]]\nnoise_level = [0.1]\n";

    #[test]
    fn locates_keys_by_line_and_column() {
        let s = Source::new(Path::new("e.toml"), TEXT);
        assert_eq!(s.locate(&KeyPath::parse("train.epochs")), "e.toml:3:1");
        assert_eq!(s.locate(&KeyPath::parse("sweep.seed")), "e.toml:5:1");
        let zip = KeyPath::parse("sweep.zip").index(0).key("noise_level");
        assert_eq!(s.locate(&zip), "e.toml:7:1");
    }

    #[test]
    fn overrides_are_named() {
        let mut s = Source::new(Path::new("e.toml"), TEXT);
        s.note_override("train.epochs", "train.epochs=0");
        assert_eq!(
            s.locate(&KeyPath::parse("train.epochs")),
            "e.toml (--set train.epochs=0)"
        );
    }

    #[test]
    fn key_path_displays_indices() {
        let p = KeyPath::parse("sweep.zip").index(1).key("seed");
        assert_eq!(p.to_string(), "sweep.zip[1].seed");
    }
}
