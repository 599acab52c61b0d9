//! SCRAM-SHA-256 password verifiers, stored exactly as PostgreSQL stores them.
//!
//! A password is never kept. `CREATE ROLE ... PASSWORD 'text'` turns it into a verifier
//! (RFC 5802 and 7677):
//!
//! ```text
//! SaltedPassword = PBKDF2-HMAC-SHA-256(SASLprep(password), salt, iterations)
//! StoredKey      = SHA-256(HMAC(SaltedPassword, "Client Key"))
//! ServerKey      = HMAC(SaltedPassword, "Server Key")
//! ```
//!
//! and stores its text form `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`
//! (base64 fields), with a random 16-byte salt and 4096 iterations, PostgreSQL's
//! defaults. That is all a server needs to check a client's proof and to prove itself in
//! return; the password cannot be read back from it. It is still a secret: it allows an
//! offline guessing attack and lets its holder pose as the server, which is why
//! `pg_authid` shows it to superusers only.
//!
//! Because the form is PostgreSQL's, verifiers move freely between the two systems: a
//! PASSWORD string that parses as a verifier is stored as it is (what `pg_dumpall` writes
//! and what psql's `\password` sends), exactly as PostgreSQL decides it. A string that
//! looks like one but does not parse is an ordinary password, again as in PostgreSQL.

use std::fmt;
use std::num::NonZeroU32;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::rand::SecureRandom;
use ring::{digest, hmac, pbkdf2};

use crate::error::{Error, Result, SqlState};

/// The mechanism name that starts a verifier's text form.
const PREFIX: &str = "SCRAM-SHA-256";
/// PBKDF2 rounds for new verifiers (PostgreSQL's `scram_iterations` default).
pub const ITERATIONS: u32 = 4096;
/// Length of a new verifier's random salt.
pub const SALT_BYTES: usize = 16;
/// Length of a SHA-256 output: StoredKey and ServerKey.
const KEY_BYTES: usize = 32;

/// A SCRAM-SHA-256 verifier: what the server keeps instead of a password.
#[derive(Clone, PartialEq, Eq)]
pub struct Verifier {
    /// PBKDF2 rounds.
    pub iterations: u32,
    /// The salt sent to the client.
    pub salt: Vec<u8>,
    /// `SHA-256(ClientKey)`: checks the client's proof.
    pub stored_key: Vec<u8>,
    /// `HMAC(SaltedPassword, "Server Key")`: signs the server's answer.
    pub server_key: Vec<u8>,
}

impl Verifier {
    /// The verifier of `password` with a fresh random salt and [`ITERATIONS`] rounds.
    pub fn new(password: &str) -> Result<Verifier> {
        let mut salt = [0u8; SALT_BYTES];
        ring::rand::SystemRandom::new().fill(&mut salt).map_err(|_| {
            Error::new(SqlState::InternalError, "could not generate a random salt for the password")
        })?;
        Ok(Verifier::with_salt(password, &salt, ITERATIONS))
    }

    /// The verifier of `password` with the given salt and rounds (at least one).
    pub fn with_salt(password: &str, salt: &[u8], iterations: u32) -> Verifier {
        // PostgreSQL normalizes with SASLprep and, like it, falls back to the raw bytes
        // when the password is not valid for it; clients do the same.
        let normalized = stringprep::saslprep(password).unwrap_or(std::borrow::Cow::Borrowed(password));
        let mut salted = [0u8; KEY_BYTES];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN),
            salt,
            normalized.as_bytes(),
            &mut salted,
        );
        let key = hmac::Key::new(hmac::HMAC_SHA256, &salted);
        let client_key = hmac::sign(&key, b"Client Key");
        Verifier {
            iterations: iterations.max(1),
            salt: salt.to_vec(),
            stored_key: digest::digest(&digest::SHA256, client_key.as_ref()).as_ref().to_vec(),
            server_key: hmac::sign(&key, b"Server Key").as_ref().to_vec(),
        }
    }

    /// Reads the text form; `None` unless it is a well-formed SCRAM-SHA-256 verifier
    /// (positive rounds, base64 fields, 32-byte keys), PostgreSQL's test too.
    pub fn parse(text: &str) -> Option<Verifier> {
        let rest = text.strip_prefix(PREFIX)?.strip_prefix('$')?;
        let (parameters, keys) = rest.split_once('$')?;
        let (iterations, salt) = parameters.split_once(':')?;
        let (stored_key, server_key) = keys.split_once(':')?;
        let iterations: u32 = iterations.parse().ok().filter(|&i| i > 0)?;
        let salt = BASE64.decode(salt).ok().filter(|s| !s.is_empty())?;
        let stored_key = BASE64.decode(stored_key).ok().filter(|k| k.len() == KEY_BYTES)?;
        let server_key = BASE64.decode(server_key).ok().filter(|k| k.len() == KEY_BYTES)?;
        Some(Verifier { iterations, salt, stored_key, server_key })
    }
}

