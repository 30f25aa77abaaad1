//! Every file in tests/broken/ is a broken inventory whose exact error text (file:line:column,
//! what, how to fix) is written at its end. None may load, none may panic.

#[test]
fn broken_inventories_give_their_exact_errors() {
    liveboot_yaml::fixture::assert_all("tests/broken".as_ref(), 15, |p| liveboot_inventory::load(p).err().map(|d| d.to_string()));
}
