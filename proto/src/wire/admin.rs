//! Administrative records (RFC 9171 §6.1): bundle status reports.
