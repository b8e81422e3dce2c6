//! Server-side sessions: the actix-session stores (`SledSessionStore`, `PgSessionStore`) and
//! the engine's `SessionStore::end_sessions_of` over them. Each test is a generic async function
//! of the actix-session store, the `Storage` it keeps its sessions in and the time it reads;
//! [`both_sessions!`] makes its sled and PostgreSQL tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_session::storage::{SessionKey, SessionStore};
use actix_web::cookie::time::Duration as CookieDuration;
use chrono::{DateTime, Utc};

use crate::domain::Username;
use crate::store::{Storage, AUTHENTICATED_KEY, SID_KEY};

type State = HashMap<String, String>;

/// A time the tests move by hand.
#[derive(Clone)]
pub(super) struct Time(Arc<Mutex<DateTime<Utc>>>);

impl Time {
    pub(super) fn start() -> Self {
        Time(Arc::new(Mutex::new(Utc::now())))
    }

    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }

    fn advance(&self, by: chrono::Duration) {
        *self.0.lock().unwrap() += by;
    }

    /// The `now` function a session store is made with.
    pub(super) fn clock(&self) -> Arc<dyn Fn() -> DateTime<Utc> + Send + Sync> {
        let time = self.clone();
        Arc::new(move || time.now())
    }
}

/// `both_sessions!(name)`: the tests `name::sled` and `name::postgres`, each awaiting the
/// function `name` with a fresh actix-session store of that backend, its `Storage` and its time.
macro_rules! both_sessions {
    ($name:ident) => {
        mod $name {
            use crate::store::Storage;

            #[tokio::test]
            async fn sled() {
                let time = super::Time::start();
                let store = crate::store::sled_store::temporary_store();
                let sessions = crate::store::SledSessionStore::new(store.clone(), time.clock());
                super::$name(sessions, &store as &dyn Storage, time).await;
            }

            #[tokio::test]
            async fn postgres() {
                let time = super::Time::start();
                let (store, _dir) = crate::store::pg_store::testing::store();
                let sessions = crate::store::PgSessionStore::new(store.clone(), time.clock());
                super::$name(sessions, &store as &dyn Storage, time).await;
            }
        }
    };
}

const TTL: CookieDuration = CookieDuration::minutes(15);

pub(in crate::store) fn state_with_sid(username: Option<&str>, sid: &str) -> State {
    let mut state = State::new();
    state.insert(SID_KEY.into(), serde_json::json!(sid).to_string());
    if let Some(u) = username {
        state.insert(
            AUTHENTICATED_KEY.into(),
            serde_json::json!({ "username": u, "tags": [] }).to_string(),
        );
    }
    state
}

pub(in crate::store) fn state(username: Option<&str>) -> State {
    state_with_sid(username, "abc")
}

fn name(n: &str) -> Username {
    Username::parse(n).unwrap()
}

fn copy(key: &SessionKey) -> SessionKey {
    SessionKey::try_from(key.as_ref().to_owned()).unwrap()
}

both_sessions!(a_saved_session_is_loaded_updated_and_deleted);
async fn a_saved_session_is_loaded_updated_and_deleted(
    s: impl SessionStore,
    store: &dyn Storage,
    _: Time,
) {
    let key = s.save(state(None), &TTL).await.unwrap();
    assert_eq!(key.as_ref().len(), 43);
    assert_eq!(s.load(&key).await.unwrap().unwrap(), state(None));
    let other = SessionKey::try_from("x".repeat(43)).unwrap();
    assert!(s.load(&other).await.unwrap().is_none());
    // An update of a live session keeps its key, signed in or not.
    let mut changed = state(None);
    changed.insert("step".into(), "\"2\"".into());
    let key = s.update(key, changed.clone(), &TTL).await.unwrap();
    assert_eq!(s.load(&key).await.unwrap().unwrap(), changed);
    let old = key.as_ref().to_owned();
    let key = s.update(key, state(Some("alice")), &TTL).await.unwrap();
    assert_eq!(key.as_ref(), old);
    assert_eq!(s.load(&key).await.unwrap().unwrap(), state(Some("alice")));
    let key = s.update(key, state(None), &TTL).await.unwrap();
    assert_eq!(key.as_ref(), old);
    assert_eq!(store.session_count(), 1);
    s.delete(&key).await.unwrap();
    assert!(s.load(&key).await.unwrap().is_none());
    assert_eq!(store.session_count(), 0);
    // Deleting a session that is gone is no error.
    s.delete(&key).await.unwrap();
}

