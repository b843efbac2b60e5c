//! README.md's examples, run: every `sh` block (except those marked
//! `<!-- not run by tests/it/readme.rs: REASON -->` just above it) runs in
//! order, in one shell, against a fresh `neo-supportd serve` on the default
//! SQLite database and keys directory of an empty working directory, with
//! the binaries just built first on PATH, its clock running from
//! 2026-11-25 10:00 JST (`cargo` is a no-op: the quick
//! start's `cargo run ... serve` is the server this test started). Each
//! command must exit 0, or the code its expected output names (`(exit code
//! 1)`); an expected output written under a command (`# {"date":...}`,
//! `# valid: LK-...`, `...` for anything) must match its stdout. A README
//! that drifts from the product fails here.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const SKIP: &str = "<!-- not run by tests/it/readme.rs:";

/// The longest the README's examples may take together.
const README_TIMEOUT_SECS: u64 = 300;

/// One command of a block and what it should print.
#[derive(Debug)]
struct Example {
    command: String,
    expected: Option<String>,
    exit_code: i32,
}

/// The runnable `sh` blocks of `readme`, as commands in order, and the
/// number of blocks left out (each with its reason).
fn examples(readme: &str) -> (Vec<Example>, usize) {
    let mut examples = Vec::new();
    let mut skipped = 0;
    let lines: Vec<&str> = readme.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        if lines[i] != "```sh" {
            i += 1;
            continue;
        }
        let skip = i > 0 && lines[i - 1].starts_with(SKIP);
        if skip {
            assert!(
                lines[i - 1].len() > SKIP.len() + 5,
                "a skipped block needs a reason: {}",
                lines[i - 1]
            );
            skipped += 1;
        }
        i += 1;
        let mut block = Vec::new();
        while lines[i] != "```" {
            block.push(lines[i]);
            i += 1;
        }
        if !skip {
            examples.extend(parse_block(&block));
        }
    }
    (examples, skipped)
}

fn is_output(comment: &str) -> bool {
    ["{", "[", "valid", "not valid", "contract "]
        .iter()
        .any(|start| comment.starts_with(start))
}

fn parse_block(block: &[&str]) -> Vec<Example> {
    let mut examples: Vec<Example> = Vec::new();
    let mut command = String::new();
    let mut in_output = false;
    for line in block {
        if let Some(comment) = line.strip_prefix('#') {
            let continued = comment.starts_with("  ");
            let comment = comment.trim();
            let last = examples.last_mut();
            match last {
                Some(last) if in_output && continued => {
                    last.expected
                        .get_or_insert_with(String::new)
                        .push_str(comment);
                }
                Some(last) if command.is_empty() && is_output(comment) => {
                    let (text, code) = match comment.split_once("(exit code ") {
                        Some((text, code)) => {
                            (text.trim(), code.trim_end_matches(')').parse().unwrap())
                        }
                        None => (comment, 0),
                    };
                    last.expected = Some(text.to_owned());
                    last.exit_code = code;
                    in_output = true;
                }
                _ => in_output = false,
            }
            continue;
        }
        in_output = false;
        if line.trim().is_empty() {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => {
                command.push_str(part);
                command.push(' ');
            }
            None => {
                command.push_str(line);
                examples.push(Example {
                    command: std::mem::take(&mut command),
                    expected: None,
                    exit_code: 0,
                });
            }
        }
    }
    examples
}

/// `expected` with `...` matching anything, the rest literally.
fn matches(expected: &str, actual: &str) -> bool {
    let parts: Vec<&str> = expected.split("...").collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return expected == actual;
    }
    if !actual.starts_with(first) || actual.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &actual[first.len()..];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[test]
