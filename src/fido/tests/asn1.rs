//! The small DER reader: high tag numbers up to the largest a u32 holds and no further, and
//! definite lengths in the short form and the long form of one to four octets, refusing the
//! indefinite form, five length octets and lengths past the input.

use crate::fido::asn1::{self, Tag, OCTET_STRING};

/// The tag, value and rest `asn1::read` finds, as owned values.
fn read(input: &[u8]) -> Option<(Tag, Vec<u8>, Vec<u8>)> {
    asn1::read(input).map(|(tlv, rest)| (tlv.tag, tlv.value.to_vec(), rest.to_vec()))
}

fn context(number: u32) -> Tag {
    Tag {
        class: 2,
        constructed: true,
        number,
    }
}

#[test]
fn a_high_tag_number_of_five_octets_reaches_the_largest_u32() {
    // 0x0f, then four groups of 0x7f: 4 + 4 × 7 = 32 bits, all set.
    let der = [0xbf, 0x8f, 0xff, 0xff, 0xff, 0x7f, 0x01, 0xaa, 0xbb];
    assert_eq!(
        read(&der),
        Some((context(u32::MAX), vec![0xaa], vec![0xbb]))
    );
    // One below the largest: the last group is 0x7e.
    let der = [0xbf, 0x8f, 0xff, 0xff, 0xff, 0x7e, 0x00];
    assert_eq!(read(&der), Some((context(u32::MAX - 1), vec![], vec![])));
}

#[test]
fn a_high_tag_number_past_the_largest_u32_is_refused_not_wrapped() {
    // 0x10 then four zero groups is 2^32, which would wrap to tag 0.
    assert_eq!(read(&[0xbf, 0x90, 0x80, 0x80, 0x80, 0x00, 0x00]), None);
    // 0x1f then four 0x7f groups: 2^33 - 1, which would wrap to u32::MAX.
    assert_eq!(read(&[0xbf, 0x9f, 0xff, 0xff, 0xff, 0x7f, 0x00]), None);
    // The limit is on the number, not on the octets: leading zero groups are read as zeros.
    assert_eq!(
        read(&[0xbf, 0x80, 0x80, 0x80, 0x80, 0x80, 0x05, 0x00]),
        Some((context(5), vec![], vec![]))
    );
    // Past the largest after five groups, with a sixth to come.
    assert_eq!(
        read(&[0xbf, 0x8f, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00]),
        None
    );
}

#[test]
fn an_android_style_two_octet_tag_number_is_read() {
    // [701] (purpose tags of KeyDescription's AuthorizationList go past 30).
    let der = [0xbf, 0x85, 0x3d, 0x03, 0x02, 0x01, 0x07];
    assert_eq!(
        read(&der),
        Some((context(701), vec![0x02, 0x01, 0x07], vec![]))
    );
}

#[test]
fn a_short_length_of_127_is_read_and_0x80_is_the_indefinite_form_which_is_refused() {
    let mut der = vec![0x04, 0x7f];
    der.extend(std::iter::repeat_n(0x55, 127));
    assert_eq!(read(&der), Some((OCTET_STRING, vec![0x55; 127], vec![])));

    // 0x80 with nothing after it, and with 128 octets after it that a short length of 128
    // would take: both are the indefinite form, which DER forbids.
    assert_eq!(read(&[0x04, 0x80]), None);
    assert_eq!(read(&[0x04, 0x80, 0x00, 0x00]), None);
    let mut der = vec![0x04, 0x80];
    der.extend(std::iter::repeat_n(0x55, 128));
    assert_eq!(read(&der), None);
}

#[test]
fn long_form_lengths_of_one_to_four_octets_are_read() {
    let mut der = vec![0x04, 0x81, 0x80];
    der.extend(std::iter::repeat_n(0x11, 128));
    der.push(0xee);
    assert_eq!(
        read(&der),
        Some((OCTET_STRING, vec![0x11; 128], vec![0xee]))
    );

    let mut der = vec![0x04, 0x82, 0x01, 0x02];
    der.extend(std::iter::repeat_n(0x22, 0x0102));
    assert_eq!(read(&der), Some((OCTET_STRING, vec![0x22; 0x0102], vec![])));

    let mut der = vec![0x04, 0x83, 0x01, 0x00, 0x01];
    der.extend(std::iter::repeat_n(0x33, 0x010001));
    der.extend([0xaa, 0xbb]);
    assert_eq!(
        read(&der),
        Some((OCTET_STRING, vec![0x33; 0x010001], vec![0xaa, 0xbb]))
    );

    let mut der = vec![0x04, 0x84, 0x01, 0x00, 0x00, 0x02];
    der.extend(std::iter::repeat_n(0x44, 0x0100_0002));
    let (tlv, rest) = asn1::read(&der).unwrap();
    assert_eq!(tlv.value.len(), 0x0100_0002);
    assert!(rest.is_empty());
}

