//! The sled internals of the sessions: the index, the in-memory table, spill. Their behaviour
//! is tested on both backends in `store/suite/sessions.rs`.

use super::*;
use crate::store::suite::sessions::{state, state_with_sid};
use crate::store::SessionStore as _;

/// A time the tests move by hand.
#[derive(Clone)]
struct Time(Arc<std::sync::Mutex<DateTime<Utc>>>);

impl Time {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }

    fn advance(&self, by: chrono::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

fn sessions_at() -> (SledSessionStore, Time) {
    let time = Time(Arc::new(std::sync::Mutex::new(Utc::now())));
    let now = time.clone();
    let store = SledSessionStore::new(SledStore::temporary(), Arc::new(move || now.now()));
    (store, time)
}

fn sessions() -> SledSessionStore {
    sessions_at().0
}

const TTL: CookieDuration = CookieDuration::minutes(15);

/// The index holds an entry exactly while a session holds a login (the behaviour this
/// serves, `end_sessions_of`, is tested on both backends in `store/suite/sessions.rs`).
#[tokio::test]
async fn the_index_holds_an_entry_only_while_its_session_holds_a_login() {
    let (s, time) = sessions_at();
    let key = s.save(state(None), &TTL).await.unwrap();
    assert!(s.store.sessions_by_user.is_empty());
    let key = s.update(key, state(Some("alice")), &TTL).await.unwrap();
    assert_eq!(s.store.sessions_by_user.len(), 1);
    let key = s.update(key, state(None), &TTL).await.unwrap();
    assert!(s.store.sessions_by_user.is_empty());
    let key = s.update(key, state(Some("alice")), &TTL).await.unwrap();
    s.delete(&key).await.unwrap();
    assert!(s.store.sessions_by_user.is_empty());
    s.save(state(Some("alice")), &TTL).await.unwrap();
    time.advance(chrono::Duration::hours(1));
    assert_eq!(s.store.purge_sessions(time.now()).unwrap(), 1);
    assert!(s.store.sessions_by_user.is_empty());
    let alice = Username::parse("alice").unwrap();
    s.store.end_sessions_of(&alice, Some("abc")).unwrap();
    let b = s.save(state(Some("bob")), &TTL).await.unwrap();
    s.save(state_with_sid(Some("bob"), "other"), &TTL)
        .await
        .unwrap();
    let bob = Username::parse("bob").unwrap();
    assert_eq!(s.store.end_sessions_of(&bob, Some("other")).unwrap(), 1);
    assert_eq!(
        s.store.sessions_by_user.len(),
        1,
        "the spared session's entry"
    );
    assert!(s.load(&b).await.unwrap().is_none());
}

/// What a crash between a session's two writes can leave: an index entry naming a user the
/// session no longer holds (or a session that is gone). Ending that user's sessions spares
/// the session and drops the entry.
#[tokio::test]
async fn a_stale_index_entry_never_ends_another_users_session() {
    let s = sessions();
    let (alice, bob) = (
        Username::parse("alice").unwrap(),
        Username::parse("bob").unwrap(),
    );
    let key = s.save(state(Some("bob")), &TTL).await.unwrap();
    let gone = s.save(state(Some("alice")), &TTL).await.unwrap();
    s.store
        .sessions
        .remove(gone.as_ref().as_bytes())
        .unwrap()
        .unwrap();
    s.store
        .sessions_by_user
        .insert(index_key(&alice, key.as_ref()), &[])
        .unwrap();
    assert_eq!(s.store.sessions_by_user.len(), 3);
    assert_eq!(s.store.end_sessions_of(&alice, None).unwrap(), 0);
    assert!(s.load(&key).await.unwrap().is_some(), "bob stays signed in");
    assert_eq!(
        s.store.sessions_by_user.len(),
        1,
        "alice's entries are gone"
    );
    assert_eq!(s.store.end_sessions_of(&bob, None).unwrap(), 1);
}

fn in_tree(s: &SledSessionStore, key: &SessionKey) -> bool {
    s.store.sessions.contains_key(key.as_ref()).unwrap()
}

fn in_memory(s: &SledSessionStore, key: &SessionKey) -> bool {
    s.store.session_table.contains(key.as_ref())
}

#[tokio::test]
async fn a_session_nobody_is_signed_in_to_is_kept_in_memory_until_it_signs_in() {
    let s = sessions();
    let key = s.save(state(None), &TTL).await.unwrap();
    assert!(in_memory(&s, &key) && !in_tree(&s, &key));
    let mut changed = state(None);
    changed.insert("step".into(), "\"2\"".into());
    let key = s.update(key, changed.clone(), &TTL).await.unwrap();
    assert_eq!(s.load(&key).await.unwrap().unwrap(), changed);
    assert!(!in_tree(&s, &key));
    assert_eq!(s.store.session_count(), 1);
    // Signing in moves it to the tree (and its index), under the same key.
    let old = key.as_ref().to_owned();
    let key = s.update(key, state(Some("alice")), &TTL).await.unwrap();
    assert_eq!(key.as_ref(), old);
    assert!(in_tree(&s, &key) && !in_memory(&s, &key));
    assert_eq!(s.store.sessions_by_user.len(), 1);
    // Signed out, it stays in the tree.
    let key = s.update(key, state(None), &TTL).await.unwrap();
    assert!(in_tree(&s, &key) && !in_memory(&s, &key));
    assert!(s.store.sessions_by_user.is_empty());
    assert_eq!(s.store.session_count(), 1);
}

#[tokio::test]
async fn sessions_go_to_the_tree_when_memory_is_full() {
    let (s, _) = sessions_at();
    let store = SledStore {
        session_table: Arc::new(Volatile::new(1, 1 << 20)),
        ..s.store.clone()
    };
    let s = SledSessionStore::new(store, s.now.clone());
    let first = s.save(state(None), &TTL).await.unwrap();
    let second = s.save(state(None), &TTL).await.unwrap();
    assert!(in_memory(&s, &first) && !in_tree(&s, &first));
    assert!(in_tree(&s, &second) && !in_memory(&s, &second));
    for key in [first, second] {
        let key = s
            .update(key, state_with_sid(None, "x"), &TTL)
            .await
            .unwrap();
        assert!(s.load(&key).await.unwrap().is_some());
        s.delete(&key).await.unwrap();
        assert!(s.load(&key).await.unwrap().is_none());
    }
    assert_eq!(s.store.session_count(), 0);
}

#[tokio::test]
async fn a_graceful_shutdown_keeps_the_sessions_in_memory_for_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let now: Now = Arc::new(Utc::now);
    let key = {
        let s = SledSessionStore::new(SledStore::open(dir.path()).unwrap(), now.clone());
        let key = s.save(state_with_sid(None, "kept"), &TTL).await.unwrap();
        crate::store::Storage::flush(&s.store).unwrap();
        key
    };
    let s = SledSessionStore::new(SledStore::open(dir.path()).unwrap(), now);
    assert_eq!(
        s.load(&key).await.unwrap().unwrap(),
        state_with_sid(None, "kept")
    );
}
