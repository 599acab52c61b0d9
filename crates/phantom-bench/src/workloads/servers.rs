//! Throwaway servers for side-by-side runs: `phantom serve` (the `phantom` binary beside
//! this one) and a PostgreSQL cluster made with Debian's `initdb`, each on a private
//! loopback port and stopped when dropped.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::BenchResult;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum System {
    Phantom,
    Postgres,
}

impl System {
    pub fn name(self) -> &'static str {
        match self {
            System::Phantom => "Phantom-DB",
            System::Postgres => "PostgreSQL",
        }
    }
}

/// A running server on a private loopback port, stopped on drop.
pub struct Server {
    pub system: System,
    pub port: u16,
    /// The `phantom serve` child; PostgreSQL is stopped with `pg_ctl` instead.
    child: Option<Child>,
    data: PathBuf,
}

impl Server {
    pub fn start(system: System, dir: &Path) -> BenchResult<Server> {
        let port = free_port()?;
        let data = dir.join("data");
        let child = match system {
            System::Phantom => {
                let phantom = std::env::current_exe()?.with_file_name("phantom");
                if !phantom.exists() {
                    return Err(format!(
                        "{} not found: build it with `cargo build --release -p phantom-cli`",
                        phantom.display()
                    )
                    .into());
                }
                let log = std::fs::File::create(dir.join("phantom.log"))?;
                let child = Command::new(phantom)
                    .arg("serve")
                    .arg(&data)
                    .arg("--listen")
                    .arg(format!("127.0.0.1:{port}"))
                    .stdout(Stdio::null())
                    .stderr(log)
                    .spawn()?;
                Some(child)
            }
            System::Postgres => {
                start_postgres(dir, &data, port)?;
                None
            }
        };
        let server = Server { system, port, child, data };
        server.wait_until_accepting()?;
        Ok(server)
    }

    fn wait_until_accepting(&self) -> BenchResult<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("{} did not start listening on port {} within 30 s", self.system.name(), self.port)
            .into())
    }

    pub fn user(&self) -> &'static str {
        match self.system {
            System::Phantom => "phantom",
            System::Postgres => "postgres",
        }
    }

    pub fn connection_args(&self) -> Vec<String> {
        vec![
            "-h".into(),
            "127.0.0.1".into(),
            "-p".into(),
            self.port.to_string(),
            "-U".into(),
            self.user().into(),
        ]
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        match self.child.take() {
            Some(mut child) => {
                // SIGTERM asks for the graceful shutdown (end sessions, checkpoint).
                let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
                let deadline = Instant::now() + Duration::from_secs(30);
                while Instant::now() < deadline {
                    if let Ok(Some(_)) = child.try_wait() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                let _ = child.kill();
                let _ = child.wait();
            }
            None => {
                if let Ok(pg_ctl) = find_pg_program("pg_ctl") {
                    let data = self.data.to_string_lossy();
                    let _ = as_postgres(&pg_ctl, &["-D", &data, "-m", "fast", "-w", "stop"]).output();
                }
            }
        }
    }
}

/// Creates and starts a throwaway cluster in `data` on `port` (trust auth, loopback only).
pub fn start_postgres(dir: &Path, data: &Path, port: u16) -> BenchResult<()> {
    let initdb = find_pg_program("initdb")?;
    let pg_ctl = find_pg_program("pg_ctl")?;
    std::fs::create_dir_all(data)?;
    if is_root() {
        // PostgreSQL refuses to run as root: the cluster belongs to the `postgres` user.
        let status = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir).status()?;
        if !status.success() {
            return Err(
                "chown to the postgres user failed (is Debian's postgresql package installed?)".into()
            );
        }
    }
    let data_arg = data.to_string_lossy().to_string();
    let output = as_postgres(&initdb, &["-D", &data_arg, "-A", "trust", "-U", "postgres"]).output()?;
    if !output.status.success() {
        return Err(format!("initdb failed: {}", String::from_utf8_lossy(&output.stderr)).into());
    }
    let options = format!("-p {port} -c listen_addresses=127.0.0.1 -k {}", dir.display());
    let log = dir.join("postgres.log").to_string_lossy().to_string();
    let output =
        as_postgres(&pg_ctl, &["-D", &data_arg, "-o", &options, "-l", &log, "-w", "start"]).output()?;
    if !output.status.success() {
        let log_text = std::fs::read_to_string(&log).unwrap_or_default();
        return Err(
            format!("pg_ctl start failed: {}\n{log_text}", String::from_utf8_lossy(&output.stderr)).into()
        );
    }
    Ok(())
}

/// A command for `program` that runs as the `postgres` user when we are root.
pub fn as_postgres(program: &Path, args: &[&str]) -> Command {
    let mut command = if is_root() {
        let mut runuser = Command::new("runuser");
        runuser.args(["-u", "postgres", "--"]).arg(program);
        runuser
    } else {
        Command::new(program)
    };
    command.args(args);
    command
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A PostgreSQL program from the newest `/usr/lib/postgresql/N/bin`, else from PATH.
pub fn find_pg_program(name: &str) -> BenchResult<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| dir.flatten().map(|e| e.path().join("bin").join(name)).filter(|p| p.exists()).collect())
        .unwrap_or_default();
    versions.sort();
    if let Some(path) = versions.pop() {
        return Ok(path);
    }
    let on_path = Command::new("which").arg(name).output()?;
    if on_path.status.success() {
        return Ok(PathBuf::from(String::from_utf8_lossy(&on_path.stdout).trim()));
    }
    Err(format!("{name} not found: install Debian's postgresql-15 package (scripts/install-pg-tools.sh)")
        .into())
}

pub fn postgres_version() -> Option<String> {
    let postgres = find_pg_program("postgres").ok()?;
    let output = Command::new(postgres).arg("--version").output().ok()?;
    Some(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> BenchResult<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