both_sessions!(an_update_of_a_deleted_session_makes_a_new_key_without_the_login);
async fn an_update_of_a_deleted_session_makes_a_new_key_without_the_login(
    s: impl SessionStore,
    store: &dyn Storage,
    _: Time,
) {
    let key = s.save(state(Some("alice")), &TTL).await.unwrap();
    s.delete(&key).await.unwrap();
    let new_key = s
        .update(copy(&key), state(Some("alice")), &TTL)
        .await
        .unwrap();
    assert_ne!(
        new_key.as_ref(),
        key.as_ref(),
        "a new session, not the old one"
    );
    assert!(s.load(&key).await.unwrap().is_none());
    let new = s.load(&new_key).await.unwrap().unwrap();
    assert!(!new.contains_key(AUTHENTICATED_KEY));
    assert_eq!(new.get(SID_KEY), state(None).get(SID_KEY));
    assert_eq!(store.end_sessions_of(&name("alice"), None).unwrap(), 0);
    // An anonymous session deleted, then updated: the same.
    let key = s.save(state(None), &TTL).await.unwrap();
    s.delete(&key).await.unwrap();
    let again = s.update(copy(&key), state(None), &TTL).await.unwrap();
    assert_ne!(again.as_ref(), key.as_ref());
    assert!(s.load(&key).await.unwrap().is_none());
    assert!(s.load(&again).await.unwrap().is_some());
}

both_sessions!(update_ttl_extends_a_live_session_and_never_revives_one);
async fn update_ttl_extends_a_live_session_and_never_revives_one(
    s: impl SessionStore,
    _: &dyn Storage,
    time: Time,
) {
    let anon = s.save(state(None), &TTL).await.unwrap();
    let signed = s.save(state(Some("alice")), &TTL).await.unwrap();
    time.advance(chrono::Duration::minutes(10));
    s.update_ttl(&anon, &TTL).await.unwrap();
    s.update_ttl(&signed, &TTL).await.unwrap();
    time.advance(chrono::Duration::minutes(10));
    assert!(s.load(&anon).await.unwrap().is_some(), "extended");
    assert!(s.load(&signed).await.unwrap().is_some(), "extended");
    time.advance(chrono::Duration::minutes(6));
    assert!(s.load(&anon).await.unwrap().is_none(), "expired");
    assert!(s.load(&signed).await.unwrap().is_none(), "expired");
    // An expired session is not revived by a new ttl.
    s.update_ttl(&anon, &TTL).await.unwrap();
    s.update_ttl(&signed, &TTL).await.unwrap();
    assert!(s.load(&anon).await.unwrap().is_none());
    assert!(s.load(&signed).await.unwrap().is_none());
    // Nor a deleted one.
    let gone = s.save(state(None), &TTL).await.unwrap();
    s.delete(&gone).await.unwrap();
    s.update_ttl(&gone, &TTL).await.unwrap();
    assert!(s.load(&gone).await.unwrap().is_none());
}

both_sessions!(ending_a_users_sessions_spares_other_users_and_the_excepted_one);
async fn ending_a_users_sessions_spares_other_users_and_the_excepted_one(
    s: impl SessionStore,
    store: &dyn Storage,
    _: Time,
) {
    let alice = name("alice");
    let a1 = s.save(state(Some("alice")), &TTL).await.unwrap();
    let a2 = s.save(state(Some("alice")), &TTL).await.unwrap();
    let a3 = s
        .save(state_with_sid(Some("alice"), "keep-me"), &TTL)
        .await
        .unwrap();
    let b = s.save(state(Some("bob")), &TTL).await.unwrap();
    let anon = s.save(state(None), &TTL).await.unwrap();
    let ended = store.end_sessions_of(&alice, Some("keep-me")).unwrap();
    assert_eq!(ended, 2);
    assert!(s.load(&a1).await.unwrap().is_none());
    assert!(s.load(&a2).await.unwrap().is_none());
    assert!(s.load(&a3).await.unwrap().is_some());
    assert!(s.load(&b).await.unwrap().is_some());
    assert!(s.load(&anon).await.unwrap().is_some());
    assert_eq!(store.end_sessions_of(&alice, None).unwrap(), 1);
    assert!(s.load(&a3).await.unwrap().is_none());
    assert_eq!(store.end_sessions_of(&alice, None).unwrap(), 0);
    assert_eq!(
        store
            .end_sessions_of(&name("bob"), Some("keep-me"))
            .unwrap(),
        1
    );
    assert!(s.load(&anon).await.unwrap().is_some());
    assert_eq!(
        store.session_count(),
        1,
        "only the anonymous session is left"
    );
}

