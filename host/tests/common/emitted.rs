//! Compiling emitted Rust source in a scratch crate and running it.
#![allow(dead_code)] // Each test crate that includes it uses a part.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds (and lints with clippy `-D warnings`) a scratch crate depending on
/// `tinymlp` only, in which each `(module, file text)` of `modules` is a
/// module that `include!`s the text, and whose `main` is `main_body`; runs it
/// and returns its stdout.
pub(crate) fn compile_and_run(name: &str, modules: &[(String, String)], main_body: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core");
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n\
             [dependencies]\ntinymlp = {{ path = {:?} }}\n\n[workspace]\n",
            core.canonicalize().unwrap()
        ),
    )
    .unwrap();
    let mut main = String::from("#![deny(warnings)]\n#![deny(clippy::all)]\n\n");
    for (module, text) in modules {
        let file = format!("{module}.rs");
        std::fs::write(dir.join("src").join(&file), text).unwrap();
        main.push_str(&format!(
            "#[allow(dead_code)]\nmod {module} {{\n    include!({file:?});\n}}\n"
        ));
    }
    main.push_str(&format!("\nfn main() {{\n{main_body}\n}}\n"));
    std::fs::write(dir.join("src/main.rs"), main).unwrap();
    // The workspace's lock file, so the build resolves the same versions offline.
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    std::fs::copy(lock, dir.join("Cargo.lock")).unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let clippy = Command::new(&cargo)
        .args(["clippy", "--quiet", "--offline", "--", "-D", "warnings"])
        .current_dir(&dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    assert!(
        clippy.status.success(),
        "clippy failed:\n{}",
        String::from_utf8_lossy(&clippy.stderr)
    );
    let run = Command::new(&cargo)
        .args(["run", "--quiet", "--offline"])
        .current_dir(&dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "build failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8(run.stdout).unwrap()
}

/// The hexadecimal words of one output line.
pub(crate) fn parse_hex(line: &str) -> Vec<u32> {
    line.split_whitespace()
        .map(|w| u32::from_str_radix(w, 16).unwrap())
        .collect()
}
