//! Every file in tests/broken/ is a broken recipe whose exact error text (file:line:column,
//! what, how to fix) is written at its end. None may load, none may panic.

use std::path::Path;

#[test]
fn broken_recipes_give_their_exact_errors() {
    let dir = Path::new("tests/broken");
    let count = liveboot_yaml::fixture::fixtures(dir).len();
    assert!(count >= 25, "only {count} fixtures");
    let failures = liveboot_yaml::fixture::check_all(dir, |p| liveboot_recipe::load(p).err().map(|d| d.to_string()));
    assert!(failures.is_empty(), "{} of {count} fixtures failed:\n\n{}", failures.len(), failures.join("\n\n"));
}
