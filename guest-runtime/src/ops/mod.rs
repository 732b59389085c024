//! Native functions the prelude calls, one file per family. Each turns a
//! JavaScript call into host imports (`crate::imports`) and back.

pub mod classes;
pub mod clone;
pub mod compression;
pub mod console;
pub mod crypto;
pub mod encoding;
pub mod event_loop;
pub mod fetch;
pub mod intl;
pub mod json;
pub mod schedule;
pub mod url;
pub mod urlpattern;
