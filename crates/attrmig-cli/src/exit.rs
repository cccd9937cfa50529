//! Exit codes, in one place (DESIGN.md section 6):
//! 0 ok · 1 error · 2 usage · 3 refused · 4 problems found.

use std::process::ExitCode;

use attrmig_engine::EngineError;
use serde_json::json;

use crate::render;

/// The documented codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Done.
    Ok = 0,
    /// I/O, database unreachable, anything unexpected.
    Error = 1,
    /// Bad command line, unknown migration.
    Usage = 2,
    /// Illegal transition, failed guard, tool not allowed now.
    Refused = 3,
    /// Cross-check mismatches, check findings, invalid plans, a broken audit chain.
    Found = 4,
}

impl From<Code> for ExitCode {
    fn from(c: Code) -> Self {
        ExitCode::from(c as u8)
    }
}

/// An error of a command, with the code it exits with.
#[derive(Debug)]
pub enum Failure {
    /// From the engine.
    Engine(EngineError),
    /// Anything else, with context.
    Other(anyhow::Error),
    /// Usage error detected after parsing.
    Usage(String),
    /// stdout was closed (`attrmig log x | head`): not an error.
    BrokenPipe,
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Self {
        Failure::Engine(e)
    }
}

impl From<attrmig_db::DbError> for Failure {
    fn from(e: attrmig_db::DbError) -> Self {
        Failure::Engine(EngineError::Db(e))
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Other(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Failure::BrokenPipe
        } else {
            Failure::Other(e.into())
        }
    }
}

/// The exit code of an error.
pub fn code(err: &Failure) -> Code {
    match err {
        Failure::Engine(EngineError::Refused(_) | EngineError::Blocked { .. }) => Code::Refused,
        Failure::Engine(
            EngineError::UnknownMigration { .. }
            | EngineError::NoSuchIntent { .. }
            | EngineError::EmptySample,
        )
        | Failure::Usage(_) => Code::Usage,
        Failure::Engine(_) | Failure::Other(_) => Code::Error,
        Failure::BrokenPipe => Code::Ok,
    }
}

/// Prints the error (to stderr, or as JSON on stdout with `--json`) and returns its code.
pub fn report(err: &Failure, json: bool) -> ExitCode {
    let code = code(err);
    if matches!(err, Failure::BrokenPipe) {
        return code.into();
    }
    let kind = match code {
        Code::Refused => "refused",
        Code::Usage => "usage",
        _ => "error",
    };
    if json {
        let mut doc = json!({ "error": { "kind": kind, "message": message(err) } });
        if let Failure::Engine(EngineError::Refused(r)) = err {
            doc["error"]["refusal"] = json!(r);
        }
        if let Failure::Engine(EngineError::Blocked { id, to, checks }) = err {
            doc["error"]["id"] = json!(id);
            doc["error"]["to"] = json!(to);
            doc["error"]["guards"] = json!(checks);
        }
        let doc = crate::output::clean_json(bounded_json(doc));
        println!("{}", crate::output::document(&doc, false));
    } else {
        let text = render::failure(&message(err), err);
        eprintln!(
            "{}",
            crate::output::clean(&attrmig_core::echo::bounded(&text))
        );
    }
    code.into()
}

/// Every string of an error document bounded: guard details quote plans too.
fn bounded_json(doc: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match doc {
        Value::String(s) => Value::String(attrmig_core::echo::bounded(&s).into_owned()),
        Value::Array(items) => Value::Array(items.into_iter().map(bounded_json).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, bounded_json(v))).collect())
        }
        other => other,
    }
}

/// The error in words, with whatever it quotes of the user's input bounded.
fn message(err: &Failure) -> String {
    let message = match err {
        Failure::Engine(e) => e.to_string(),
        Failure::Other(e) => format!("{e:#}"),
        Failure::Usage(m) => m.clone(),
        Failure::BrokenPipe => String::new(),
    };
    attrmig_core::echo::bounded(&message).into_owned()
}
