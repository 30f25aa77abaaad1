//! Ubuntu: the upstream live server ISO, its boot menus patched, remastered with its own boot
//! setup (`upstream.rs`); casper boots it. Built from packages, it takes Debian's stages.

use liveboot_yaml::Diagnostic;

use super::debian::{bootstrap_stages, is_debian_package_name, validate_bootstrap, HOST_PACKAGES};
use super::upstream::{upstream_stages, validate_upstream};
use super::{release, Facts, Family, CASPER, LIVE_BOOT};
use crate::plan::{Builder, Root};
use crate::{Check, Recipe, Source};

/// Ubuntu.
pub struct Ubuntu;

const FACTS: Facts = Facts {
    name: "ubuntu",
    releases: &[
        release("18.04", "bionic", 1524700800),
        release("20.04", "focal", 1587600000),
        release("22.04", "jammy", 1650499200),
        release("24.04", "noble", 1714003200),
    ],
    sources: &["upstream_iso", "bootstrap"],
    schemes: &[&CASPER, &LIVE_BOOT],
    host_packages: HOST_PACKAGES,
};

impl Family for Ubuntu {
    fn facts(&self) -> &Facts {
        &FACTS
    }
    fn validate(&self, recipe: &Recipe, check: &mut Check) {
        match &recipe.spec.source {
            Source::Bootstrap(b) => validate_bootstrap(b, check),
            Source::UpstreamIso(u) => validate_upstream(recipe, u, check),
            _ => {}
        }
        check.package_names(recipe, is_debian_package_name);
    }
    fn stages(&self, b: &mut Builder) -> Result<Root, Diagnostic> {
        match &b.recipe.spec.source {
            Source::Bootstrap(bs) => bootstrap_stages(b, bs),
            Source::UpstreamIso(u) => upstream_stages(b, u, &CASPER),
            other => unreachable!("validated: ubuntu does not build from {}", other.kind()),
        }
    }
    fn buildable(&self, recipe: &Recipe) -> Result<(), String> {
        match recipe.spec.source {
            Source::Bootstrap(_) | Source::UpstreamIso(_) => Ok(()),
            _ => super::not_yet(recipe),
        }
    }
    fn needs_root(&self, recipe: &Recipe) -> bool {
        !matches!(recipe.spec.source, Source::UpstreamIso(_))
    }
}
