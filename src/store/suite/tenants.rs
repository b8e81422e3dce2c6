//! Tenants made through the admin API, and what a tenant's view of the store keeps apart.

use super::both;
use super::fixtures::{credential, user};
use crate::store::{Storage, StoreError, TenantRecord};

fn record(id: &str, rp_id: &str) -> TenantRecord {
    TenantRecord {
        id: id.into(),
        settings: serde_json::json!({ "rp_id": rp_id }),
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
    }
}

both!(
    a_tenant_id_can_be_taken_only_once_and_replaced_only_when_it_exists,
    |s: &dyn Storage| {
        s.put_tenant(&record("demo", "example.org"), false).unwrap();
        assert!(matches!(
            s.put_tenant(&record("demo", "example.net"), false),
            Err(StoreError::TenantExists)
        ));
        s.put_tenant(&record("demo", "example.com"), true).unwrap();
        assert!(matches!(
            s.put_tenant(&record("other", "example.org"), true),
            Err(StoreError::NotFound)
        ));
        let tenants = s.tenants().unwrap();
        assert_eq!(tenants.len(), 1);
        assert_eq!(tenants[0].settings["rp_id"], "example.com");
        s.put_tenant(&record("bank", "bank.example"), false)
            .unwrap();
        let ids: Vec<String> = s.tenants().unwrap().into_iter().map(|t| t.id).collect();
        assert_eq!(ids, ["bank", "demo"]);
        s.delete_tenant("demo").unwrap();
        assert!(matches!(s.delete_tenant("demo"), Err(StoreError::NotFound)));
        assert_eq!(s.tenants().unwrap().len(), 1);
    }
);

both!(
    a_tenant_view_keeps_its_users_apart_from_the_default_tenants,
    |s: &dyn Storage| {
        let demo = s.for_tenant("demo").unwrap();
        let alice = user("alice");
        s.insert_user(&alice).unwrap();
        assert!(demo.user(&alice.username).unwrap().is_none());
        let demo_alice = user("alice");
        demo.insert_user(&demo_alice).unwrap();
        assert_eq!(
            demo.user(&alice.username).unwrap().unwrap().handle,
            demo_alice.handle
        );
        assert_eq!(
            s.user(&alice.username).unwrap().unwrap().handle,
            alice.handle
        );
        assert!(s.user_by_handle(&demo_alice.handle).unwrap().is_none());
        assert!(demo.user_by_handle(&alice.handle).unwrap().is_none());
        assert_eq!(demo.list_users(None, None, 10).unwrap().len(), 1);
        // The default tenant's view by name is the store itself.
        let default = s.for_tenant(crate::domain::DEFAULT_TENANT).unwrap();
        assert_eq!(
            default.user(&alice.username).unwrap().unwrap().handle,
            alice.handle
        );
    }
);

both!(
    dropping_a_tenants_data_removes_its_users_and_credentials_only,
    |s: &dyn Storage| {
        let shop = s.for_tenant("shop").unwrap();
        let (a, b) = (user("alice"), user("alice"));
        shop.insert_user_with_credential(&a, &credential(&a, b"c1"))
            .unwrap();
        s.insert_user_with_credential(&b, &credential(&b, b"c1"))
            .unwrap();
        let event = |name: &crate::domain::Username| crate::store::AuditEvent {
            username: Some(name.clone()),
            tenant: Some("shop".into()),
            ..crate::store::AuditEvent::new(
                chrono::Utc::now(),
                crate::store::AuditKind::SignUp,
                "anonymous",
                crate::store::Outcome::Success,
                "",
            )
        };
        shop.append(event(&a.username)).unwrap();
        assert_eq!(shop.events(Some(&a.username), None, 10).unwrap().len(), 1);
        s.drop_tenant_data("shop").unwrap();
        let shop = s.for_tenant("shop").unwrap();
        assert!(shop.user(&a.username).unwrap().is_none());
        // Its users' audit index went too (the records stay in the chain).
        assert!(shop.events(Some(&a.username), None, 10).unwrap().is_empty());
        assert!(s.verify_chain(None).unwrap().is_ok());
        assert!(shop.all_credentials().unwrap().is_empty());
        assert_eq!(s.all_credentials().unwrap().len(), 1);
        assert!(s.user(&b.username).unwrap().is_some());
        // The tenant starts again empty.
        shop.insert_user_with_credential(&a, &credential(&a, b"c1"))
            .unwrap();
    }
);
