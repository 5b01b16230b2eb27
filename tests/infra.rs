//! The Terraform in `infra/terraform` parses (python-hcl2) and declares the same messaging
//! topology as `quickfix provision`: names, maxReceiveCount, visibility timeout, dead-letter
//! retention, and the worker subscription's raw delivery and filter policy.

mod common;

use std::process::Command;

use quickfix::TopologySpec;
use quickfix::domain::WORKER_EVENT_TYPES;
use serde_json::Value;

fn declared() -> Option<Value> {
    let python = common::python_with_hcl2()?;
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new(python)
        .arg(format!("{root}/scripts/terraform_topology.py"))
        .arg(format!("{root}/infra/terraform"))
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "the Terraform does not parse: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("one JSON object"))
}

#[test]
fn terraform_declares_the_topology_provision_creates() {
    let Some(tf) = declared() else {
        return;
    };
    let spec = TopologySpec::default();
    assert!(
        tf["files"].as_u64().unwrap() >= 10,
        "every module was parsed"
    );
    assert_eq!(tf["topic_name"], spec.topic_name.as_str());
    assert_eq!(tf["queue_name"], spec.queue_name.as_str());
    assert_eq!(
        tf["dead_letter_queue_name"],
        spec.dead_letter_queue_name.as_str()
    );
    assert_eq!(tf["max_receive_count"], spec.max_receive_count);
    assert_eq!(
        tf["visibility_timeout_seconds"],
        spec.visibility_timeout.as_secs()
    );
    assert_eq!(
        tf["dead_letter_retention_seconds"],
        spec.dead_letter_retention.as_secs()
    );
    let filter: Vec<&str> = tf["worker_event_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let provisioned: Vec<&str> = spec.event_types.iter().map(|e| e.as_str()).collect();
    assert_eq!(
        filter, provisioned,
        "the worker subscription's filter policy"
    );
    assert_eq!(provisioned.len(), WORKER_EVENT_TYPES.len());
}

#[test]
fn the_declared_resources_use_those_values() {
    let Some(tf) = declared() else {
        return;
    };
    assert_eq!(tf["raw_message_delivery"], true);
    let filter = tf["filter_policy"].as_str().unwrap();
    assert!(
        filter.contains("eventType") && filter.contains("var.worker_event_types"),
        "{filter}"
    );
    assert!(
        tf["queue_visibility"]
            .as_str()
            .unwrap()
            .contains("var.visibility_timeout_seconds")
    );
    let redrive = tf["queue_redrive"].as_str().unwrap();
    assert!(
        redrive.contains("var.max_receive_count") && redrive.contains("dead_letters"),
        "{redrive}"
    );
}

#[test]
fn the_compose_file_validates_and_runs_the_provisioned_topology() {
    let Some(compose) = common::compose() else {
        return;
    };
    let root = env!("CARGO_MANIFEST_DIR");
    let mut words = compose.split_whitespace();
    let out = Command::new(words.next().unwrap())
        .args(words)
        .args([
            "-f",
            &format!("{root}/docker-compose.yml"),
            "config",
            "--services",
        ])
        .output()
        .expect("compose runs");
    assert!(
        out.status.success(),
        "docker-compose.yml is invalid: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut services: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    services.sort();
    assert_eq!(
        services,
        ["api", "localstack", "mongodb", "provision", "worker"]
    );
    // The settings the containers get are the names `quickfix provision` creates.
    let file = include_str!("../docker-compose.yml");
    let spec = TopologySpec::default();
    for (setting, name) in [
        ("SNS_TOPIC_ARN: arn:aws:sns:", &spec.topic_name),
        (
            "SQS_QUEUE_URL: http://localstack:4566/000000000000/",
            &spec.queue_name,
        ),
        (
            "SQS_DEAD_LETTER_QUEUE_URL: http://localstack:4566/000000000000/",
            &spec.dead_letter_queue_name,
        ),
    ] {
        let line = file
            .lines()
            .find(|l| l.trim_start().starts_with(setting))
            .unwrap_or_else(|| panic!("{setting} is missing"));
        assert!(line.trim_end().ends_with(name.as_str()), "{line}");
    }
    assert!(file.contains("--replSet"), "MongoDB runs as a replica set");
}
