//! Trust path tests.