fn every_example_in_the_readme_runs_against_a_fresh_server_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let (examples, skipped) = examples(&readme);
    assert!(examples.len() > 30, "{examples:?}");
    assert!(skipped < 20, "{skipped} blocks left out");

    let dir = tempfile::tempdir().unwrap();
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_neo-support"))
        .parent()
        .unwrap()
        .to_owned();
    let mut server = Command::new(env!("CARGO_BIN_EXE_neo-supportd"))
        .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
        // README's journey is dated (a first year from 2026-11-20): the
        // server runs as on that week, whatever the day of the test.
        .args(["--debug-start-at", "2026-11-25T10:00:00+09:00"])
        .current_dir(dir.path())
        .env_remove("NEO_SUPPORT_DATABASE_URL")
        .env_remove("NEO_SUPPORT_KEYS_DIR")
        .env_remove("NEO_SUPPORT_LISTEN")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(server.stderr.take().unwrap()).lines();
    let address = loop {
        let line = log.next().expect("the server exited").unwrap();
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if entry["fields"]["message"] == "neo-supportd listening" {
            break entry["fields"]["local"].as_str().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || for _ in log {});

    let mut script = String::from("cargo() { :; }\n");
    for (index, example) in examples.iter().enumerate() {
        script.push_str(&format!(
            "printf '\\n::start {index}\\n'\n{}\nrc=$?\nprintf '\\n::end {index} %d\\n' \"$rc\"\n",
            example.command
        ));
    }
    // A README example that never ends (a server in the foreground) fails
    // the test instead of hanging the suite.
    let output = Command::new("timeout")
        .args([
            "--kill-after=10",
            &README_TIMEOUT_SECS.to_string(),
            "bash",
            "-c",
        ])
        .arg(&script)
        .current_dir(dir.path())
        .env(
            "PATH",
            format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap()),
        )
        .env("NEO_SUPPORT_SERVER", format!("http://{address}"))
        .env_remove("NEO_SUPPORT_TOKEN")
        .env_remove("NEO_SUPPORT_DATABASE_URL")
        .env_remove("NEO_SUPPORT_KEYS_DIR")
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_ne!(
        output.status.code(),
        Some(124),
        "the README examples did not finish within {README_TIMEOUT_SECS} s; \
         the last one started:\n{}",
        stdout.rsplit("\n::start ").next().unwrap_or_default()
    );

    let mut failures = Vec::new();
    for (index, example) in examples.iter().enumerate() {
        let start = format!("\n::start {index}\n");
        let Some(begin) = stdout.find(&start) else {
            failures.push(format!("{}: did not run", example.command));
            continue;
        };
        let rest = &stdout[begin + start.len()..];
        let end_marker = format!("\n::end {index} ");
        let end = rest.find(&end_marker).expect("an end marker");
        let printed = rest[..end].trim();
        let code: i32 = rest[end + end_marker.len()..]
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        if code != example.exit_code {
            failures.push(format!(
                "{}\n  exit code {code}, README says {}\n  printed: {printed}",
                example.command, example.exit_code
            ));
        }
        if let Some(expected) = &example.expected
            && !matches(expected, printed)
        {
            failures.push(format!(
                "{}\n  README: {expected}\n  prints: {printed}",
                example.command
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "README examples drifted:\n{}\n\nstderr:\n{stderr}",
        failures.join("\n\n")
    );
}

#[test]
fn the_readme_parser_reads_commands_continuations_and_expected_output() {
    let block = [
        "# a comment",
        "neo-support --json calendar day \\",
        "  2026-11-23",
        "# {\"date\":\"2026-11-23\",",
        "#  \"kind\":...}",
        "neo-support key verify \"$OLD_KEY\"",
        "# not valid: KEY_SUPERSEDED   (exit code 1)",
        "# (a comment, not output)",
    ];
    let parsed = parse_block(&block);
    assert_eq!(parsed.len(), 2, "{parsed:?}");
    assert_eq!(
        parsed[0].command,
        "neo-support --json calendar day    2026-11-23"
    );
    assert_eq!(
        parsed[0].expected.as_deref(),
        Some("{\"date\":\"2026-11-23\",\"kind\":...}")
    );
    assert_eq!(parsed[1].exit_code, 1);
    assert_eq!(
        parsed[1].expected.as_deref(),
        Some("not valid: KEY_SUPERSEDED")
    );
    assert!(matches("valid: LK-...", "valid: LK-01ABC"));
    assert!(!matches("valid: LK-...", "not valid: LK-01ABC"));
}
