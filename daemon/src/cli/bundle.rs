//! `tern bundle`: create and inspect bundles offline.
