//! Sources that need no backend crate.

mod env;
mod file;

pub use env::EnvSource;
pub use file::FileSource;
