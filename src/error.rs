//! Errors that decide the exit code.
//!
//! Anything the user can fix by editing their input (a bad experiment file, a bad flag,
//! data that cannot be had) is an [`InputError`] and exits with 2; every other error
//! (a run that failed, a check that failed) exits with 1.

/// A problem with what the user gave us; the message says where and how to fix it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// Builds an `anyhow::Error` that exits with code 2.
pub fn input_error(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(InputError(message.into()))
}

/// Exit code for an error that ended the program: 2 for bad input, 130 for Ctrl-C,
/// 1 otherwise.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err.chain().any(|e| e.is::<InputError>()) {
        2
    } else if err.chain().any(|e| e.is::<Interrupted>()) {
        130
    } else {
        1
    }
}

/// The user pressed Ctrl-C; exits with 130 like a shell would.
#[derive(Debug, thiserror::Error)]
pub enum Interrupted {
    #[error("interrupted: finished runs are kept; run the same command again to resume")]
    Sweep,
    /// `--verify` trains into a temporary folder that goes with it: nothing to resume.
    #[error("interrupted: --verify stopped before comparing, and its temporary runs are gone; run it again to check the results")]
    Verify,
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
        assert_eq!(exit_code(&Interrupted::Verify.into()), 130);
        assert_eq!(exit_code(&anyhow::anyhow!("x")), 1);
    }
}