both_sessions!(an_ended_session_is_not_revived_by_a_request_that_was_still_running);
async fn an_ended_session_is_not_revived_by_a_request_that_was_still_running(
    s: impl SessionStore,
    store: &dyn Storage,
    _: Time,
) {
    let alice = name("alice");
    let key = s.save(state(Some("alice")), &TTL).await.unwrap();
    store.end_sessions_of(&alice, None).unwrap();
    s.update_ttl(&key, &TTL).await.unwrap();
    assert!(s.load(&key).await.unwrap().is_none());
    let old = key.as_ref().to_owned();
    let new_key = s.update(key, state(Some("alice")), &TTL).await.unwrap();
    assert_ne!(new_key.as_ref(), old);
    let revived = s.load(&new_key).await.unwrap().unwrap();
    assert!(!revived.contains_key(AUTHENTICATED_KEY));
    assert_eq!(store.end_sessions_of(&alice, None).unwrap(), 0);
}

both_sessions!(the_sign_in_follows_login_logout_delete_and_purge);
async fn the_sign_in_follows_login_logout_delete_and_purge(
    s: impl SessionStore,
    store: &dyn Storage,
    time: Time,
) {
    let alice = name("alice");
    let key = s.save(state(None), &TTL).await.unwrap();
    let key = s.update(key, state(Some("alice")), &TTL).await.unwrap();
    // Signed out again: ending alice's sessions spares it.
    let key = s.update(key, state(None), &TTL).await.unwrap();
    assert_eq!(store.end_sessions_of(&alice, None).unwrap(), 0);
    assert!(s.load(&key).await.unwrap().is_some());
    // Signed in as bob now: ending alice's sessions spares it too.
    let key = s.update(key, state(Some("bob")), &TTL).await.unwrap();
    assert_eq!(store.end_sessions_of(&alice, None).unwrap(), 0);
    assert!(s.load(&key).await.unwrap().is_some());
    let key = s.update(key, state(Some("alice")), &TTL).await.unwrap();
    s.delete(&key).await.unwrap();
    assert_eq!(store.end_sessions_of(&alice, None).unwrap(), 0);
    s.save(state(Some("alice")), &TTL).await.unwrap();
    time.advance(chrono::Duration::hours(1));
    assert_eq!(store.purge_expired(time.now()).unwrap(), 1);
    assert_eq!(store.end_sessions_of(&alice, None).unwrap(), 0);
    assert_eq!(store.session_count(), 0);
}

both_sessions!(purge_expired_removes_the_sessions_expired_at_the_time_passed_in);
async fn purge_expired_removes_the_sessions_expired_at_the_time_passed_in(
    s: impl SessionStore,
    store: &dyn Storage,
    time: Time,
) {
    let start = time.now();
    let anon = s.save(state(None), &TTL).await.unwrap();
    let signed = s.save(state(Some("alice")), &TTL).await.unwrap();
    let long = s
        .save(state(None), &CookieDuration::hours(2))
        .await
        .unwrap();
    assert_eq!(store.session_count(), 3);
    // The store's clock is not asked: only the time passed in counts.
    assert_eq!(store.purge_expired(start).unwrap(), 0);
    assert_eq!(
        store
            .purge_expired(start + chrono::Duration::minutes(16))
            .unwrap(),
        2
    );
    assert_eq!(store.session_count(), 1);
    assert!(s.load(&anon).await.unwrap().is_none());
    assert!(s.load(&signed).await.unwrap().is_none());
    assert!(s.load(&long).await.unwrap().is_some());
    assert_eq!(store.end_sessions_of(&name("alice"), None).unwrap(), 0);
    assert_eq!(
        store
            .purge_expired(start + chrono::Duration::hours(3))
            .unwrap(),
        1
    );
    assert_eq!(store.session_count(), 0);
}

both_sessions!(an_expired_session_is_not_loaded_nor_written_back);
async fn an_expired_session_is_not_loaded_nor_written_back(
    s: impl SessionStore,
    store: &dyn Storage,
    time: Time,
) {
    let anon = s.save(state(None), &TTL).await.unwrap();
    let signed = s.save(state(Some("alice")), &TTL).await.unwrap();
    time.advance(chrono::Duration::minutes(16));
    assert!(s.load(&anon).await.unwrap().is_none());
    assert!(s.load(&signed).await.unwrap().is_none());
    for key in [anon, signed] {
        let new_key = s
            .update(copy(&key), state(Some("alice")), &TTL)
            .await
            .unwrap();
        assert_ne!(new_key.as_ref(), key.as_ref());
        assert!(s.load(&key).await.unwrap().is_none());
        let new = s.load(&new_key).await.unwrap().unwrap();
        assert!(!new.contains_key(AUTHENTICATED_KEY));
    }
    assert_eq!(
        store.session_count(),
        4,
        "two expired, not yet purged; two new"
    );
}

