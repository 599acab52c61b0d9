//! SERIALIZABLE against a model: random small transactions, interleaved at random, must
//! leave a history that some serial order of the committed ones explains.
//!
//! Each transaction reads and writes a few of four keys (or scans them all); every value
//! it writes is derived from everything it has read so far, so a transaction that saw a
//! different state writes different values. The schedule interleaves the transactions'
//! operations on one thread. A write that would have to wait for another transaction's
//! lock gives up after a short `lock_timeout` and the transaction aborts, as does one that
//! fails with 40001: aborts are always allowed. Then, for the transactions that committed,
//! some permutation run serially from the initial state must produce exactly the reads
//! each of them saw and the final state of the store.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::time::Duration;

use phantom_txn::locks::ESCALATION_THRESHOLD;
use phantom_txn::{Isolation, KeyspaceId, MvccStore, Transaction, TxnError, TxnOptions};
use proptest::prelude::*;

const KEYS: u8 = 4;

#[derive(Clone, Debug)]
enum Op {
    Read(u8),
    Scan,
    /// Write key := salt + sum of everything read so far.
    Write(u8, u64),
}

type State = BTreeMap<u8, u64>;

/// What a transaction observed, in order: one entry per read, a whole map per scan.
type Observed = Vec<Vec<(u8, u64)>>;

/// Runs `ops` serially against `state` (the model).
fn run_model(ops: &[Op], state: &mut State) -> Observed {
    let mut seen = Vec::new();
    let mut sum = 0u64;
    for op in ops {
        match op {
            Op::Read(k) => {
                let v = state.get(k).copied().unwrap_or(0);
                sum = sum.wrapping_add(v);
                seen.push(vec![(*k, v)]);
            }
            Op::Scan => {
                let all: Vec<(u8, u64)> = state.iter().map(|(k, v)| (*k, *v)).collect();
                sum = all.iter().fold(sum, |s, (_, v)| s.wrapping_add(*v));
                seen.push(all);
            }
            Op::Write(k, salt) => {
                state.insert(*k, salt.wrapping_add(sum));
            }
        }
    }
    seen
}

struct Live {
    txn: Transaction,
    next: usize,
    sum: u64,
    seen: Observed,
    failed: bool,
}

fn value(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes.try_into().unwrap_or([0; 8]))
}

/// One operation of transaction `live`; an error means it must abort.
fn step(live: &mut Live, ks: KeyspaceId, op: &Op) -> Result<(), TxnError> {
    match op {
        Op::Read(k) => {
            let v = live.txn.get(ks, &[*k])?.map_or(0, |b| value(&b));
            live.sum = live.sum.wrapping_add(v);
            live.seen.push(vec![(*k, v)]);
        }
        Op::Scan => {
            let mut all = Vec::new();
            for entry in live.txn.scan(ks, (Bound::Unbounded, Bound::Unbounded), false)? {
                let (k, v) = entry?;
                all.push((k[0], value(&v)));
            }
            live.sum = all.iter().fold(live.sum, |s, (_, v)| s.wrapping_add(*v));
            live.seen.push(all);
        }
        Op::Write(k, salt) => {
            live.txn.put(ks, &[*k], salt.wrapping_add(live.sum).to_le_bytes().to_vec())?;
        }
    }
    Ok(())
}

fn permutations(items: &[usize]) -> Vec<Vec<usize>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut p in permutations(&rest) {
            p.insert(0, first);
            out.push(p);
        }
    }
    out
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..KEYS).prop_map(Op::Read),
        Just(Op::Scan),
        (0..KEYS, 1..1000u64).prop_map(|(k, s)| Op::Write(k, s)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn committed_serializable_transactions_have_a_serial_order(
        programs in prop::collection::vec(prop::collection::vec(op_strategy(), 1..5), 2..4),
        schedule in prop::collection::vec(0..3usize, 0..24),
        initial in prop::collection::btree_map(0..KEYS, 1..100u64, 0..4),
        // Half the runs escalate to a keyspace lock after 0, 1 or 2 row locks.
        escalation in 0..6usize,
    ) {
        let store = MvccStore::memory();
        let setup = store.begin();
        let ks = setup.create_keyspace(None).expect("keyspace").0;
        for (k, v) in &initial {
            setup.put(ks, &[*k], v.to_le_bytes().to_vec()).expect("put");
        }
        setup.commit().expect("setup");
        let options = TxnOptions {
            isolation: Isolation::Serializable,
            lock_timeout: Some(Duration::from_millis(5)),
            escalation_threshold: if escalation < 3 { escalation } else { ESCALATION_THRESHOLD },
            ..TxnOptions::default()
        };
        let mut live: Vec<Live> = programs
            .iter()
            .map(|_| Live { txn: store.begin_with(options.clone()), next: 0, sum: 0, seen: Vec::new(), failed: false })
            .collect();
        // Interleave: the schedule first, then whatever is left, in order.
        let mut order: Vec<usize> = schedule.iter().map(|i| i % programs.len()).collect();
        for (i, p) in programs.iter().enumerate() {
            order.extend(std::iter::repeat_n(i, p.len()));
        }
        for i in order {
            let l = &mut live[i];
            if l.failed || l.next >= programs[i].len() {
                continue;
            }
            let op = programs[i][l.next].clone();
            l.next += 1;
            // Each operation is a statement: it sees the transaction's earlier writes.
            l.txn.next_command();
            if step(l, ks, &op).is_err() {
                l.failed = true;
                l.txn.rollback().expect("rollback");
            }
        }
        let mut committed = Vec::new();
        for (i, l) in live.iter_mut().enumerate() {
            if l.failed {
                continue;
            }
            match l.txn.commit() {
                Ok(_) => committed.push(i),
                Err(TxnError::Serialization(_) | TxnError::WriteConflict) => {}
                Err(e) => panic!("unexpected commit error: {e}"),
            }
        }
        let check = store.begin();
        let mut actual = State::new();
        for entry in check.scan(ks, (Bound::Unbounded, Bound::Unbounded), false).expect("scan") {
            let (k, v) = entry.expect("entry");
            actual.insert(k[0], value(&v));
        }
        let explained = permutations(&committed).into_iter().any(|order| {
            let mut state = initial.clone();
            order.iter().all(|&i| run_model(&programs[i], &mut state) == live[i].seen) && state == actual
        });
        prop_assert!(
            explained,
            "no serial order of {committed:?} explains the history: final {actual:?}, reads {:?}",
            live.iter().map(|l| &l.seen).collect::<Vec<_>>()
        );
    }
}
