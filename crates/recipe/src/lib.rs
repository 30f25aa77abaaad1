//! Recipes: what an image is made of, read strictly from `recipes/*.yaml`.
//!
//! [`load`] reads a recipe and the files it `extends:`, checks it and returns a [`Recipe`];
//! [`plan::plan`] turns it into a plain-data [`plan::Plan`]. Nothing here writes a file, starts a
//! program or reaches the network: the only I/O is reading the recipe's own files (to hash them).
//!
//! Everything that differs between distributions is in one [`family`] module each, everything
//! that differs between outputs in one [`output`] module each; the [`Registry`] lists both.

pub mod family;
mod load;
pub mod menu;
mod model;
pub mod output;
pub mod plan;
mod registry;
mod validate;

pub use load::{load, load_by_name, load_by_name_with, load_with, recipe_names, Recipe};
pub use model::*;
pub use registry::Registry;
pub(crate) use validate::key_path;
pub use validate::{project_of, Check};
