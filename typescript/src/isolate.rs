//! The stripper in a child process, so that no input can take the host down.
//!
//! Bracket nesting is refused before parsing ([`crate::nesting`]), but swc
//! also recurses on chains without brackets (`a => a => ...`, `a ? b : a ?
//! ...`, `a.b.c...`, `1 + 1 + ...`: the AST is as deep as the chain), and a
//! stack overflow aborts the whole process rather than unwinding. A binary
//! that calls [`run_child_if_asked`] first thing in `main` and
//! [`isolate_in`] once can have every [`crate::strip`] run in a short-lived
//! copy of itself: an overflow, an abort or a panic there is a
//! [`StripError`] here.
//!
//! The protocol (private to this crate, both ends are this code): the child
//! gets the job (`strip` or `prepare`), a newline, the module name, a
//! newline and the source on stdin, and writes `ok\n`, the number of
//! imports, a newline, one `line\tcolumn\tspecifier\n` per import (the
//! specifier escaped) and the JavaScript, or `err\n` and one error as
//! `kind\tline\tcolumn\tmessage`, to stdout.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::imports::{Import, Prepared};
use crate::StripError;

/// The first argument that makes a binary act as the stripper's child
/// (see [`run_child_if_asked`]).
pub const CHILD_ARGUMENT: &str = "--internal-typescript-strip-child";

/// How long the child may take before it is killed: 10 s. The largest
/// source accepted (1 MiB, with 4,587 enums to lower) strips and compiles
/// in about a second in a debug build.
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(10);

/// What the child is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Job {
    /// [`crate::strip`]: no imports are listed.
    Strip,
    /// [`crate::prepare`].
    Prepare,
}

impl Job {
    fn as_str(self) -> &'static str {
        match self {
            Job::Strip => "strip",
            Job::Prepare => "prepare",
        }
    }
}

/// The program [`crate::strip`] starts, when [`isolate_in`] named one.
static CHILD_PROGRAM: OnceLock<PathBuf> = OnceLock::new();

/// Makes every later [`crate::strip`] in this process run in a child
/// process `program CHILD_ARGUMENT`, a binary whose `main` calls
/// [`run_child_if_asked`] first. On Linux, `/proc/self/exe` names the
/// running binary even after it was replaced on disk. The first call wins;
/// by default the stripper runs in a thread of this process.
pub fn isolate_in(program: PathBuf) {
    let _ = CHILD_PROGRAM.set(program);
}

/// If this process was started as the stripper's child (its first argument
/// is [`CHILD_ARGUMENT`]), strips its stdin to its stdout and exits;
/// otherwise returns at once.
pub fn run_child_if_asked() {
    if std::env::args_os().nth(1).as_deref() != Some(std::ffi::OsStr::new(CHILD_ARGUMENT)) {
        return;
    }
    let mut input = String::new();
    let answer = match std::io::stdin().read_to_string(&mut input) {
        Ok(_) => {
            let (job, rest) = input.split_once('\n').unwrap_or(("", ""));
            let (name, source) = rest.split_once('\n').unwrap_or(("charm.ts", ""));
            if job == Job::Prepare.as_str() {
                encode(crate::prepare_here(name, source.to_string()))
            } else {
                encode(crate::strip_here(name, source).map(|javascript| Prepared {
                    javascript,
                    imports: Vec::new(),
                }))
            }
        }
        Err(e) => encode(Err(StripError::Crashed {
            message: format!("the child could not read its input: {e}"),
        })),
    };
    let mut out = std::io::stdout().lock();
    let written = out.write_all(answer.as_bytes()).and_then(|()| out.flush());
    std::process::exit(if written.is_ok() { 0 } else { 1 });
}

/// Does `job` in the child process, if [`isolate_in`] named one.
pub(crate) fn in_child(job: Job, name: &str, source: &str) -> Option<Result<Prepared, StripError>> {
    let program = CHILD_PROGRAM.get()?;
    Some(run(program, job, name, source))
}

