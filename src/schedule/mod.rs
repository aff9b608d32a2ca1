//! Many runs: parallel, resumable, failure-isolated.
