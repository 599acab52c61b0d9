//! Sequence values: `nextval`, `currval`, `setval` and `lastval`.
//!
//! A sequence hands out values outside transactions, as PostgreSQL's do: a value taken by
//! a transaction that rolls back is gone, so two transactions never wait for each other
//! to learn whether a value was used. Each sequence's state (last value, and whether it
//! was handed out) is one entry in the sequence's own keyspace, written by a short
//! transaction of its own that commits at once; the catalog keyspace is left alone, so
//! `nextval` does not invalidate every session's cached catalog.
//!
//! Committing once per value would cost a log flush per insert, so like PostgreSQL we
//! log ahead: the stored state claims [`LOG_AHEAD`] values beyond the one handed out,
//! and the next 32 calls only touch memory. After a crash the sequence continues after
//! the claimed values, leaving a gap (never a repeat); a clean close stores the exact
//! state, so a clean restart leaves none. One mutex per sequence serializes
//! its callers; the in-memory state lives as long as the instance.
//!
//! A sequence created by a transaction that has not committed is invisible to the
//! short transactions, so its state is written through the creating transaction instead
//! (and vanishes with it on rollback, together with the sequence). A statement does not
//! see its own writes, so memory keeps that state too, by keyspace: only the creating
//! transaction can name the keyspace, and keyspace ids are never reused.
//!
//! `currval` and `lastval` are per session: [`SessionSequences`] remembers the values
//! this session's `nextval` calls returned.

pub mod ddl;

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use phantom_txn::{KeyspaceId, MvccStore, Transaction};

use crate::catalog::{Catalog, SequenceDef};
use crate::error::{Error, Result, SqlState};
use crate::planner::expr::{SequenceAccess, SequenceFunction};
use crate::types::Value;

/// How many values one durable write of a sequence's state covers.
const LOG_AHEAD: u32 = 32;

/// The key of the state entry in a sequence's keyspace.
const STATE_KEY: &[u8] = b"state";

/// A sequence's state as memory holds it.
#[derive(Clone, Copy, Debug)]
struct State {
    /// The last value handed out (or, when not `is_called`, the next one to hand out).
    last: i64,
    is_called: bool,
    /// How many more values the stored state already covers.
    logged_ahead: u32,
}

/// The state of every sequence in use, shared by all sessions of an instance.
pub struct SequenceStates {
    store: MvccStore,
    catalog: Arc<Catalog>,
    states: Mutex<HashMap<KeyspaceId, Arc<Mutex<State>>>>,
    /// The state of sequences not committed yet, as their creating transaction wrote it.
    uncommitted: Mutex<HashMap<KeyspaceId, (i64, bool)>>,
}

fn encode(last: i64, is_called: bool) -> Vec<u8> {
    let mut bytes = last.to_be_bytes().to_vec();
    bytes.push(u8::from(is_called));
    bytes
}

fn decode(bytes: &[u8]) -> Result<(i64, bool)> {
    match bytes {
        [value @ .., called] if value.len() == 8 => {
            let mut last = [0; 8];
            last.copy_from_slice(value);
            Ok((i64::from_be_bytes(last), *called != 0))
        }
        _ => Err(Error::new(SqlState::DataCorrupted, "corrupt sequence state")),
    }
}

/// The stored state of `def` as `txn` sees it; a sequence never used starts at START.
fn read(txn: &Transaction, def: &SequenceDef) -> Result<(i64, bool)> {
    match txn.get(def.keyspace, STATE_KEY)? {
        Some(bytes) => decode(&bytes),
        None => Ok((def.start, false)),
    }
}

/// The value after `last` (or `last` itself when it was not handed out yet).
fn step(def: &SequenceDef, last: i64, is_called: bool) -> Result<i64> {
    if !is_called {
        return Ok(last);
    }
    let next = last.checked_add(def.increment);
    if def.increment > 0 {
        match next {
            Some(n) if n <= def.max_value => Ok(n),
            _ if def.cycle => Ok(def.min_value),
            _ => Err(Error::new(
                SqlState::SequenceGeneratorLimitExceeded,
                format!("nextval: reached maximum value of sequence \"{}\" ({})", def.name, def.max_value),
            )),
        }
    } else {
        match next {
            Some(n) if n >= def.min_value => Ok(n),
            _ if def.cycle => Ok(def.max_value),
            _ => Err(Error::new(
                SqlState::SequenceGeneratorLimitExceeded,
                format!("nextval: reached minimum value of sequence \"{}\" ({})", def.name, def.min_value),
            )),
        }
    }
}

impl SequenceStates {
    /// No sequence loaded yet.
    pub fn new(store: MvccStore, catalog: Arc<Catalog>) -> Self {
        SequenceStates { store, catalog, states: Mutex::default(), uncommitted: Mutex::default() }
    }

