//! The `lockdev` binary itself: configuration errors are one clear line and a non-zero exit.

use std::process::Command;

fn lockdev(vars: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lockdev"))
        .env_clear()
        .envs(vars.iter().copied())
        .args(args)
        .output()
        .expect("run lockdev")
}

#[test]
fn a_missing_database_url_names_the_variable_and_exits_non_zero() {
    let out = lockdev(&[("LOCKDEV_ENV", "development")], &["check-config"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("LOCKDEV_DATABASE_URL"), "{stderr}");
}

#[test]
fn an_invalid_value_names_the_variable_and_what_it_expects() {
    for (var, value, expected) in [
        ("LOCKDEV_BIND", "not-an-address", "socket address"),
        ("LOCKDEV_ENV", "staging", "development"),
        ("LOCKDEV_LOG_FORMAT", "xml", "json"),
        ("LOCKDEV_REQUEST_TIMEOUT_SECS", "0", "between 1 and 600"),
        ("LOCKDEV_TRUSTED_PROXIES", "proxy.internal", "CIDR"),
    ] {
        let mut vars =
            vec![("LOCKDEV_ENV", "development"), ("LOCKDEV_DATABASE_URL", "postgres://a:b@127.0.0.1/c")];
        vars.retain(|(k, _)| *k != var);
        vars.push((var, value));
        let out = lockdev(&vars, &["check-config"]);
        assert_eq!(out.status.code(), Some(2), "{var}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{var}: {stderr}");
        assert!(stderr.starts_with(&format!("lockdev: configuration error: {var}:")), "{stderr}");
        assert!(stderr.contains(expected), "{var}: {stderr}");
    }
}

#[test]
fn a_bad_database_url_is_reported_without_its_password() {
    let out = lockdev(
        &[("LOCKDEV_ENV", "development"), ("LOCKDEV_DATABASE_URL", "mysql://app:s3cret-pw@db/x")],
        &["check-config"],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("LOCKDEV_DATABASE_URL"));
    assert!(!stderr.contains("s3cret-pw"), "{stderr}");
}

#[test]
fn a_valid_configuration_is_printed_without_secrets() {
    let out = lockdev(
        &[
            ("LOCKDEV_ENV", "development"),
            ("LOCKDEV_DATABASE_URL", "postgres://app:s3cret-pw@127.0.0.1/lockdev"),
            ("LOCKDEV_MIGRATION_DATABASE_URL", "postgres://owner:0wner-pw@127.0.0.1/lockdev"),
        ],
        &["check-config"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("configuration is valid"));
    assert!(!stdout.contains("s3cret-pw") && !stdout.contains("0wner-pw"), "{stdout}");
}

#[test]
fn production_refuses_plain_http() {
    let out = lockdev(
        &[
            ("LOCKDEV_PUBLIC_URL", "http://clinic.example.com"),
            ("LOCKDEV_DATABASE_URL", "postgres://a:b@db/c?sslmode=verify-full"),
        ],
        &["check-config"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("LOCKDEV_PUBLIC_URL"));
}
