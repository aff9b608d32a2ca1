//! Errors that decide the exit code, one code per kind of ending (the table in
//! docs/command-line.md):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | everything asked for was done (or, with `--verify`, reproduced) |
//! | 1 | a run failed, results drifted, or the machine failed us (a disk, a thread) |
//! | 2 | bad input: an experiment file, a flag, a setting, a folder, data that cannot be had |
//! | 3 | the selection is empty: `--filter`, `--shard` or `--summarize` found no run |
//! | 128 + N | stopped by signal N: 130 Ctrl-C (SIGINT), 143 SIGTERM, 129 SIGHUP |

/// A problem with what the user gave us; the message says where and how to fix it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// Builds an `anyhow::Error` that exits with code 2.
pub fn input_error(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(InputError(message.into()))
}

/// The runs selected came to none: a check over nothing must not pass, and a typo in a
/// filter or a folder must not look like success.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NothingSelected(pub String);

/// Builds an `anyhow::Error` that exits with code 3.
pub fn nothing_selected(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(NothingSelected(message.into()))
}

/// Exit code for an error that ended the program (see the module's table).
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err.chain().any(|e| e.is::<InputError>()) {
        2
    } else if err.chain().any(|e| e.is::<NothingSelected>()) {
        3
    } else if let Some(stop) = err.chain().find_map(|e| e.downcast_ref::<Interrupted>()) {
        128 + stop.signal
    } else {
        1
    }
}

/// A signal (Ctrl-C, a scheduler's SIGTERM, a closed terminal's SIGHUP) stopped the
/// program; it exits with 128 + the signal's number, as a shell would report it.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by {}: {}", signal_name(*.signal), .what.explain())]
pub struct Interrupted {
    pub signal: i32,
    pub what: Stopped,
}

/// What was going on when the signal came.
#[derive(Clone, Copy, Debug)]
pub enum Stopped {
    Sweep,
    /// `--verify` trains into a temporary folder that goes with it: nothing to resume.
    Verify,
}

impl Stopped {
    fn explain(self) -> &'static str {
        match self {
            Stopped::Sweep => "finished runs (and the epochs of unfinished ones) are kept; run the same command again to resume",
            Stopped::Verify => "--verify stopped before comparing, and its temporary runs are gone; run it again to check the results",
        }
    }
}

/// `text` with control characters (other than line breaks and tabs) escaped, so a value
/// from a config file cannot move the cursor or recolour the terminal it is shown on.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// How a signal is named in messages.
pub fn signal_name(signal: i32) -> &'static str {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    match signal {
        SIGINT => "Ctrl-C (SIGINT)",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("a\u{1b}[31mb\nc\td"), "a\\u{1b}[31mb\nc\td");
        assert_eq!(printable("größe"), "größe");
        assert_eq!(printable("\u{7f}\r"), "\\u{7f}\\u{d}");
    }

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code(&input_error("x")), 2);
        assert_eq!(exit_code(&nothing_selected("x")), 3);
        let stopped = |signal| Interrupted {
            signal,
            what: Stopped::Verify,
        };
        assert_eq!(exit_code(&stopped(2).into()), 130);
        assert_eq!(exit_code(&stopped(15).into()), 143);
        assert_eq!(exit_code(&anyhow::anyhow!("x")), 1);
    }
}