fn run(program: &PathBuf, job: Job, name: &str, source: &str) -> Result<Prepared, StripError> {
    let crashed = |message: String| StripError::Crashed { message };
    let mut child = Command::new(program)
        .arg(CHILD_ARGUMENT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| crashed(format!("cannot start `{}`: {e}", program.display())))?;
    let input = format!("{}\n{}\n{source}", job.as_str(), name.replace('\n', " "));
    let writer = child.stdin.take().map(|mut stdin| {
        std::thread::spawn(move || {
            // A child that died early closes the pipe; its exit says why.
            let _ = stdin.write_all(input.as_bytes());
        })
    });
    let read = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = read(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = read(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = wait_or_kill(&mut child, CHILD_TIMEOUT)
        .map_err(|e| crashed(format!("lost its child process: {e}")))?;
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    let Some(status) = status else {
        return Err(StripError::Exhausted {
            message: format!(
                "the TypeScript stripper took longer than {} s and was stopped",
                CHILD_TIMEOUT.as_secs()
            ),
        });
    };
    let output = std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if stderr.contains("overflowed its stack") {
            return Err(StripError::Exhausted {
                message: "the source nests too deeply: the stripper ran out of its stack"
                    .to_string(),
            });
        }
        return Err(crashed(format!(
            "its child process ended with {}: {}",
            output.status,
            stderr.lines().last().unwrap_or_default()
        )));
    }
    decode(&String::from_utf8_lossy(&output.stdout))
}

/// Waits for `child` until `timeout`, polling (every 1 to 20 ms); past it,
/// kills it and returns `None`.
fn wait_or_kill(
    child: &mut std::process::Child,
    timeout: Duration,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            // Already gone is as good as killed.
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

fn encode(result: Result<Prepared, StripError>) -> String {
    let one_line = |s: &str| s.replace(['\n', '\t'], " ");
    match result {
        Ok(Prepared {
            javascript,
            imports,
        }) => {
            let mut out = format!("ok\n{}\n", imports.len());
            for i in imports {
                out.push_str(&format!(
                    "{}\t{}\t{}\n",
                    i.line,
                    i.column,
                    escape(&i.specifier)
                ));
            }
            out.push_str(&javascript);
            out
        }
        Err(e) => {
            let (line, column) = e.location().unwrap_or((0, 0));
            let (kind, message) = match &e {
                StripError::Syntax { message, .. } => ("syntax", one_line(message)),
                StripError::Unsupported { message, .. } => ("unsupported", one_line(message)),
                StripError::TooDeep { .. } => ("deep", String::new()),
                StripError::Exhausted { message } => ("exhausted", one_line(message)),
                StripError::Crashed { message } => ("crashed", one_line(message)),
            };
            format!("err\n{kind}\t{line}\t{column}\t{message}")
        }
    }
}

/// A specifier on one line: `\`, newline and tab escaped.
fn escape(specifier: &str) -> String {
    specifier
        .replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('\t', "\\t")
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            (c, false) => out.push(c),
        }
    }
    out
}

fn decode(answer: &str) -> Result<Prepared, StripError> {
    let malformed = || StripError::Crashed {
        message: "its child process answered something unreadable".to_string(),
    };
    if let Some(ok) = answer.strip_prefix("ok\n") {
        let (count, mut rest) = ok.split_once('\n').ok_or_else(malformed)?;
        let count: usize = count.parse().map_err(|_| malformed())?;
        let mut imports = Vec::new();
        for _ in 0..count {
            let (line, after) = rest.split_once('\n').ok_or_else(malformed)?;
            rest = after;
            let mut fields = line.splitn(3, '\t');
            let (Some(l), Some(c), Some(specifier)) = (fields.next(), fields.next(), fields.next())
            else {
                return Err(malformed());
            };
            imports.push(Import {
                specifier: unescape(specifier),
                line: l.parse().map_err(|_| malformed())?,
                column: c.parse().map_err(|_| malformed())?,
            });
        }
        return Ok(Prepared {
            javascript: rest.to_string(),
            imports,
        });
    }
    let error = answer.strip_prefix("err\n").ok_or_else(malformed)?;
    let mut fields = error.splitn(4, '\t');
    let (Some(kind), Some(line), Some(column), Some(message)) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(malformed());
    };
    let line: u32 = line.parse().map_err(|_| malformed())?;
    let column: u32 = column.parse().map_err(|_| malformed())?;
    let message = message.to_string();
    Err(match kind {
        "syntax" => StripError::Syntax {
            line,
            column,
            message,
        },
        "unsupported" => StripError::Unsupported {
            line,
            column,
            message,
        },
        "deep" => StripError::TooDeep {
            line,
            column,
            limit: crate::MAX_NESTING,
        },
        "exhausted" => StripError::Exhausted { message },
        _ => StripError::Crashed { message },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_past_its_time_is_killed() {
        let mut slow = Command::new("sleep").arg("5").spawn().expect("sleep");
        let started = Instant::now();
        let waited = wait_or_kill(&mut slow, Duration::from_millis(50)).expect("wait");
        assert!(waited.is_none(), "{waited:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
        let mut quick = Command::new("true").spawn().expect("true");
        let waited = wait_or_kill(&mut quick, Duration::from_secs(5)).expect("wait");
        assert!(waited.is_some_and(|s| s.success()), "{waited:?}");
    }

    #[test]
    fn answers_survive_the_pipe() {
        for result in [
            Ok(Prepared {
                javascript: "let x = 1;\n\tlet y;".to_string(),
                imports: vec![Import {
                    specifier: "./a\\b\tc\nd.js".to_string(),
                    line: 2,
                    column: 15,
                }],
            }),
            Err(StripError::Syntax {
                line: 3,
                column: 9,
                message: "Expected ';'\tgot x".to_string(),
            }),
            Err(StripError::TooDeep {
                line: 1,
                column: 1001,
                limit: crate::MAX_NESTING,
            }),
            Err(StripError::Crashed {
                message: "boom".to_string(),
            }),
        ] {
            let back = decode(&encode(result.clone()));
            match (&result, &back) {
                (Ok(a), Ok(b)) => assert_eq!(a, b),
                (Err(a), Err(b)) => {
                    assert_eq!(a.location(), b.location());
                    assert_eq!(a.headline().replace('\t', " "), b.headline());
                }
                _ => panic!("{result:?} came back as {back:?}"),
            }
        }
        assert!(matches!(decode("garbage"), Err(StripError::Crashed { .. })));
    }
}
