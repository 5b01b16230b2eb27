//! The deployment files hold what QuickFix needs in production:
//! - the Terraform in `infra/terraform` parses (python-hcl2) and declares the same messaging
//!   topology as `quickfix provision`: names, maxReceiveCount, visibility timeout, dead-letter
//!   retention, and the worker subscription's raw delivery and filter policy;
//! - the first admin is created by a one-off ECS task whose password comes from Secrets
//!   Manager, with the `aws ecs run-task` command as an output;
//! - the API's `/metrics` listens on its own port, which the load balancer never registers;
//! - the KMS key lets AWS services use it only for QuickFix's own log group, topic and account;
//! - the image runs `quickfix api` by default, and the compose stack's API has a usable secret.
//!
//! `scripts/terraform_topology.py` reports the parsed Terraform as JSON; expressions are checked
//! as text (`${var.…}`), not evaluated.

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

/// The one ECS task definition whose container runs `quickfix admin create`: (key, container).
fn admin_task(tf: &Value) -> (String, &Value) {
    let tasks = tf["tasks"].as_object().expect("task definitions");
    let mut admin = tasks.iter().filter(|(_, task)| {
        let words = words(&task["container"]["command_words"]);
        words.windows(2).any(|w| w == ["admin", "create"])
    });
    let (key, task) = admin
        .next()
        .expect("a task definition runs `quickfix admin create`");
    assert!(admin.next().is_none(), "one admin task definition");
    (key.clone(), &task["container"])
}

