//! Python tools the tests drive (a SwimOS client, Selenium), each in a virtual
//! environment under the target directory, installed on first use with pip.

use std::path::PathBuf;
use std::process::Command;

/// The Python of virtual environment `name`, where `module` imports once `packages` are
/// installed (the first time; pip needs its registry).
pub fn venv(name: &str, module: &str, packages: &[&str]) -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let py = venv.join("bin/python");
    let ready = || {
        Command::new(&py)
            .args(["-c", &format!("import {module}")])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ready() {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 runs");
        assert!(ok.success(), "python3 -m venv failed");
        let ok = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet"])
            .args(packages)
            .status()
            .expect("pip runs");
        assert!(ok.success(), "pip install {packages:?} failed");
    }
    assert!(ready(), "{module} does not import");
    py
}
