//! Runs the embedded example and checks what it prints.

use std::process::Command;

#[test]
fn the_embedded_example_runs_and_tells_its_story() {
    let out = Command::new(env!("CARGO_BIN_EXE_embedded")).output().expect("the example could not be started");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the example failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();

    for expected in [
        "created the MSP admin: admin",
        "created organization: Acme Dental",
        "created user: dana (Organization admin) in Acme Dental",
        "organization: Acme Dental",
        "user: admin (msp_admin)",
        "user: dana (org_admin)",
    ] {
        assert!(lines.contains(&expected), "missing line {expected:?} in:\n{stdout}");
    }
    assert!(
        lines.iter().any(|l| l.starts_with("refused as expected: Only an MSP admin can create")),
        "the refusal is missing:\n{stdout}"
    );

    // The audit log shows the bootstrap, both creations and the refusal, in order.
    let audit: Vec<&str> = lines
        .iter()
        .filter(|l| l.strip_prefix("audit ").is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit())))
        .copied()
        .collect();
    assert_eq!(
        audit,
        vec![
            "audit 1: system user.bootstrap succeeded",
            "audit 2: admin (local) org.create succeeded",
            "audit 3: admin (local) user.create succeeded",
            "audit 4: dana (local) org.create denied",
        ],
        "{stdout}"
    );
    assert_eq!(lines.last(), Some(&"audit chain intact: true (4 records checked)"), "{stdout}");
}
