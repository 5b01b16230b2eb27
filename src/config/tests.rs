//! The command line: every setting documented, each command with its own settings, and the
//! runtime defaults the same as the command line's.

use std::time::Duration;

use clap::{CommandFactory, Parser};

use super::*;

/// Every setting's environment variable, over all commands and their subcommands.
fn env_names(cmd: &clap::Command) -> Vec<String> {
    let mut names: Vec<String> = cmd
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .chain(cmd.get_subcommands().flat_map(env_names))
        .collect();
    names.sort();
    names.dedup();
    names
}

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(with_default_command(args.iter().map(Into::into)))
}

#[test]
fn env_example_lists_every_setting() {
    let example = include_str!("../../.env.example");
    let names = env_names(&Cli::command());
    assert!(names.len() > 40, "{names:?}");
    for name in names {
        assert!(
            example.contains(&format!("{name}=")),
            ".env.example does not mention {name}"
        );
    }
}

#[test]
fn no_command_runs_dev_with_its_flags() {
    for args in [&["quickfix"][..], &["quickfix", "--addr", "127.0.0.1:7000"]] {
        let cli = parse(args).unwrap();
        assert!(matches!(cli.command, Command::Dev(_)), "{args:?}");
    }
    let Command::Dev(dev) = parse(&["quickfix", "--addr", "127.0.0.1:7000"])
        .unwrap()
        .command
    else {
        unreachable!()
    };
    assert_eq!(dev.serve.addr.port(), 7000);
    assert_eq!(dev.serve.categories.len(), 4);
    let help = parse(&["quickfix", "--help"]).unwrap_err();
    assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
    let unknown = parse(&["quickfix", "serve"]).unwrap_err();
    assert_eq!(unknown.kind(), clap::error::ErrorKind::InvalidSubcommand);
}

#[test]
fn each_command_takes_only_its_own_settings() {
    for (args, foreign) in [
        (
            &["quickfix", "provision", "--jwt-secret", "x"][..],
            "--jwt-secret",
        ),
        (&["quickfix", "worker", "--addr", "127.0.0.1:1"], "--addr"),
        (&["quickfix", "api", "--concurrency", "3"], "--concurrency"),
        (
            &["quickfix", "dlq", "--mongodb-database", "q", "list"],
            "--mongodb-database",
        ),
        (
            &["quickfix", "admin", "--sqs-queue-url", "u", "create"],
            "--sqs-queue-url",
        ),
        (
            &["quickfix", "dev", "--mongodb-uri", "mongodb://x"],
            "--mongodb-uri",
        ),
    ] {
        let err = parse(args).unwrap_err();
        assert_eq!(
            err.kind(),
            clap::error::ErrorKind::UnknownArgument,
            "{args:?}: {err}"
        );
        assert!(err.to_string().contains(foreign), "{err}");
    }
    let cli = parse(&["quickfix", "provision", "--max-receive-count", "3"]).unwrap();
    assert!(matches!(
        cli.command,
        Command::Provision(ProvisionArgs {
            max_receive_count: 3,
            ..
        })
    ));
}

#[test]
fn out_of_range_values_are_refused_naming_the_flag() {
    for (args, flag) in [
        (
            &["quickfix", "worker", "--wait-seconds", "21"][..],
            "--wait-seconds",
        ),
        (
            &["quickfix", "api", "--outbox-batch-size", "0"],
            "--outbox-batch-size",
        ),
        (
            &["quickfix", "dev", "--auth-cache-seconds", "31"],
            "--auth-cache-seconds",
        ),
        (
            &["quickfix", "provision", "--max-receive-count", "0"],
            "--max-receive-count",
        ),
        (&["quickfix", "dlq", "list", "--max", "0"], "--max"),
        (
            &["quickfix", "events", "tail", "--poll-ms", "5"],
            "--poll-ms",
        ),
    ] {
        let err = parse(args).unwrap_err();
        assert_eq!(
            err.kind(),
            clap::error::ErrorKind::ValueValidation,
            "{args:?}"
        );
        assert!(err.to_string().contains(flag), "{err}");
    }
    let cli = Cli::command();
    assert_eq!(
        env_of(&cli, "wait-seconds").as_deref(),
        Some("WORKER_WAIT_SECONDS"),
        "a refused flag's message can name its variable"
    );
}

/// The runtime settings' defaults are the command line's, so an embedded QuickFix behaves as
/// a process started without settings.
#[test]
fn runtime_defaults_are_the_command_line_defaults() {
    let Command::Worker(worker) = parse(&["quickfix", "worker"]).unwrap().command else {
        unreachable!()
    };
    let (parsed, default) = (
        worker.tuning.consumer(),
        crate::worker::ConsumerSettings::default(),
    );
    assert_eq!(parsed.wait, default.wait);
    assert_eq!(parsed.concurrency, default.concurrency);
    assert_eq!(parsed.visibility_timeout, default.visibility_timeout);
    assert_eq!(parsed.backoff_base, default.backoff_base);
    let (parsed, default) = (
        worker.outbox.relay(),
        crate::outbox::RelaySettings::default(),
    );
    assert_eq!(parsed.sweep_interval, default.sweep_interval);
    assert_eq!(parsed.batch_size, default.batch_size);
    assert_eq!(parsed.lease, default.lease);

    let Command::Provision(provision) = parse(&["quickfix", "provision"]).unwrap().command else {
        unreachable!()
    };
    let (parsed, default) = (provision.spec(), crate::bus::TopologySpec::default());
    assert_eq!(parsed.topic_name, default.topic_name);
    assert_eq!(parsed.queue_name, default.queue_name);
    assert_eq!(
        parsed.dead_letter_queue_name,
        default.dead_letter_queue_name
    );
    assert_eq!(parsed.max_receive_count, default.max_receive_count);
    assert_eq!(parsed.visibility_timeout, default.visibility_timeout);

    let Command::Api(api) = parse(&["quickfix", "api"]).unwrap().command else {
        unreachable!()
    };
    let (parsed, default) = (
        crate::app::AccessSettings::from_args(&api.serve),
        crate::app::AccessSettings::default(),
    );
    assert_eq!(parsed.auth_cache, default.auth_cache);
    assert_eq!(parsed.session_check, default.session_check);
    assert_eq!(parsed.customer_max_priority, default.customer_max_priority);
    assert_eq!(
        api.serve.limits.api_limits().request_timeout,
        Duration::from_secs(crate::defaults::REQUEST_TIMEOUT_SECONDS)
    );
}
