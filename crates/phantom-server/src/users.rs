//! The users file (`phantom serve --users FILE`): passwords kept outside the database.
//!
//! One user a line, `name:password`, where the password is either the password itself or
//! a SCRAM-SHA-256 verifier in PostgreSQL's form (`SCRAM-SHA-256$4096:salt$StoredKey:ServerKey`,
//! what `SELECT rolpassword FROM pg_authid` shows). The name ends at the first colon, so
//! a password may contain colons; it is taken as written to the end of the line (a
//! trailing carriage return aside). Blank lines and lines starting with `#` are ignored.
//!
//! Plain passwords are turned into verifiers when the file is loaded and forgotten, so
//! the server never holds a password in memory for longer than that; writing verifiers
//! into the file keeps passwords off the disk as well. A malformed file stops the server
//! from starting, with the line at fault, rather than leaving someone locked out or in.
//!
//! How a file user relates to the roles in the database is [`crate::auth`]'s business.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use phantom::scram::{self, Verifier};

/// The users of a users file, by name.
#[derive(Debug, Default)]
pub struct Users {
    verifiers: HashMap<String, Verifier>,
}

/// Why a users file could not be loaded.
#[derive(Debug)]
pub struct UsersFileError {
    /// The file.
    pub path: PathBuf,
    /// The 1-based line at fault, if the problem is one line.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for UsersFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "users file {}, line {line}: {}", self.path.display(), self.message),
            None => write!(f, "users file {}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for UsersFileError {}

impl Users {
    /// Reads and parses the file at `path`.
    pub fn load(path: &Path) -> Result<Users, UsersFileError> {
        let error = |line, message: String| UsersFileError { path: path.to_path_buf(), line, message };
        let text = std::fs::read_to_string(path).map_err(|e| error(None, e.to_string()))?;
        Users::parse(&text).map_err(|(line, message)| error(Some(line), message))
    }

    /// Parses a users file's text; an error names the 1-based line at fault.
    pub fn parse(text: &str) -> Result<Users, (usize, String)> {
        let mut verifiers = HashMap::new();
        for (number, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l)) {
            let content = line.trim_start();
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            let Some((name, password)) = content.split_once(':') else {
                return Err((number, "expected name:password".into()));
            };
            let name = name.trim();
            if name.is_empty() {
                return Err((number, "the user name is empty".into()));
            }
            if password.is_empty() {
                return Err((number, format!("the password of \"{name}\" is empty")));
            }
            if scram::is_md5_hash(password) {
                return Err((
                    number,
                    "MD5 password hashes are not supported: use a SCRAM-SHA-256 verifier".into(),
                ));
            }
            let verifier = match Verifier::parse(password) {
                Some(verifier) => verifier,
                None => Verifier::new(password).map_err(|e| (number, e.message))?,
            };
            if verifiers.insert(name.to_string(), verifier).is_some() {
                return Err((number, format!("\"{name}\" is listed twice")));
            }
        }
        Ok(Users { verifiers })
    }

    /// The verifier of the user called `name`, if the file lists one.
    pub fn verifier(&self, name: &str) -> Option<&Verifier> {
        self.verifiers.get(name)
    }

    /// The number of users.
    pub fn len(&self) -> usize {
        self.verifiers.len()
    }

    /// True when the file lists no user.
    pub fn is_empty(&self) -> bool {
        self.verifiers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(verifier: &Verifier, password: &str) -> bool {
        Verifier::with_salt(password, &verifier.salt, verifier.iterations) == *verifier
    }

    #[test]
    fn passwords_and_verifiers_load_comments_and_blanks_do_not() {
        let given = Verifier::new("from elsewhere").expect("verifier");
        let text = format!(
            "# who may log in\n\nalice:wonder:land\r\n  bob:{given}\n   # indented comment\ncarol: spaced \n"
        );
        let users = Users::parse(&text).expect("parse");
        assert_eq!(users.len(), 3);
        assert!(matches(users.verifier("alice").expect("alice"), "wonder:land"));
        assert_eq!(users.verifier("bob"), Some(&given));
        assert!(matches(users.verifier("carol").expect("carol"), " spaced "));
        assert!(!matches(users.verifier("carol").expect("carol"), "spaced"));
        assert!(users.verifier("dave").is_none());
        assert!(Users::parse("").expect("empty").is_empty());
    }

    #[test]
    fn malformed_lines_are_reported_with_their_number() {
        for (text, line, fragment) in [
            ("alice:x\nbob\n", 2, "expected name:password"),
            ("# c\n:x\n", 2, "user name is empty"),
            ("alice:\n", 1, "password of \"alice\" is empty"),
            ("a:x\nb:y\na:z\n", 3, "listed twice"),
            ("a:md5a3556571e93b0d20722ba62be61e8c2d\n", 1, "MD5"),
        ] {
            let (at, message) = Users::parse(text).expect_err(text);
            assert_eq!(at, line, "{text}");
            assert!(message.contains(fragment), "{text}: {message}");
        }
    }

    #[test]
    fn a_missing_file_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("absent");
        let e = Users::load(&path).expect_err("missing");
        assert!(e.to_string().starts_with(&format!("users file {}: ", path.display())), "{e}");
        std::fs::write(&path, "ok:1\nbroken\n").expect("write");
        let e = Users::load(&path).expect_err("malformed");
        assert_eq!(e.to_string(), format!("users file {}, line 2: expected name:password", path.display()));
    }
}
