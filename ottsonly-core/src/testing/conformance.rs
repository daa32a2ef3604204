//! Behaviour every `Store` must have (written by the conformance task).
