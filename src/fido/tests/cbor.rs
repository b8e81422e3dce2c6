//! The CBOR helpers: map entries up to the bound and no more, duplicate keys refused.

use ciborium::value::Value as Cbor;

use super::{int, text};
use crate::fido::cbor;

fn map_of(n: i64) -> Cbor {
    Cbor::Map((0..n).map(|i| (int(i), text("v"))).collect())
}

#[test]
fn a_map_of_sixty_four_entries_is_read_and_one_of_sixty_five_is_refused() {
    assert_eq!(cbor::map(&map_of(64)).map(<[_]>::len), Some(64));
    assert_eq!(cbor::map(&map_of(65)), None);
    assert_eq!(cbor::map(&map_of(1000)), None);
    assert_eq!(cbor::map(&map_of(0)).map(<[_]>::len), Some(0));
}

#[test]
fn a_map_with_a_duplicate_key_or_a_value_that_is_no_map_is_refused() {
    let dup = Cbor::Map(vec![(int(1), int(2)), (int(3), int(4)), (int(1), int(5))]);
    assert_eq!(cbor::map(&dup), None);
    assert_eq!(cbor::map(&Cbor::Array(vec![int(1), int(2)])), None);
}
