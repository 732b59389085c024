//! `sqlx::migrate!` embeds `migrations/` when the crate compiles, but cargo
//! does not know the crate reads that folder: without this, a new migration
//! file is left out of the build until something else in the crate changes
//! (sqlx's documented remedy).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