fn words(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn names(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn the_admin_create_command_is_an_output_of_compute_and_the_example() {
    let Some(tf) = declared() else {
        return;
    };
    let (task, container) = admin_task(&tf);
    let container_name = container["name"].as_str().expect("the container's name");
    let command = tf["compute_outputs"]["admin_create_command"]
        .as_str()
        .expect("modules/compute has an admin_create_command output");
    for part in [
        "aws ecs run-task",
        "--cluster",
        "--network-configuration",
        "awsvpcConfiguration",
        "--overrides",
        "containerOverrides",
        "admin",
        "create",
        "--email",
        "var.admin_email",
        "--name",
        "var.admin_name",
        &format!("\"name\": \"{container_name}\""),
        &format!("aws_ecs_task_definition.{task}.family"),
    ] {
        assert!(command.contains(part), "{part} is not in {command}");
    }
    assert!(
        !command.to_lowercase().contains("password"),
        "the password is never on the command line: {command}"
    );

    let example = &tf["example"];
    assert_eq!(
        example["outputs"]["admin_create_command"], "${module.compute.admin_create_command}",
        "the example environment exposes the command"
    );
    let variables = words(&example["variables"]);
    assert!(variables.contains(&"admin_email") && variables.contains(&"admin_name"));
    let compute = &example["modules"]["compute"];
    assert_eq!(compute["admin_email"], "${var.admin_email}");
    assert_eq!(compute["admin_name"], "${var.admin_name}");
}

#[test]
fn the_admin_password_comes_from_a_secret_not_the_plain_environment() {
    let Some(tf) = declared() else {
        return;
    };
    let (_, container) = admin_task(&tf);
    assert_eq!(
        container["secrets"]["QUICKFIX_ADMIN_PASSWORD"], "${var.admin_password_secret_arn}",
        "{container}"
    );
    assert_eq!(
        container["secrets"]["MONGODB_URI"],
        "${var.mongodb_secret_arn}"
    );
    let text = container["text"].as_str().unwrap();
    assert_eq!(
        text.matches("QUICKFIX_ADMIN_PASSWORD").count(),
        1,
        "named once, as a secret: {text}"
    );
    assert!(!names(&container["environment"]).contains(&"QUICKFIX_ADMIN_PASSWORD"));
    assert!(
        !container["command"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("password")
    );
    // The long-running services never get the admin password.
    for (name, task) in tf["tasks"].as_object().unwrap() {
        if task["container"]["name"] != container["name"] {
            assert!(
                !task["container"]["text"]
                    .as_str()
                    .unwrap()
                    .contains("QUICKFIX_ADMIN_PASSWORD"),
                "{name} has the admin password"
            );
        }
    }
    // The example environment declares the secret, hands the same one to the task and to the
    // execution role that reads it, and keeps passwords out of the plain settings.
    let example = &tf["example"];
    let secret = example["modules"]["compute"]["admin_password_secret_arn"]
        .as_str()
        .expect("the example passes the admin password secret");
    let declared_secret = secret
        .strip_prefix("${aws_secretsmanager_secret.")
        .and_then(|s| s.strip_suffix(".arn}"))
        .unwrap_or_else(|| panic!("{secret} is not a Secrets Manager secret"));
    assert!(words(&example["secrets"]).contains(&declared_secret));
    assert_eq!(
        example["modules"]["iam"]["admin_password_secret_arn"],
        secret
    );
    assert!(words(&tf["execution_role_secrets"]).contains(&"${var.admin_password_secret_arn}"));
    for setting in names(&example["modules"]["compute"]["environment"]) {
        assert!(
            !setting.contains("PASSWORD") && !setting.contains("SECRET"),
            "{setting} belongs in Secrets Manager"
        );
    }
}

#[test]
fn the_api_serves_metrics_on_a_port_the_load_balancer_does_not_register() {
    let Some(tf) = declared() else {
        return;
    };
    let api = &tf["tasks"]["api"]["container"];
    assert_eq!(api["command"], r#"["quickfix", "api"]"#);
    let env = &api["environment"];
    assert_eq!(env["QUICKFIX_ADDR"], "0.0.0.0:5001");
    assert_eq!(env["QUICKFIX_TRUSTED_PROXY_HEADER"], "x-forwarded-for");
    let metrics = env["QUICKFIX_METRICS_ADDR"]
        .as_str()
        .expect("the API task sets QUICKFIX_METRICS_ADDR");
    let metrics_port: u64 = metrics
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or_else(|| panic!("{metrics} has no port"));
    assert_eq!(metrics, "0.0.0.0:9090");
    assert_eq!(api["secrets"]["JWT_SECRET"], "${var.jwt_secret_arn}");
    assert!(!names(env).contains(&"JWT_SECRET"));

    let ports: Vec<u64> = api["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    assert!(
        ports.contains(&5001) && ports.contains(&metrics_port),
        "{ports:?}"
    );
    let registered = tf["api_load_balancer"].as_array().unwrap();
    assert!(
        !registered.is_empty(),
        "the API sits behind a load balancer"
    );
    for target in registered {
        assert_eq!(target["container_name"], "api");
        assert_eq!(
            target["container_port"], 5001,
            "only the API port is registered: {target}"
        );
    }
}

#[test]
fn the_kms_key_lets_cloudwatch_logs_encrypt_only_the_ecs_log_group() {
    let Some(tf) = declared() else {
        return;
    };
    let statements = tf["kms_statements"].as_array().unwrap();
    let logs = statements
        .iter()
        .find(|s| {
            s["principals"].as_array().unwrap().iter().any(|p| {
                p["type"] == "Service"
                    && words(&p["identifiers"])
                        .iter()
                        .any(|id| id.starts_with("logs.") && id.ends_with(".amazonaws.com"))
            })
        })
        .expect("a key policy statement for logs.<region>.amazonaws.com");
    let context = logs["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["variable"] == "kms:EncryptionContext:aws:logs:arn")
        .unwrap_or_else(|| panic!("no encryption-context condition: {logs}"));
    assert!(
        matches!(context["test"].as_str(), Some("ArnEquals" | "ArnLike")),
        "{context}"
    );
    let values = context["values"].as_str().unwrap();
    assert!(
        values.contains("arn:aws:logs:") && values.contains(":log-group:"),
        "{values}"
    );
    assert!(
        !values.contains("log-group:*"),
        "one log group, not all: {values}"
    );

    // The key policy names the very log group the compute module creates.
    let example = &tf["example"];
    let log_group = example["modules"]["compute"]["log_group_name"]
        .as_str()
        .expect("the example names the log group");
    let granted = example["modules"]["messaging"]["log_group_names"].to_string();
    assert!(granted.contains(log_group), "{granted} vs {log_group}");
}

#[test]
fn aws_services_use_the_kms_key_only_for_this_account() {
    let Some(tf) = declared() else {
        return;
    };
    let mut messaging_services = 0;
    for statement in tf["kms_statements"].as_array().unwrap() {
        let services: Vec<&str> = statement["principals"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["type"] == "Service")
            .flat_map(|p| words(&p["identifiers"]))
            .collect();
        if services.is_empty() || statement["effect"] != "Allow" {
            continue;
        }
        let conditions: Vec<&str> = statement["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["variable"].as_str())
            .collect();
        assert!(
            !conditions.is_empty(),
            "{services:?} may use the key unconditionally: {statement}"
        );
        if services
            .iter()
            .any(|s| *s == "sns.amazonaws.com" || *s == "sqs.amazonaws.com")
        {
            messaging_services += 1;
            assert!(
                conditions
                    .iter()
                    .any(|c| *c == "aws:SourceAccount" || *c == "aws:SourceArn"),
                "{services:?} without aws:SourceAccount or aws:SourceArn: {statement}"
            );
        }
    }
    assert!(
        messaging_services > 0,
        "SNS needs the key to deliver to the encrypted queues"
    );
}

#[test]
fn the_image_runs_the_api_by_default() {
    let dockerfile = include_str!("../Dockerfile");
    let cmd = dockerfile
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("CMD "))
        .expect("the Dockerfile has a CMD");
    let cmd: Vec<String> = serde_json::from_str(cmd).expect("CMD in exec form");
    assert_eq!(cmd, ["quickfix", "api"]);
    assert!(
        dockerfile.contains("quickfix quickfix dev"),
        "the header shows how to run the demo"
    );
}

#[test]
fn the_compose_api_has_a_usable_jwt_secret_and_a_metrics_listener() {
    let file = include_str!("../docker-compose.yml");
    let setting = |name: &str| {
        file.lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("{name} is missing"))
            .trim()
    };
    let secret = setting("JWT_SECRET");
    // `${JWT_SECRET:-fallback}` runs with the fallback; `${JWT_SECRET:?…}` demands one.
    if !secret.starts_with("${JWT_SECRET:?") {
        let fallback = secret
            .strip_prefix("${JWT_SECRET:-")
            .and_then(|s| s.strip_suffix('}'))
            .unwrap_or(secret);
        let placeholder = include_str!("../.env.example")
            .lines()
            .find_map(|l| l.strip_prefix("JWT_SECRET="))
            .expect(".env.example has a JWT_SECRET placeholder");
        assert!(fallback.len() >= 32, "{fallback} is shorter than 32 bytes");
        assert_ne!(fallback, placeholder, "the example placeholder is refused");
    }
    assert!(setting("QUICKFIX_METRICS_ADDR").ends_with(":9090"));

    // Every service built from the QuickFix image says which command it runs.
    let services = file
        .split("\nservices:\n")
        .nth(1)
        .expect("a services section")
        .lines()
        .take_while(|l| l.is_empty() || l.starts_with(' ') || l.starts_with('#'));
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    for line in services {
        if line.starts_with("  ") && !line.starts_with("   ") && line.trim_end().ends_with(':') {
            blocks.push(vec![line]);
        } else if let Some(block) = blocks.last_mut() {
            block.push(line);
        }
    }
    let ours: Vec<&Vec<&str>> = blocks
        .iter()
        .filter(|b| b.iter().any(|l| l.trim() == "image: quickfix:local"))
        .collect();
    assert_eq!(ours.len(), 3, "provision, api, worker");
    for block in ours {
        assert!(
            block.iter().any(|l| l.trim().starts_with("command: [")),
            "{} names no command",
            block[0].trim()
        );
    }
}
