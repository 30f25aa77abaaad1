//! KIWI image descriptions as kiwi-ng reads them, for liveboot's KIWI family and for
//! `liveboot kiwi show`.
//!
//! [`read`] finds the description in a folder the way kiwi-ng does, checks it against what
//! kiwi-ng's schema allows (element names, schema 7.4–8.5, attribute values liveboot uses),
//! applies profiles (`import="true"` ones by default, `<requires>` followed) and chooses the
//! build type (asked for, else `primary`, else the first) with kiwi-ng's rules, and gives the
//! result as a [`Description`]. Every problem names `file:line:col`; elements that apply but that
//! liveboot does not act on come back as warnings, never silently dropped.

mod model;
mod read;
pub mod schema;

pub use liveboot_yaml::Diagnostic;
pub use model::{Description, ImageType, Packages, Profile, Repository, User};
pub use read::{find, read, Options, Read};
