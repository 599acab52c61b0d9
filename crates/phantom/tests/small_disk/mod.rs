//! A small file system for disk-full tests: a tmpfs of a few MiB mounted on a temporary
//! directory (shared by the embedded and the server tests). Mounting needs root; where it
//! fails, [`SmallDisk::mount`] prints a notice and the test returns without running.

use std::path::Path;
use std::process::{Command, Stdio};

/// A tmpfs mounted on a temporary directory for the length of a test.
pub struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts a tmpfs of `mib` MiB, or prints why it cannot and returns `None`.
    pub fn mount(mib: u64) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().expect("tempdir");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status();
        match mounted {
            Ok(status) if status.success() => Some(SmallDisk { dir }),
            _ => {
                eprintln!(
                    "skipped: cannot mount a {mib} MiB tmpfs here (it needs root); the disk-full test did not run"
                );
                None
            }
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}
