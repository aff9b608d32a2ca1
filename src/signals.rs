//! Stop requests from outside: Ctrl-C (SIGINT), a scheduler preempting the job (SIGTERM:
//! Slurm, Kubernetes) and a closed terminal (SIGHUP) all ask runs to stop at their next
//! batch, so that finished runs and epochs are kept, the summary says what is true and
//! temporary files go; a second signal quits at once, still removing temporaries. The
//! exit code is 128 + the first signal's number, as a shell reports a killed program.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// The first stop signal received, 0 while none.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// The signal that asked the program to stop (SIGINT if none did: a cancellation that
/// came from elsewhere reads as Ctrl-C).
pub fn received() -> i32 {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => SIGINT,
        n => n,
    }
}

/// Installs the handlers and returns the flag they set. Where handlers cannot be
/// installed (a thread limit), runs simply cannot be stopped cleanly: said, not fatal.
pub fn cancel_on_stop_signals(say: fn(&str)) -> Arc<AtomicBool> {
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    let watching = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]).and_then(
        |mut signals| {
            std::thread::Builder::new()
                .name("runner-signals".into())
                .spawn(move || {
                    for signal in signals.forever() {
                        if flag.swap(true, Ordering::SeqCst) {
                            crate::report::atomic::exit_removing_temporaries(
                                128 + RECEIVED.load(Ordering::SeqCst),
                            );
                        }
                        RECEIVED.store(signal, Ordering::SeqCst);
                        say(&format!(
                            "\nstopping ({}): runs in progress end at their next batch (send it again to quit now)",
                            crate::error::signal_name(signal)
                        ));
                    }
                })
        },
    );
    if let Err(e) = watching {
        tracing::warn!("cannot watch for Ctrl-C and SIGTERM ({e}); a signal will kill runs without cleaning up");
    }
    cancel
}
