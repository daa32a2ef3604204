//! `sqlx::migrate!()` embeds the files of `migrations/`, but the compiler only notices edits to
//! files it already embedded; this makes a newly added migration rebuild the crate too.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