#[test]
fn lengths_that_are_not_minimal_are_tolerated() {
    // The reader is lenient here: a long form for a length the short form could carry, and
    // leading zero octets, give the same value.
    assert_eq!(
        read(&[0x04, 0x81, 0x02, 0xaa, 0xbb, 0xcc]),
        Some((OCTET_STRING, vec![0xaa, 0xbb], vec![0xcc]))
    );
    assert_eq!(
        read(&[0x04, 0x84, 0x00, 0x00, 0x00, 0x01, 0xaa]),
        Some((OCTET_STRING, vec![0xaa], vec![]))
    );
    assert_eq!(
        read(&[0x04, 0x82, 0x00, 0x00]),
        Some((OCTET_STRING, vec![], vec![]))
    );
}

#[test]
fn five_or_more_length_octets_are_refused_even_for_a_small_length() {
    assert_eq!(
        read(&[0x04, 0x85, 0x00, 0x00, 0x00, 0x00, 0x01, 0xaa]),
        None
    );
    assert_eq!(read(&[0x04, 0x85, 0x00, 0x00, 0x00, 0x00, 0x00]), None);
    assert_eq!(read(&[0x04, 0x88, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xaa]), None);
    // 0xff: 127 length octets (reserved in X.690).
    let mut der = vec![0x04, 0xff];
    der.extend(std::iter::repeat_n(0x00, 127));
    assert_eq!(read(&der), None);
}

#[test]
fn a_length_past_the_input_or_cut_length_octets_are_refused() {
    assert_eq!(read(&[0x04, 0x03, 0xaa, 0xbb]), None);
    assert_eq!(read(&[0x04, 0x81, 0x03, 0xaa, 0xbb]), None);
    assert_eq!(read(&[0x04, 0x84, 0xff, 0xff, 0xff, 0xff, 0xaa]), None);
    // The length octets themselves run out.
    assert_eq!(read(&[0x04, 0x82, 0x01]), None);
    assert_eq!(read(&[0x04, 0x81]), None);
    // No length octet at all, and a high tag number cut short.
    assert_eq!(read(&[0x04]), None);
    assert_eq!(read(&[0xbf, 0x85]), None);
    assert_eq!(read(&[]), None);
}

#[test]
fn items_must_fill_the_contents_exactly() {
    let items = asn1::items(&[0x02, 0x01, 0x05, 0x04, 0x81, 0x01, 0xaa]).unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].tag, asn1::INTEGER);
    assert_eq!(items[0].value, [0x05]);
    assert_eq!(items[1].tag, OCTET_STRING);
    assert_eq!(items[1].value, [0xaa]);
    assert!(asn1::items(&[0x02, 0x01, 0x05, 0x04, 0x80]).is_none());
    assert_eq!(asn1::items(&[]).map(|v| v.len()), Some(0));
}

#[test]
fn small_uint_reads_big_endian_values_of_up_to_eight_octets() {
    assert_eq!(asn1::small_uint(&[0x00]), Some(0));
    assert_eq!(asn1::small_uint(&[0x05]), Some(5));
    assert_eq!(asn1::small_uint(&[0x01, 0x00]), Some(0x0100));
    assert_eq!(asn1::small_uint(&[0x00, 0x80]), Some(0x80));
    assert_eq!(
        asn1::small_uint(&[0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08]),
        Some(0x0102_0304_0506_0708)
    );
    // The largest: a zero octet before eight 0xff (nine octets, the sign octet included).
    assert_eq!(
        asn1::small_uint(&[0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        Some(u64::MAX)
    );
    assert_eq!(
        asn1::small_uint(&[0x00, 0x80, 0, 0, 0, 0, 0, 0, 0x01]),
        Some(0x8000_0000_0000_0001)
    );
}

#[test]
fn small_uint_tolerates_leading_zero_octets_while_the_value_fits() {
    assert_eq!(asn1::small_uint(&[0x00, 0x05]), Some(5));
    assert_eq!(asn1::small_uint(&[0x00, 0x00, 0x05]), Some(5));
    assert_eq!(asn1::small_uint(&[0x00; 9]), Some(0));
}

#[test]
fn small_uint_refuses_empty_negative_and_over_eight_octet_values() {
    assert_eq!(asn1::small_uint(&[]), None);
    // Negative: the sign bit of the first octet, whatever the length.
    assert_eq!(asn1::small_uint(&[0x80]), None);
    assert_eq!(asn1::small_uint(&[0xff]), None);
    assert_eq!(asn1::small_uint(&[0x80, 0x00]), None);
    // Nine octets with no zero to drop: a 65-bit value, not wrapped to its low 64 bits.
    assert_eq!(asn1::small_uint(&[0x01, 0, 0, 0, 0, 0, 0, 0, 0]), None);
    assert_eq!(asn1::small_uint(&[0x01, 0, 0, 0, 0, 0, 0, 0, 0x07]), None);
    // Ten octets or more, even of zeros.
    assert_eq!(asn1::small_uint(&[0x00; 10]), None);
    assert_eq!(
        asn1::small_uint(&[0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        None
    );
}