both_sessions!(a_users_sessions_are_listed_with_when_each_was_last_seen);
async fn a_users_sessions_are_listed_with_when_each_was_last_seen(
    s: impl SessionStore,
    store: &dyn Storage,
    time: Time,
) {
    let (alice, start) = (name("alice"), time.now());
    let one = s
        .save(state_with_sid(Some("alice"), "one"), &TTL)
        .await
        .unwrap();
    time.advance(chrono::Duration::minutes(5));
    s.save(state_with_sid(Some("alice"), "two"), &TTL)
        .await
        .unwrap();
    s.save(state_with_sid(Some("bob"), "one"), &TTL)
        .await
        .unwrap();
    s.save(state_with_sid(None, "anon"), &TTL).await.unwrap();
    // Signed in, then out again: not alice's any more.
    let gone = s
        .save(state_with_sid(Some("alice"), "out"), &TTL)
        .await
        .unwrap();
    s.update(gone, state_with_sid(None, "out"), &TTL)
        .await
        .unwrap();
    time.advance(chrono::Duration::minutes(1));
    s.update_ttl(&one, &TTL).await.unwrap();

    let mut listed = store.sessions_of(&alice, time.now(), 10).unwrap();
    listed.sort_by(|a, b| a.sid.cmp(&b.sid));
    let sids: Vec<_> = listed.iter().map(|l| l.sid.as_deref()).collect();
    assert_eq!(sids, [Some("one"), Some("two")]);
    let (at6, at5) = (
        start + chrono::Duration::minutes(6),
        start + chrono::Duration::minutes(5),
    );
    let close =
        |a: Option<DateTime<Utc>>, b: DateTime<Utc>| (a.unwrap() - b).num_milliseconds().abs() < 2;
    assert!(close(listed[0].seen_at, at6), "{:?}", listed[0].seen_at);
    assert!(close(listed[1].seen_at, at5), "{:?}", listed[1].seen_at);
    assert!(close(
        Some(listed[0].expires_at),
        at6 + chrono::Duration::minutes(15)
    ));
    let login: serde_json::Value = serde_json::from_str(&listed[0].login).unwrap();
    assert_eq!(login["username"], "alice");
    assert_eq!(store.sessions_of(&alice, time.now(), 1).unwrap().len(), 1);
    assert_eq!(
        store
            .sessions_of(&name("bob"), time.now(), 10)
            .unwrap()
            .len(),
        1
    );
    assert!(store
        .sessions_of(&name("carol"), time.now(), 10)
        .unwrap()
        .is_empty());
    // "two" expires at 20 minutes, "one" at 21: in between only "one" is listed.
    let between = start + chrono::Duration::seconds(20 * 60 + 30);
    let left = store.sessions_of(&alice, between, 10).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].sid.as_deref(), Some("one"));
}

both_sessions!(ending_one_session_by_its_sid_spares_the_others);
async fn ending_one_session_by_its_sid_spares_the_others(
    s: impl SessionStore,
    store: &dyn Storage,
    time: Time,
) {
    let alice = name("alice");
    let a1 = s
        .save(state_with_sid(Some("alice"), "one"), &TTL)
        .await
        .unwrap();
    let a2 = s
        .save(state_with_sid(Some("alice"), "two"), &TTL)
        .await
        .unwrap();
    let b1 = s
        .save(state_with_sid(Some("bob"), "one"), &TTL)
        .await
        .unwrap();
    let anon = s.save(state_with_sid(None, "one"), &TTL).await.unwrap();
    assert!(store.end_session_of(&alice, "one").unwrap());
    assert!(s.load(&a1).await.unwrap().is_none());
    assert!(s.load(&a2).await.unwrap().is_some());
    assert!(s.load(&b1).await.unwrap().is_some(), "another user's");
    assert!(s.load(&anon).await.unwrap().is_some(), "nobody's");
    assert!(
        !store.end_session_of(&alice, "one").unwrap(),
        "ended already"
    );
    assert!(!store.end_session_of(&alice, "none-such").unwrap());
    // A request of the ended session still running cannot revive its login.
    let revived = s
        .update(copy(&a1), state_with_sid(Some("alice"), "one"), &TTL)
        .await
        .unwrap();
    assert!(!s
        .load(&revived)
        .await
        .unwrap()
        .unwrap()
        .contains_key(AUTHENTICATED_KEY));
    // Signed in as bob now: not alice's to end.
    s.update(a2, state_with_sid(Some("bob"), "two"), &TTL)
        .await
        .unwrap();
    assert!(!store.end_session_of(&alice, "two").unwrap());
    assert_eq!(
        store
            .sessions_of(&name("bob"), time.now(), 10)
            .unwrap()
            .len(),
        2
    );
}
