//! No statement may kill the process: statements nested as deep as one likes end in 54001
//! (issue 14, item 6) and the session carries on.

mod common;
#[path = "common/shapes.rs"]
mod shapes;

use phantom::{Database, Session};
use shapes::{PG_CLASS, SETUP, SHAPES, view_chain};

fn session() -> (Database, Session) {
    let db = Database::memory();
    let mut session = db.session();
    session.execute(SETUP).expect("setup");
    (db, session)
}

/// The SQLSTATE of `sql`'s error, or "ok".
fn outcome(session: &mut Session, sql: &str) -> String {
    match session.execute(sql) {
        Ok(_) => "ok".to_string(),
        Err(e) => e.sqlstate().to_string(),
    }
}

/// How much of its stack a fresh thread touched running `f`: the resident part of its
/// stack mapping (Linux), which only grows. The stack is large enough that nothing
/// switches to a segment of its own, and too large for the C library to reuse.
#[cfg(target_os = "linux")]
fn stack_high_water<T: Send>(f: impl FnOnce() -> T + Send) -> (T, usize) {
    const STACK: usize = 1 << 30;
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(STACK)
            .spawn_scoped(scope, || {
                let result = f();
                let here = &result as *const T as usize;
                (result, resident_bytes_of_mapping_at(here))
            })
            .expect("spawn")
            .join()
            .expect("join")
    })
}

/// The `Rss` of the mapping in `/proc/self/smaps` that contains `address`.
#[cfg(target_os = "linux")]
fn resident_bytes_of_mapping_at(address: usize) -> usize {
    let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
    let mut inside = false;
    for line in smaps.lines() {
        let range = line.split_whitespace().next().and_then(|r| r.split_once('-'));
        if let Some((start, end)) = range
            && let (Ok(start), Ok(end)) = (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16))
        {
            inside = (start..end).contains(&address);
            continue;
        }
        if inside && let Some(kb) = line.strip_prefix("Rss:") {
            return kb.trim().trim_end_matches("kB").trim().parse::<usize>().expect("Rss") * 1024;
        }
    }
    panic!("no mapping holds {address:#x}");
}

/// Prints what one more level of each shape costs in stack, preparing (parse and bind)
/// and running; `PHANTOM_MEASURE_STACK=1` to run (the numbers are in docs/ARCHITECTURE.md).
#[cfg(target_os = "linux")]
#[test]
fn measure_stack_per_level() {
    if std::env::var_os("PHANTOM_MEASURE_STACK").is_none() {
        return;
    }
    let (small, large) = (100, 300);
    for shape in SHAPES {
        let measure = |n: usize, run: bool| {
            let (_db, mut session) = session();
            let sql = (shape.sql)(n);
            let (result, bytes) = stack_high_water(|| {
                if run { session.execute(&sql).map(|_| ()) } else { session.prepare(&sql).map(|_| ()) }
            });
            (result.err().map(|e| e.sqlstate().to_string()), bytes)
        };
        let per_level = |run| {
            let (e1, a) = measure(small, run);
            let (e2, b) = measure(large, run);
            match (e1, e2) {
                (None, None) => format!("{:>7}", (b.saturating_sub(a)) / (large - small)),
                (e1, e2) => format!("{e1:?}/{e2:?}"),
            }
        };
        println!(
            "{:<26} prepare {} B/level   execute {} B/level",
            shape.name,
            per_level(false),
            per_level(true)
        );
    }
    let views = |n: usize| {
        let (_db, mut session) = session();
        for sql in view_chain(0, n) {
            session.execute(&sql).expect("view");
        }
        stack_high_water(|| session.execute(&format!("SELECT a FROM v{}", n - 1)).map(|_| ())).1
    };
    let (a, b) = (views(20), views(60));
    println!("{:<26} execute {:>7} B/level", "view chain", (b - a) / 40);
}

