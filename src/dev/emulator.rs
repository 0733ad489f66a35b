//! A local AWS emulator (moto server) for the demo and the end-to-end tests: started on a
//! free loopback port with a fixed default account, and always stopped — the guard kills the
//! child process when dropped, whatever happened in between.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The account moto answers as unless a request says otherwise.
pub const DEFAULT_ACCOUNT: &str = "111122223333";

/// How to install the emulator, for error messages.
pub const INSTALL_HINT: &str =
    "the AWS emulator is missing: install it with `python3 -m pip install 'moto[server]'` (or run scripts/test / scripts/demo, which do)";

/// A running moto server. Dropping it stops the server.
#[derive(Debug)]
pub struct Emulator {
    child: Child,
    pub port: u16,
    pub endpoint_url: String,
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// The command that runs moto's server: `moto_server` when on PATH, else `python3 -m
/// moto.server` when the module is importable.
fn server_command() -> Result<Command, String> {
    let on_path = Command::new("moto_server")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if on_path {
        return Ok(Command::new("moto_server"));
    }
    let module = Command::new("python3")
        .args(["-c", "import moto.server"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if module {
        let mut c = Command::new("python3");
        c.args(["-m", "moto.server"]);
        return Ok(c);
    }
    Err(INSTALL_HINT.to_string())
}

impl Emulator {
    /// Starts moto on `port` (or a free one) and waits until it accepts connections. Every
    /// request is answered as `DEFAULT_ACCOUNT`.
    pub fn start(port: Option<u16>) -> Result<Emulator, String> {
        Self::spawn(port, true)
    }

    /// Starts moto for several accounts on one server: a request is answered as the account
    /// its `x-moto-account-id` header names (`dev::accounts`). moto gives `MOTO_ACCOUNT_ID`
    /// precedence over the header, so it is not set here.
    pub fn start_multi_account() -> Result<Emulator, String> {
        Self::spawn(None, false)
    }

    fn spawn(port: Option<u16>, one_account: bool) -> Result<Emulator, String> {
        let port = match port {
            Some(p) => p,
            None => free_port()?,
        };
        let mut cmd = server_command()?;
        if one_account {
            cmd.env("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT);
        } else {
            cmd.env_remove("MOTO_ACCOUNT_ID");
        }
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start moto_server: {e}; {INSTALL_HINT}"))?;
        // A watchdog stops moto if this process dies without running Drop (an abort, a
        // SIGKILL): it polls both pids and kills moto once we are gone.
        let watchdog = format!(
            "while kill -0 {parent} 2>/dev/null && kill -0 {moto} 2>/dev/null; do sleep 1; done; kill {moto} 2>/dev/null",
            parent = std::process::id(),
            moto = child.id()
        );
        let _ = Command::new("sh")
            .args(["-c", &watchdog])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        // From here on the guard owns the child: an early return below still kills it.
        let mut emu = Emulator {
            child,
            port,
            endpoint_url: format!("http://127.0.0.1:{port}"),
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(emu);
            }
            if let Ok(Some(status)) = emu.child.try_wait() {
                return Err(format!(
                    "moto_server exited at start ({status}): port {port} busy?"
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "moto_server did not listen on port {port} within 30 s"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
