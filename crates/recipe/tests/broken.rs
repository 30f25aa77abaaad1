//! Every file in tests/broken/ is a broken recipe whose exact error text (file:line:column,
//! what, how to fix) is written at its end. None may load, none may panic.

#[test]
fn broken_recipes_give_their_exact_errors() {
    liveboot_yaml::fixture::assert_all("tests/broken".as_ref(), 25, |p| liveboot_recipe::load(p).err().map(|d| d.to_string()));
}
