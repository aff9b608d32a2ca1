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
#[error("interrupted: finished runs are kept; run the same command again to resume")]
pub struct Interrupted;