impl fmt::Display for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}${}:{}${}:{}",
            self.iterations,
            BASE64.encode(&self.salt),
            BASE64.encode(&self.stored_key),
            BASE64.encode(&self.server_key)
        )
    }
}

impl fmt::Debug for Verifier {
    /// Keys are left out: logs are no place for them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier").field("iterations", &self.iterations).finish_non_exhaustive()
    }
}

/// True for PostgreSQL's old MD5 hashes (`md5` and 32 hex digits), which SCRAM cannot use.
pub fn is_md5_hash(text: &str) -> bool {
    text.len() == 35 && text.starts_with("md5") && text[3..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677's example password and salt; the keys were computed independently
    /// (Python's hashlib), so this checks the derivation, not just a round trip.
    #[test]
    fn derivation_matches_an_independent_computation() {
        let salt = BASE64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").expect("salt");
        let v = Verifier::with_salt("pencil", &salt, 4096);
        assert_eq!(
            v.to_string(),
            "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:\
             wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
        );
        assert_eq!(Verifier::parse(&v.to_string()), Some(v));
    }

    #[test]
    fn new_verifiers_have_random_salts_and_postgres_defaults() {
        let a = Verifier::new("secret").expect("verifier");
        let b = Verifier::new("secret").expect("verifier");
        assert_eq!((a.iterations, a.salt.len()), (ITERATIONS, SALT_BYTES));
        assert_ne!(a.salt, b.salt);
        assert_ne!(a.stored_key, b.stored_key);
        assert_eq!(Verifier::with_salt("secret", &a.salt, ITERATIONS), a);
        assert_ne!(Verifier::with_salt("Secret", &a.salt, ITERATIONS), a);
    }

    #[test]
    fn only_well_formed_verifiers_parse() {
        let good = Verifier::new("x").expect("verifier").to_string();
        assert!(Verifier::parse(&good).is_some());
        let (head, keys) = good.rsplit_once('$').expect("keys");
        let (stored, server) = keys.split_once(':').expect("two keys");
        let short = BASE64.encode([0u8; 31]);
        for bad in [
            String::new(),
            "SCRAM-SHA-256".into(),
            good.replacen("SCRAM-SHA-256", "SCRAM-SHA-1", 1),
            good.replacen("$4096:", "$0:", 1),
            good.replacen("$4096:", "$many:", 1),
            format!("{head}${stored}"),
            format!("{head}${stored}:{short}"),
            format!("{head}$!{stored}:{server}"),
            format!("{head}${stored}:{server}:extra"),
            "md5a3556571e93b0d20722ba62be61e8c2d".into(),
        ] {
            assert!(Verifier::parse(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn md5_hashes_are_recognized() {
        assert!(is_md5_hash("md5a3556571e93b0d20722ba62be61e8c2d"));
        assert!(!is_md5_hash("md5 is not a hash"));
        assert!(!is_md5_hash("md5a3556571e93b0d20722ba62be61e8c2"));
    }

    #[test]
    fn debug_output_hides_the_keys() {
        let v = Verifier::new("x").expect("verifier");
        let shown = format!("{v:?}");
        assert!(!shown.contains(&BASE64.encode(&v.stored_key)), "{shown}");
    }
}