    /// The shared state of `def`, loaded on first use; `None` while the sequence is only
    /// visible to the transaction creating it.
    fn shared(&self, def: &SequenceDef) -> Result<Option<Arc<Mutex<State>>>> {
        let mut states = self.states.lock();
        if let Some(state) = states.get(&def.keyspace) {
            return Ok(Some(state.clone()));
        }
        let txn = self.store.begin();
        let committed = self.catalog.sequence(&txn, &def.schema, &def.name)?;
        let loaded = match committed {
            Some(c) if c.keyspace == def.keyspace => Some(read(&txn, def)?),
            _ => None,
        };
        txn.rollback()?;
        Ok(loaded.map(|(last, is_called)| {
            self.uncommitted.lock().remove(&def.keyspace);
            let state = Arc::new(Mutex::new(State { last, is_called, logged_ahead: 0 }));
            states.insert(def.keyspace, state.clone());
            state
        }))
    }

    /// Writes the state of `def` in a transaction of its own.
    fn persist(&self, def: &SequenceDef, last: i64, is_called: bool) -> Result<()> {
        let txn = self.store.begin();
        let written = txn.put(def.keyspace, STATE_KEY, encode(last, is_called));
        if let Err(e) = written {
            txn.rollback()?;
            return Err(e.into());
        }
        txn.commit()?;
        Ok(())
    }

    /// `nextval`: the next value of `def`, durable before it is returned.
    pub fn next(&self, def: &SequenceDef, txn: &Transaction) -> Result<i64> {
        let Some(state) = self.shared(def)? else {
            let mut uncommitted = self.uncommitted.lock();
            let (last, is_called) = match uncommitted.get(&def.keyspace) {
                Some(state) => *state,
                None => read(txn, def)?,
            };
            let value = step(def, last, is_called)?;
            txn.put(def.keyspace, STATE_KEY, encode(value, true))?;
            uncommitted.insert(def.keyspace, (value, true));
            return Ok(value);
        };
        let mut state = state.lock();
        let value = step(def, state.last, state.is_called)?;
        if state.logged_ahead == 0 {
            let (mut ahead, mut covered) = (value, 0);
            while covered < LOG_AHEAD {
                match step(def, ahead, true) {
                    Ok(n) => ahead = n,
                    Err(_) => break,
                }
                covered += 1;
            }
            self.persist(def, ahead, true)?;
            state.logged_ahead = covered;
        } else {
            state.logged_ahead -= 1;
        }
        state.last = value;
        state.is_called = true;
        Ok(value)
    }

    /// `setval` and `ALTER SEQUENCE ... RESTART`: the state becomes `(value, is_called)`.
    pub fn set(&self, def: &SequenceDef, txn: &Transaction, value: i64, is_called: bool) -> Result<()> {
        if value < def.min_value || value > def.max_value {
            return Err(Error::new(
                SqlState::NumericValueOutOfRange,
                format!(
                    "setval: value {value} is out of bounds for sequence \"{}\" ({}..{})",
                    def.name, def.min_value, def.max_value
                ),
            ));
        }
        let Some(state) = self.shared(def)? else {
            txn.put(def.keyspace, STATE_KEY, encode(value, is_called))?;
            self.uncommitted.lock().insert(def.keyspace, (value, is_called));
            return Ok(());
        };
        let mut state = state.lock();
        self.persist(def, value, is_called)?;
        *state = State { last: value, is_called, logged_ahead: 0 };
        Ok(())
    }

    /// After ALTER SEQUENCE: values are claimed again under the new rules.
    pub fn changed(&self, def: &SequenceDef) {
        if let Some(state) = self.states.lock().get(&def.keyspace) {
            state.lock().logged_ahead = 0;
        }
    }

    /// Forgets the state of a dropped sequence.
    pub fn forget(&self, keyspace: KeyspaceId) {
        self.states.lock().remove(&keyspace);
        self.uncommitted.lock().remove(&keyspace);
    }
}

/// A clean close stores each sequence's exact state, so after a clean restart the values
/// claimed ahead are not skipped (only a crash leaves that gap, as in PostgreSQL). Best
/// effort: if it cannot be written, the claimed state stays, which is just as safe.
impl Drop for SequenceStates {
    fn drop(&mut self) {
        let states: Vec<_> = self.states.lock().drain().collect();
        if states.is_empty() {
            return;
        }
        let txn = self.store.begin();
        for (keyspace, state) in states {
            let state = *state.lock();
            if state.logged_ahead > 0
                && txn.put(keyspace, STATE_KEY, encode(state.last, state.is_called)).is_err()
            {
                let _ = txn.rollback();
                return;
            }
        }
        let _ = txn.commit();
    }
}

/// What one session's sequence calls remember: for `currval` the last value `nextval`
/// gave it per sequence, for `lastval` the last value overall and its sequence (which
/// `lastval` checks still exists, as PostgreSQL does).
pub struct SessionSequences {
    states: Arc<SequenceStates>,
    current: Mutex<(HashMap<KeyspaceId, i64>, Option<LastValue>)>,
}

