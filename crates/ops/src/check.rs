//! `liveboot check`: every problem of recipes (loading and planning them) and an inventory.

use std::path::Path;

use liveboot_recipe::plan::plan;
use serde::Serialize;

use crate::build::plan_options;
use crate::Project;

/// What checking one file found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// The recipe's name or the inventory's path.
    pub file: String,
    /// No problem.
    pub ok: bool,
    /// Each problem, located.
    pub problems: Vec<String>,
}

/// Checks the named recipes (all of the project's when none is named) and an inventory.
pub fn check(project: &Project, names: &[String], inventory: Option<&Path>) -> Result<Vec<CheckResult>, String> {
    let names = if names.is_empty() {
        liveboot_recipe::recipe_names(&project.recipes())
            .map_err(|e| format!("{}: cannot list recipes: {e}", project.recipes().display()))?
    } else {
        names.to_vec()
    };
    let mut results = Vec::new();
    for name in &names {
        let outcome = project
            .recipe(name)
            .and_then(|r| plan(&r, &plan_options(project, None, Default::default())).map(|_| ()).map_err(|d| d.to_string()));
        results.push(CheckResult { file: name.clone(), ok: outcome.is_ok(), problems: outcome.err().into_iter().collect() });
    }
    if let Some(inv) = inventory {
        let outcome = liveboot_inventory::load(inv);
        results.push(CheckResult {
            file: inv.display().to_string(),
            ok: outcome.is_ok(),
            problems: outcome.err().map(|d| d.to_string()).into_iter().collect(),
        });
    }
    Ok(results)
}
