//! Recipes: what an image is made of, read strictly from `recipes/*.yaml`.
//!
//! [`load`] reads a recipe and the files it `extends:`, checks it and returns a [`Recipe`];
//! [`plan::plan`] turns it into a plain-data [`plan::Plan`]. Nothing here writes a file, starts a
//! program or reaches the network: the only I/O is reading the recipe's own files (to hash them).

mod load;
mod model;
pub mod plan;
mod releases;
mod validate;

pub use load::{load, load_by_name, recipe_names, Recipe};
pub use model::*;
pub use releases::{release_info, ReleaseInfo, RELEASES};
