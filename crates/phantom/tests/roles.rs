//! Roles across a restart, and the embedded API the server logs clients in with:
//! `Database::role` (a role and its password verifier) and `Session::set_user`.

mod common;

use common::{sqlstate, texts};
use phantom::scram::Verifier;
use phantom::{BOOTSTRAP_ROLE, Database};

/// The password `role` was given, checked against its stored verifier.
fn password_is(db: &Database, role: &str, password: &str) -> bool {
    let role = db.role(role).expect("lookup").expect("role exists");
    let verifier = Verifier::parse(role.password.as_deref().expect("a password")).expect("a verifier");
    Verifier::with_salt(password, &verifier.salt, verifier.iterations) == verifier
}

#[test]
fn roles_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let oid_before;
    {
        let db = Database::open(dir.path()).expect("open");
        let mut s = db.session();
        s.execute(
            "CREATE USER alice PASSWORD 'wonderland';
             CREATE ROLE bob SUPERUSER;
             CREATE ROLE carol LOGIN PASSWORD 'first';
             ALTER ROLE carol PASSWORD 'second';
             CREATE ROLE dave;
             ALTER ROLE dave RENAME TO dan;
             CREATE ROLE gone;
             DROP ROLE gone;
             ALTER ROLE phantom PASSWORD 'root';",
        )
        .expect("setup");
        s.execute("BEGIN; CREATE ROLE never; ROLLBACK").expect("rolled back");
        oid_before = texts(&mut s, "SELECT oid::text FROM pg_roles WHERE rolname = 'dan'");
        assert!(password_is(&db, "carol", "second"));
    }
    let db = Database::open(dir.path()).expect("reopen");
    let mut s = db.session();
    assert_eq!(
        texts(&mut s, "SELECT rolname FROM pg_roles ORDER BY rolname"),
        ["alice", "bob", "carol", "dan", "phantom"]
    );
    assert_eq!(texts(&mut s, "SELECT oid::text FROM pg_roles WHERE rolname = 'dan'"), oid_before);
    assert_eq!(
        texts(&mut s, "SELECT rolname FROM pg_roles WHERE rolsuper ORDER BY rolname"),
        ["bob", "phantom"]
    );
    assert_eq!(texts(&mut s, "SELECT usename FROM pg_user ORDER BY usename"), ["alice", "carol", "phantom"]);

    let alice = db.role("alice").expect("lookup").expect("alice");
    assert!(alice.login && !alice.superuser);
    assert!(password_is(&db, "alice", "wonderland"));
    assert!(!password_is(&db, "alice", "Wonderland"));
    assert!(password_is(&db, "carol", "second"));
    assert!(!password_is(&db, "carol", "first"));
    assert!(password_is(&db, BOOTSTRAP_ROLE, "root"));
    assert_eq!(db.role("dan").expect("lookup").map(|r| (r.login, r.password)), Some((false, None)));
    for missing in ["dave", "gone", "never"] {
        assert!(db.role(missing).expect("lookup").is_none(), "{missing}");
    }
    assert_eq!(sqlstate(&mut s, "CREATE ROLE alice"), "42710");
}

/// A session set to run as a role reports it everywhere PostgreSQL does, and may not
/// drop or rename it; the bootstrap superuser stays protected from other roles too.
#[test]
fn sessions_run_as_the_role_they_are_given() {
    let db = Database::memory();
    let mut admin = db.session();
    admin.execute("CREATE USER alice PASSWORD 'x'; CREATE ROLE bob").expect("setup");
    let mut s = db.session();
    s.set_user("alice", false);
    assert_eq!(texts(&mut s, "SELECT current_user"), ["alice"]);
    assert_eq!(texts(&mut s, "SELECT session_user"), ["alice"]);
    assert_eq!(texts(&mut s, "SHOW session_authorization"), ["alice"]);
    assert_eq!(texts(&mut s, "SHOW is_superuser"), ["off"]);
    assert_eq!(texts(&mut s, "SELECT setting FROM pg_settings WHERE name = 'is_superuser'"), ["off"]);
    // pg_authid holds the verifiers: superusers only.
    assert_eq!(sqlstate(&mut s, "SELECT * FROM pg_authid"), "42501");
    assert_eq!(texts(&mut admin, "SELECT rolname FROM pg_authid WHERE rolname = 'alice'"), ["alice"]);

    // Without CREATEROLE alice may change her own password and nothing else.
    assert_eq!(sqlstate(&mut s, "DROP ROLE alice"), "42501");
    assert_eq!(sqlstate(&mut s, "ALTER ROLE alice RENAME TO alicia"), "0A000");
    assert_eq!(sqlstate(&mut s, "DROP ROLE phantom"), "42501");
    assert_eq!(sqlstate(&mut s, "ALTER ROLE phantom RENAME TO root"), "0A000");
    s.execute("ALTER ROLE CURRENT_USER PASSWORD 'y'").expect("own password");
    assert!(password_is(&db, "alice", "y"));
    assert_eq!(sqlstate(&mut s, "DROP ROLE bob"), "42501");
    assert!(db.role("bob").expect("lookup").is_some());

    // A session's powers are its role's as each statement finds it: CREATEROLE given
    // by another session counts at alice's next statement, and so does taking it away.
    admin.execute("ALTER ROLE alice CREATEROLE").expect("grant createrole");
    s.execute("DROP ROLE bob").expect("with CREATEROLE");
    assert_eq!(sqlstate(&mut s, "DROP ROLE alice"), "55006");
    admin.execute("ALTER ROLE alice NOCREATEROLE").expect("take it back");
    assert_eq!(sqlstate(&mut s, "CREATE ROLE carol"), "42501");
    admin.execute("DROP ROLE alice").expect("dropped by someone else");
    assert!(db.role("alice").expect("lookup").is_none());
}

