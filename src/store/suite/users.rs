//! Users (and their credentials as a user's creation and deletion see them).

use super::both;
use super::fixtures::{credential, user};
use crate::domain::CredentialId;
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

both!(
    a_user_with_credentials_is_written_whole_or_not_at_all,
    |s: &dyn Storage| {
        let a = user("alice");
        s.insert_user(&a).unwrap();
        s.insert_credential(&credential(&a, b"taken")).unwrap();
        let b = user("bob");
        let clash = [credential(&b, b"b1"), credential(&b, b"taken")];
        assert!(matches!(
            s.insert_user_with_credentials(&b, &clash),
            Err(StoreError::CredentialExists)
        ));
        let twice = [credential(&b, b"b1"), credential(&b, b"b1")];
        assert!(matches!(
            s.insert_user_with_credentials(&b, &twice),
            Err(StoreError::CredentialExists)
        ));
        assert!(s.user(&b.username).unwrap().is_none());
        assert!(s.user_by_handle(&b.handle).unwrap().is_none());
        assert!(s.credentials_of(&b.username).unwrap().is_empty());
        let fine = [credential(&b, b"b1"), credential(&b, b"b2")];
        s.insert_user_with_credentials(&b, &fine).unwrap();
        assert_eq!(s.credentials_of(&b.username).unwrap().len(), 2);
        assert_eq!(
            s.user_by_handle(&b.handle).unwrap().unwrap().username,
            b.username
        );
    }
);

both!(
    a_user_and_their_first_credential_are_one_transaction,
    |s: &dyn Storage| {
        let a = user("alice");
        s.insert_user_with_credential(&a, &credential(&a, b"first"))
            .unwrap();
        assert_eq!(s.credentials_of(&a.username).unwrap().len(), 1);
        // The credential id is taken: no user is left behind.
        let b = user("bob");
        assert!(matches!(
            s.insert_user_with_credential(&b, &credential(&b, b"first")),
            Err(StoreError::CredentialExists)
        ));
        assert!(s.user(&b.username).unwrap().is_none());
        assert!(s.user_by_handle(&b.handle).unwrap().is_none());
        assert!(s.list_users(None, None, 10).unwrap().len() == 1);
        // The username is taken: no credential is left behind.
        assert!(matches!(
            s.insert_user_with_credential(&user("alice"), &credential(&a, b"second")),
            Err(StoreError::UserExists)
        ));
        let second = CredentialId::from_bytes(b"second".to_vec()).unwrap();
        assert!(s.credential(&second).unwrap().is_none());
        // Bob may still sign up, with another id.
        s.insert_user_with_credential(&b, &credential(&b, b"other"))
            .unwrap();
        assert_eq!(s.credentials_of(&b.username).unwrap().len(), 1);
    }
);

both!(
    users_are_listed_in_order_by_prefix_and_after,
    |s: &dyn Storage| {
        for name in ["carol", "alice", "bob", "alicia", "albert"] {
            s.insert_user(&user(name)).unwrap();
        }
        let names = |users: Vec<crate::store::UserRecord>| -> Vec<String> {
            users
                .into_iter()
                .map(|u| u.username.as_str().to_string())
                .collect()
        };
        assert_eq!(
            names(s.list_users(None, None, 10).unwrap()),
            ["albert", "alice", "alicia", "bob", "carol"]
        );
        assert_eq!(
            names(s.list_users(Some("ali"), None, 10).unwrap()),
            ["alice", "alicia"]
        );
        let alice = user("alice").username;
        assert_eq!(
            names(s.list_users(None, Some(&alice), 2).unwrap()),
            ["alicia", "bob"]
        );
        assert_eq!(
            names(s.list_users(Some("al"), Some(&alice), 10).unwrap()),
            ["alicia"]
        );
    }
);

both!(
    an_update_keeps_the_username_and_handle_and_needs_the_user,
    |s: &dyn Storage| {
        let a = user("alice");
        s.insert_user(&a).unwrap();
        let updated = s
            .update_user(&a.username, &mut |u| {
                u.password_hash = Some("hash".into());
                u.username = crate::domain::Username::parse("mallory").unwrap();
                u.handle = crate::domain::UserHandle::random();
                Ok(())
            })
            .unwrap();
        assert_eq!(updated.username, a.username);
        assert_eq!(updated.handle, a.handle);
        let stored = s.user(&a.username).unwrap().unwrap();
        assert_eq!(stored.password_hash.as_deref(), Some("hash"));
        assert_eq!(stored.handle, a.handle);
        assert!(matches!(
            s.update_user(&user("ghost").username, &mut |_| Ok(())),
            Err(StoreError::NotFound)
        ));
    }
);

both!(
    deleting_a_user_deletes_their_credentials_and_handle,
    |s: &dyn Storage| {
        let a = user("alice");
        s.insert_user(&a).unwrap();
        s.insert_credential(&credential(&a, b"c1")).unwrap();
        s.insert_credential(&credential(&a, b"c2")).unwrap();
        let mut deleted = s.delete_user(&a.username).unwrap();
        deleted.sort_by(|x, y| x.as_bytes().cmp(y.as_bytes()));
        assert_eq!(
            deleted,
            [
                CredentialId::from_bytes(b"c1".to_vec()).unwrap(),
                CredentialId::from_bytes(b"c2".to_vec()).unwrap()
            ]
        );
        assert!(s.user(&a.username).unwrap().is_none());
        assert!(s.user_by_handle(&a.handle).unwrap().is_none());
        assert!(s
            .credential(&CredentialId::from_bytes(b"c1".to_vec()).unwrap())
            .unwrap()
            .is_none());
        assert!(s.credentials_of(&a.username).unwrap().is_empty());
        // The name and the ids are free again.
        s.insert_user_with_credential(&a, &credential(&a, b"c1"))
            .unwrap();
    }
);
