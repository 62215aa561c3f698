//! A temporary talaria home per test, and running the binary in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::artifacts::{artifacts, workspace_root};

pub struct TestHome {
    pub dir: tempfile::TempDir,
    /// Extra environment for every run.
    pub env: Vec<(String, String)>,
}

/// What a run of `talaria` produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Asserts the exit code, showing the output when it differs.
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn ok(self) -> Run {
        self.expect_code(0)
    }

    pub fn from_output(out: std::process::Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Waits for a run started with [`TestHome::spawn`].
    pub fn wait(child: std::process::Child) -> Run {
        Run::from_output(child.wait_with_output().expect("wait for talaria"))
    }
}

impl TestHome {
    pub fn new() -> TestHome {
        let dir = tempfile::tempdir().expect("temp dir");
        TestHome {
            dir,
            env: Vec::new(),
        }
    }

    /// `$TALARIA_HOME`.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("talaria-home")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    pub fn set_env(&mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) {
        self.env
            .push((key.into(), value.as_ref().to_string_lossy().into_owned()));
    }

    /// Runs `talaria ARGS` with this home, no inherited TALARIA_* settings, no stdin.
    /// Runs `talaria chat` on a real terminal (`script` gives it a pty) with the home's
    /// environment, types `lines` one at a time (Enter is a carriage return alone, as a
    /// terminal sends it), then Ctrl+D. Returns the run and everything the screen showed.
    pub fn type_into_repl(&self, lines: &[&str], pause: std::time::Duration) -> (Run, String) {
        self.type_into_repl_with(&[], lines, pause)
    }

    /// `talaria ARGS` on a pseudo-terminal (`script` gives it one) with this home's
    /// environment, a dumb terminal and piped stdio, ready to spawn.
    pub fn on_pty(&self, args: &[&str]) -> std::process::Command {
        let talaria = crate::artifacts().talaria.clone();
        let quoted: Vec<String> = args
            .iter()
            .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
            .collect();
        let mut script = std::process::Command::new("script");
        script.args([
            "-q",
            "-e",
            "-c",
            &format!("{} {}", talaria.display(), quoted.join(" ")),
            "/dev/null",
        ]);
        for (key, value) in self.command(&[]).get_envs() {
            match value {
                Some(value) => script.env(key, value),
                None => script.env_remove(key),
            };
        }
        script
            .env("TERM", "dumb")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        script
    }

    /// [`TestHome::type_into_repl`] with flags after `chat` (`-c`, say).
    pub fn type_into_repl_with(
        &self,
        flags: &[&str],
        lines: &[&str],
        pause: std::time::Duration,
    ) -> (Run, String) {
        use std::io::Write;
        let mut args = vec!["chat"];
        args.extend_from_slice(flags);
        let mut script = self.on_pty(&args);
        let mut child = script.spawn().expect("drive the REPL");
        let mut stdin = child.stdin.take().expect("drive the REPL");
        for line in lines {
            write!(stdin, "{line}\r").expect("drive the REPL");
            stdin.flush().expect("drive the REPL");
            // Let each line be read on its own, as typed.
            std::thread::sleep(pause);
        }
        stdin.write_all(b"\x04").expect("drive the REPL");
        drop(stdin);
        let run = Run::wait(child);
        let screen = format!("{}{}", run.stdout, run.stderr);
        (run, screen)
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().expect("run talaria");
        Run::from_output(out)
    }

    /// Starts `talaria ARGS` without waiting (for runs that must overlap); finish it
    /// with [`Run::wait`].
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start talaria")
    }

    /// The command a run uses: this home, a private `HOME`, no stdin, and none of the
    /// caller's settings that would leak into the test (TALARIA_*, the Codex home, an
    /// API key, a display that would open a browser).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&artifacts().talaria);
        cmd.args(args)
            .stdin(Stdio::null())
            .env("TALARIA_HOME", self.root())
            .env("HOME", self.user_home());
        for (key, _) in std::env::vars() {
            if key.starts_with("TALARIA_") && key != "TALARIA_HOME" {
                cmd.env_remove(key);
            }
        }
        for key in [
            "CODEX_HOME",
            "OPENAI_API_KEY",
            "OPENROUTER_API_KEY",
            "DISPLAY",
            "WAYLAND_DISPLAY",
            "BROWSER",
            "RUST_LOG",
        ] {
            cmd.env_remove(key);
        }
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
        cmd
    }

    /// The `HOME` runs see (so `~/.codex` is inside the test's folder).
    pub fn user_home(&self) -> PathBuf {
        self.dir.path().join("user-home")
    }

    /// Makes a plugin folder `dest` from a fixture crate: its plugin.toml (optionally
    /// rewritten) and the built library.
    pub fn plugin_folder(
        &self,
        dest: &Path,
        fixture: &str,
        package: &str,
        edit_manifest: impl FnOnce(String) -> String,
    ) -> PathBuf {
        std::fs::create_dir_all(dest).expect("create plugin folder");
        let manifest = std::fs::read_to_string(workspace_root().join(fixture).join("plugin.toml"))
            .expect("fixture manifest");
        std::fs::write(dest.join("plugin.toml"), edit_manifest(manifest)).expect("write manifest");
        let lib = artifacts().library(package);
        std::fs::copy(lib, dest.join(lib.file_name().expect("file name"))).expect("copy library");
        dest.to_path_buf()
    }
}

impl Default for TestHome {
    fn default() -> Self {
        Self::new()
    }
}
