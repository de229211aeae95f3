//! Test support: a real server on 127.0.0.1:0 over a fresh store.
