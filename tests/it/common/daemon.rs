//! The binaries as an operator runs them: `neo-supportd serve` as a child
//! process with its log, `neo-supportd token create`, and a plain HTTP GET.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// A `neo-supportd serve` process and everything it has logged.
pub struct Daemon {
    child: Child,
    /// `HOST:PORT` it listens on.
    pub address: String,
    /// Everything it has logged so far.
    pub log: Arc<Mutex<String>>,
}

impl Daemon {
    /// Starts `neo-supportd serve` on a free port with JSON logs.
    pub fn start(database_url: &str, keys_dir: &std::path::Path) -> Self {
        Self::start_with(database_url, keys_dir, &[])
    }

    /// Starts it with extra `serve` flags.
    pub fn start_with(database_url: &str, keys_dir: &std::path::Path, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_neo-supportd"))
            .args([
                "--log-format",
                "json",
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                database_url,
            ])
            .arg("--keys-dir")
            .arg(keys_dir)
            .args(extra)
            .env_remove("NEO_SUPPORT_LISTEN")
            .env_remove("NEO_SUPPORT_KEYS_DIR")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start neo-supportd");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = Arc::new(Mutex::new(String::new()));
        let address = loop {
            let line = lines
                .next()
                .expect("neo-supportd exited before listening")
                .unwrap();
            log.lock().unwrap().push_str(&line);
            log.lock().unwrap().push('\n');
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if entry["fields"]["message"] == "neo-supportd listening" {
                break entry["fields"]["local"].as_str().unwrap().to_owned();
            }
        };
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Self {
            child,
            address,
            log,
        }
    }

    /// Sends SIGTERM, waits, and returns the exit status and the log.
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let status = self.signal_and_wait();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let log = self.log.lock().unwrap().clone();
        (status, log)
    }

    /// Sends SIGTERM and waits.
    pub fn signal_and_wait(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        self.child.wait().unwrap()
    }
}

impl Drop for Daemon {
    /// A failed test still stops its server.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Daemon {
    /// Kills it with SIGKILL: no chance to finish anything.
    pub fn kill_hard(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GETs a plain-HTTP path and returns the whole response.
pub fn http_get(address: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// Creates a staff token named `name` on `database_url` with
/// `neo-supportd token create`, as an operator would, and returns it.
pub fn staff_token_on(database_url: &str, name: &str) -> String {
    // `token create` never creates a database: make it first, as an
    // operator does with `neo-supportd init` (or by starting the server).
    let init = Command::new(env!("CARGO_BIN_EXE_neo-supportd"))
        .args(["init", "--database-url", database_url])
        .output()
        .expect("run neo-supportd init");
    assert!(init.status.success(), "{init:?}");
    let created = Command::new(env!("CARGO_BIN_EXE_neo-supportd"))
        .args([
            "token",
            "create",
            "--staff",
            "--name",
            name,
            "--database-url",
            database_url,
        ])
        .output()
        .expect("run neo-supportd token create");
    assert!(created.status.success(), "{created:?}");
    String::from_utf8(created.stdout)
        .expect("the token is text")
        .trim()
        .to_owned()
}
