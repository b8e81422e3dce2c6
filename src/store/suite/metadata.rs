//! The imported FIDO metadata BLOB.

use super::both;
use crate::store::{MetadataRecord, Storage};

fn record(number: u64) -> MetadataRecord {
    MetadataRecord {
        jwt: format!("header.payload-{number}.signature"),
        imported_at: chrono::Utc::now(),
        number,
        blob: serde_json::json!({ "no": number, "entries": [] }),
    }
}

both!(an_import_replaces_the_stored_blob, |s: &dyn Storage| {
    assert!(s.metadata().unwrap().is_none());
    assert_eq!(s.metadata_number().unwrap(), None);
    s.put_metadata(&record(7)).unwrap();
    assert_eq!(s.metadata_number().unwrap(), Some(7));
    let stored = s.metadata().unwrap().unwrap();
    assert_eq!(
        (stored.number, stored.jwt.as_str()),
        (7, "header.payload-7.signature")
    );
    assert_eq!(stored.blob["no"], 7);
    s.put_metadata(&record(8)).unwrap();
    assert_eq!(s.metadata().unwrap().unwrap().number, 8);
    assert_eq!(s.metadata_number().unwrap(), Some(8));
    // Shared by tenants.
    let shop = s.for_tenant("shop").unwrap();
    assert_eq!(shop.metadata().unwrap().unwrap().number, 8);
});