/// The escalations of issue 14, one by one, as a role with no attributes: none works,
/// and the bootstrap superuser's password and the verifiers stay out of reach.
#[test]
fn an_ordinary_role_cannot_make_itself_more() {
    let db = Database::memory();
    let mut admin = db.session();
    admin.execute("ALTER ROLE phantom PASSWORD 'root'; CREATE USER alice PASSWORD 'a'").expect("setup");
    let mut alice = db.session();
    alice.set_user("alice", false);
    for escalation in [
        "ALTER ROLE alice SUPERUSER",
        "ALTER ROLE CURRENT_USER CREATEROLE",
        "CREATE ROLE mallory SUPERUSER",
        "CREATE ROLE mallory",
        "ALTER ROLE phantom PASSWORD 'mine'",
        "ALTER USER phantom WITH PASSWORD 'mine' LOGIN",
        "SELECT rolpassword FROM pg_authid",
        "SELECT rolpassword FROM pg_catalog.pg_authid WHERE rolname = 'phantom'",
        "SET ROLE phantom",
        "SET SESSION AUTHORIZATION phantom",
        "SELECT set_config('role', 'phantom', false)",
    ] {
        assert_eq!(sqlstate(&mut alice, escalation), "42501", "{escalation}");
    }
    assert!(password_is(&db, BOOTSTRAP_ROLE, "root"));
    assert_eq!(texts(&mut alice, "SELECT current_user"), ["alice"]);
    assert!(db.role("mallory").expect("lookup").is_none());
    let role = db.role("alice").expect("lookup").expect("alice");
    assert!(!role.superuser && !role.create_role);
    assert_eq!(texts(&mut alice, "SELECT rolpassword FROM pg_roles WHERE rolname = 'phantom'"), ["********"]);
}

/// Owners and privileges are catalog entries: they survive a reopen, a rolled-back GRANT
/// never happened, and after the reopen they are enforced as before.
#[test]
fn privileges_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = Database::open(dir.path()).expect("open");
        let mut s = db.session();
        s.execute(
            "CREATE ROLE alice; CREATE ROLE bob;
             CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1);
             CREATE TABLE owned (id SERIAL PRIMARY KEY);
             CREATE SCHEMA app AUTHORIZATION alice;
             GRANT SELECT ON t TO alice WITH GRANT OPTION;
             GRANT CREATE ON SCHEMA public TO bob;
             ALTER TABLE owned OWNER TO bob;",
        )
        .expect("setup");
        s.execute("BEGIN; GRANT DELETE ON t TO bob; REVOKE SELECT ON t FROM alice; ROLLBACK")
            .expect("rolled back");
    }
    let db = Database::open(dir.path()).expect("reopen");
    let mut s = db.session();
    assert_eq!(
        texts(
            &mut s,
            "SELECT relname || ' ' || pg_get_userbyid(relowner) || ' ' || coalesce(relacl, '-') FROM pg_class WHERE relname IN ('t', 'owned', 'owned_id_seq') ORDER BY 1"
        ),
        ["owned bob -", "owned_id_seq bob -", "t phantom {phantom=arwdDxt/phantom,alice=r*/phantom}"]
    );
    assert_eq!(
        texts(
            &mut s,
            "SELECT nspname || ' ' || pg_get_userbyid(nspowner) || ' ' || coalesce(nspacl, '-') FROM pg_namespace WHERE nspname IN ('app', 'public') ORDER BY 1"
        ),
        ["app alice -", "public phantom {phantom=UC/phantom,=U/phantom,bob=C/phantom}"]
    );
    let mut alice = db.session();
    alice.set_user("alice", false);
    assert_eq!(texts(&mut alice, "SELECT id::text FROM t"), ["1"]);
    assert_eq!(sqlstate(&mut alice, "DELETE FROM t"), "42501");
    let mut bob = db.session();
    bob.set_user("bob", false);
    assert_eq!(sqlstate(&mut bob, "DELETE FROM t"), "42501");
    bob.execute("INSERT INTO owned DEFAULT VALUES; CREATE TABLE bobs (n INT)").expect("bob's own");
    assert_eq!(sqlstate(&mut bob, "CREATE TABLE app.bobs (n INT)"), "42501");
}