/// Runs `f` on a thread with Rust's default stack for spawned threads (2 MiB), as an
/// embedding program might: the session must stay safe there too.
fn on_small_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn_scoped(scope, f)
            .expect("spawn")
            .join()
            .expect("the statement thread panicked")
    })
}

/// Each shape, at sizes doubling from 8, runs until it fails, and then it fails with 54001
/// (never a crash, nor another error); a size close to the largest accepted (found by
/// halving the gap to within a sixteenth) runs too; the session works afterwards. All on
/// a 2 MiB thread stack.
#[test]
fn every_nesting_shape_ends_in_54001_and_the_session_goes_on() {
    on_small_stack(|| {
        let (_db, mut session) = session();
        for shape in SHAPES {
            let started = std::time::Instant::now();
            let mut n = 8;
            let mut last_ok = 0;
            loop {
                let sql = (shape.sql)(n);
                match outcome(&mut session, &sql).as_str() {
                    "ok" => last_ok = n,
                    "54001" => break,
                    other => panic!("{} of {n}: {other} instead of 54001", shape.name),
                }
                assert!(n < 1 << 16, "{}: still accepted at {n}", shape.name);
                n *= 2;
            }
            assert!(last_ok >= 8, "{}: refused even at 8", shape.name);
            // Closer to the largest size accepted (preparing binds without running).
            let (mut ok, mut refused) = (last_ok, n);
            while refused - ok > ok / 16 {
                let mid = (ok + refused) / 2;
                match session.prepare(&(shape.sql)(mid)) {
                    Ok(_) => ok = mid,
                    Err(e) => {
                        assert_eq!(e.sqlstate(), "54001", "{} of {mid}: {e}", shape.name);
                        refused = mid;
                    }
                }
            }
            if ok > last_ok {
                let sql = (shape.sql)(ok);
                assert_eq!(outcome(&mut session, &sql), "ok", "{} of {ok}", shape.name);
            }
            assert_eq!(common::scalar(&mut session, "SELECT 41 + 1"), 42, "after {}", shape.name);
            eprintln!("{}: {ok} accepted, {refused} refused, in {:?}", shape.name, started.elapsed());
        }
    });
}

/// A chain of views, each reading the one before, grows until CREATE VIEW is refused with
/// 54001 (under a lowered `phantom.max_depth`, so the chain stays short); the last view
/// can be read, and `pg_class` (which binds every view: a stored chain of 450 used to
/// kill the server on every `\dt`) answers, here and in another session. In a session
/// whose limit is lower than the chain is deep, the chain reads as 54001 and `pg_class`
/// still answers.
#[test]
fn a_chain_of_views_ends_in_54001_and_pg_class_still_answers() {
    on_small_stack(|| {
        let (db, mut session) = session();
        session.execute("SET phantom.max_depth = 120").expect("set");
        let mut created = 0;
        loop {
            let sql = view_chain(created, created + 1).remove(0);
            match outcome(&mut session, &sql).as_str() {
                "ok" => created += 1,
                "54001" => break,
                other => panic!("view {created}: {other} instead of 54001"),
            }
            assert!(created < 120, "still creating views at {created}");
        }
        assert!(created >= 20, "only {created} views");
        let last = format!("SELECT a FROM v{}", created - 1);
        assert_eq!(common::scalar(&mut session, &last), 1);
        assert_eq!(common::scalar(&mut session, PG_CLASS), created as i64 + 1);
        let mut other = db.session();
        let views = "SELECT count(*) FROM pg_class WHERE relkind = 'v'";
        assert_eq!(common::scalar(&mut other, views), created as i64);
        assert_eq!(common::scalar(&mut other, &last), 1);
        other.execute("SET phantom.max_depth = 30").expect("set");
        assert_eq!(common::sqlstate(&mut other, &last), "54001");
        assert_eq!(common::scalar(&mut other, views), created as i64);
        assert!(common::scalar(&mut other, "SELECT count(*) FROM pg_attribute") > 0);
        other.execute("RESET phantom.max_depth").expect("reset");
        assert_eq!(common::scalar(&mut other, &last), 1);
    });
}
