//! Counting what a MongoDB client sends: the driver's command monitoring, collected per
//! operation and checked against a budget, and the server's `explain` of a command as it was
//! sent.

use std::sync::{Arc, Mutex};

use mongodb::bson::{Document, doc};
use mongodb::event::EventHandler;
use mongodb::event::command::CommandEvent;

/// A command the client sent: its name and body.
#[derive(Debug, Clone)]
pub struct Sent {
    pub name: String,
    pub body: Document,
}

/// Every command the store's client sends, in order (the driver's command monitoring). The
/// callback runs before the command goes out, so an operation's commands are all here once it
/// returns.
#[derive(Clone, Default)]
pub struct Commands(Arc<Mutex<Vec<Sent>>>);

impl Commands {
    /// The handler to give the client (`MongoStore::connect_monitored`).
    pub fn handler(&self) -> EventHandler<CommandEvent> {
        let sent = self.0.clone();
        EventHandler::callback(move |event| {
            if let CommandEvent::Started(started) = event {
                sent.lock().unwrap().push(Sent {
                    name: started.command_name,
                    body: started.command,
                });
            }
        })
    }

    /// What was sent since the last call.
    pub fn take(&self) -> Vec<Sent> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// Runs `run` (named `operation`, allowed `budget` commands); returns its result and the
    /// commands it sent.
    pub async fn measure<T>(
        &self,
        operation: &'static str,
        budget: usize,
        run: impl Future<Output = T>,
    ) -> (T, Measured) {
        self.take();
        let out = run.await;
        let sent = self.take();
        (
            out,
            Measured {
                operation,
                budget,
                sent,
            },
        )
    }
}

/// One operation's commands.
pub struct Measured {
    pub operation: &'static str,
    pub budget: usize,
    pub sent: Vec<Sent>,
}

impl Measured {
    pub fn names(&self) -> Vec<&str> {
        self.sent.iter().map(|s| s.name.as_str()).collect()
    }

    /// The names in order, a run of one command as `update ×120`.
    pub fn summary(&self) -> String {
        let mut runs: Vec<(&str, usize)> = Vec::new();
        for name in self.names() {
            match runs.last_mut() {
                Some((last, n)) if *last == name => *n += 1,
                _ => runs.push((name, 1)),
            }
        }
        runs.iter()
            .map(|(name, n)| {
                if *n == 1 {
                    (*name).to_owned()
                } else {
                    format!("{name} ×{n}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The first `name` command on `collection`, as sent.
    pub fn command(&self, name: &str, collection: &str) -> &Document {
        &self
            .sent
            .iter()
            .find(|s| s.name == name && s.body.get_str(name) == Ok(collection))
            .unwrap_or_else(|| {
                panic!(
                    "{} sent no {name} on {collection}: {:?}",
                    self.operation,
                    self.names()
                )
            })
            .body
    }
}

/// Prints the table and fails if any operation went over its budget, or if the monitor saw
/// none of an operation's commands (every operation here talks to the database).
pub fn check(measured: &[Measured]) {
    println!("| operation | commands | budget | sent |");
    println!("|---|---:|---:|---|");
    for m in measured {
        println!(
            "| {} | {} | {} | {} |",
            m.operation,
            m.sent.len(),
            m.budget,
            m.summary()
        );
    }
    let over: Vec<String> = measured
        .iter()
        .filter(|m| m.sent.is_empty() || m.sent.len() > m.budget)
        .map(|m| {
            format!(
                "{} sent {} commands, not within its budget of 1 to {}: {}",
                m.operation,
                m.sent.len(),
                m.budget,
                m.summary()
            )
        })
        .collect();
    assert!(over.is_empty(), "{over:#?}");
}

/// Fails unless `plan` scans `index` and nowhere scans the whole collection.
pub fn assert_on_index(operation: &str, plan: &Document, index: &str) {
    let stages = stages(plan);
    assert!(
        stages
            .iter()
            .any(|(stage, name)| stage == "IXSCAN" && name.as_deref() == Some(index)),
        "{operation} does not scan {index}: {plan}"
    );
    assert!(
        !stages.iter().any(|(stage, _)| stage == "COLLSCAN"),
        "{operation} scans the collection: {plan}"
    );
}

/// SecantusDB's version, when the server is SecantusDB (its `buildInfo` says so).
pub async fn secantus_version(database: &mongodb::Database) -> Option<String> {
    let info = database
        .run_command(doc! {"buildInfo": 1})
        .await
        .expect("buildInfo");
    info.get_str("secantusVersion").ok().map(str::to_owned)
}

/// The server's `explain` of `command` as the client sent it (without the fields the driver adds
/// to every command): the winning plan.
pub async fn explain(database: &mongodb::Database, command: &Document) -> Document {
    let mut command = command.clone();
    for added in [
        "$db",
        "lsid",
        "$clusterTime",
        "$readPreference",
        "txnNumber",
    ] {
        command.remove(added);
    }
    let answer = database
        .run_command(doc! {"explain": command, "verbosity": "queryPlanner"})
        .await
        .expect("the server explains the command");
    answer
        .get_document("queryPlanner")
        .and_then(|p| p.get_document("winningPlan"))
        .unwrap_or_else(|e| panic!("no winning plan ({e}): {answer}"))
        .clone()
}

/// The stages of a plan, outermost first, with the index each scans.
pub fn stages(plan: &Document) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut at = Some(plan);
    while let Some(stage) = at {
        out.push((
            stage.get_str("stage").unwrap_or("?").to_owned(),
            stage.get_str("indexName").ok().map(str::to_owned),
        ));
        at = stage.get_document("inputStage").ok();
    }
    out
}
