//! Rate-limit windows shared by every node.
//!
//! Table `rate_windows`: a limit's key (what is limited and for whom) → the start of its
//! current fixed window and how many requests it counted.
