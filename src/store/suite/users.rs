//! Users and credentials.

use super::both;
use super::fixtures::{credential, user};
use crate::store::{Storage, StoreError};

both!(a_username_can_be_taken_only_once, |s: &dyn Storage| {
    let alice = user("alice");
    s.insert_user(&alice).unwrap();
    assert!(matches!(
        s.insert_user(&user("alice")),
        Err(StoreError::UserExists)
    ));
    assert_eq!(
        s.user(&alice.username).unwrap().unwrap().handle,
        alice.handle
    );
    assert_eq!(
        s.user_by_handle(&alice.handle).unwrap().unwrap().username,
        alice.username
    );
});

both!(a_credential_id_is_registered_once, |s: &dyn Storage| {
    let alice = user("alice");
    let bob = user("bob");
    s.insert_user(&alice).unwrap();
    s.insert_user(&bob).unwrap();
    s.insert_credential(&credential(&alice, b"id-1")).unwrap();
    assert!(matches!(
        s.insert_credential(&credential(&bob, b"id-1")),
        Err(StoreError::CredentialExists)
    ));
    assert_eq!(s.credentials_of(&bob.username).unwrap().len(), 0);
});
