//! `flows/` and `static/` are built into the binary (rust-embed, see `src/flow/shipped.rs` and
//! `src/api/assets.rs`). rust-embed makes cargo watch the files it embedded, not the folders: this
//! makes a file added to or removed from either folder rebuild the crate too.

fn main() {
    println!("cargo:rerun-if-changed=flows");
    println!("cargo:rerun-if-changed=static");
}