/// What `lastval` answers: the sequence and the value.
type LastValue = (KeyspaceId, i64);

impl SessionSequences {
    /// A session that has called no sequence function yet.
    pub fn new(states: Arc<SequenceStates>) -> Self {
        SessionSequences { states, current: Mutex::new((HashMap::new(), None)) }
    }

    /// `DISCARD SEQUENCES` (and `DISCARD ALL`): forgets every value, so `currval` and
    /// `lastval` are undefined again.
    pub fn discard(&self) {
        *self.current.lock() = (HashMap::new(), None);
    }

    /// Gives sequence functions access to this session within `txn`.
    pub fn access(self: &Arc<Self>, txn: &Transaction) -> Arc<dyn SequenceAccess> {
        Arc::new(Access { session: self.clone(), txn: txn.clone() })
    }
}

/// The sequence functions of one statement.
struct Access {
    session: Arc<SessionSequences>,
    txn: Transaction,
}

impl SequenceAccess for Access {
    fn call(&self, function: SequenceFunction, def: Option<&SequenceDef>, args: &[Value]) -> Result<Value> {
        let missing = || Error::new(SqlState::InternalError, "a sequence function without its sequence");
        let session = &self.session;
        match function {
            SequenceFunction::Nextval => {
                let def = def.ok_or_else(missing)?;
                let value = session.states.next(def, &self.txn)?;
                let mut current = session.current.lock();
                current.0.insert(def.keyspace, value);
                current.1 = Some((def.keyspace, value));
                Ok(Value::Int(value))
            }
            SequenceFunction::Currval => {
                let def = def.ok_or_else(missing)?;
                match session.current.lock().0.get(&def.keyspace) {
                    Some(value) => Ok(Value::Int(*value)),
                    None => Err(Error::new(
                        SqlState::ObjectNotInPrerequisiteState,
                        format!("currval of sequence \"{}\" is not yet defined in this session", def.name),
                    )),
                }
            }
            SequenceFunction::Lastval => {
                let undefined = || {
                    Error::new(
                        SqlState::ObjectNotInPrerequisiteState,
                        "lastval is not yet defined in this session",
                    )
                };
                let Some((keyspace, value)) = session.current.lock().1 else { return Err(undefined()) };
                // The sequence may have been dropped since (by any session).
                let exists =
                    session.states.catalog.sequences(&self.txn)?.iter().any(|s| s.keyspace == keyspace);
                if exists { Ok(Value::Int(value)) } else { Err(undefined()) }
            }
            SequenceFunction::Setval => {
                let def = def.ok_or_else(missing)?;
                let value = match args.first() {
                    Some(Value::Int(v)) => *v,
                    // setval is strict: a NULL argument makes the call NULL.
                    _ => return Ok(Value::Null),
                };
                let is_called = match args.get(1) {
                    None => true,
                    Some(Value::Boolean(b)) => *b,
                    Some(_) => return Ok(Value::Null),
                };
                session.states.set(def, &self.txn, value, is_called)?;
                if is_called {
                    session.current.lock().0.insert(def.keyspace, value);
                }
                Ok(Value::Int(value))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::DataType;

    fn def(increment: i64, min_value: i64, max_value: i64, cycle: bool) -> SequenceDef {
        SequenceDef {
            schema: "public".into(),
            name: "s".into(),
            keyspace: 1,
            data_type: DataType::BigInt,
            increment,
            min_value,
            max_value,
            start: if increment > 0 { min_value } else { max_value },
            cache: 1,
            cycle,
            owned_by: None,
            owner: crate::catalog::acl::bootstrap_owner(),
            acl: None,
        }
    }

    #[test]
    fn steps_stop_or_wrap_at_the_bounds() {
        let up = def(2, 1, 5, false);
        assert_eq!(step(&up, 1, false).ok(), Some(1));
        assert_eq!(step(&up, 1, true).ok(), Some(3));
        assert_eq!(step(&up, 5, true).map_err(|e| e.sqlstate()), Err("2200H"));
        assert_eq!(step(&def(2, 1, 5, true), 5, true).ok(), Some(1));
        let down = def(-1, -3, -1, false);
        assert_eq!(step(&down, -2, true).ok(), Some(-3));
        assert_eq!(step(&down, -3, true).map_err(|e| e.sqlstate()), Err("2200H"));
        assert_eq!(step(&def(-1, -3, -1, true), -3, true).ok(), Some(-1));
        // No overflow at the ends of BIGINT.
        assert_eq!(step(&def(1, 1, i64::MAX, false), i64::MAX, true).map_err(|e| e.sqlstate()), Err("2200H"));
    }

    #[test]
    fn states_round_trip() {
        assert_eq!(decode(&encode(-7, true)).ok(), Some((-7, true)));
        assert_eq!(decode(&encode(i64::MAX, false)).ok(), Some((i64::MAX, false)));
        assert!(decode(b"short").is_err());
    }
}
