//! `talaria codex-runtime [status|on|off|auto|migrate]` and the REPL's `/codex-runtime`.
//!
//! `on` (also `codex_app_server`, `codex`, `enable`): checks the codex binary and its
//! version (exit 4 with the install command, nothing written), reads codex's account and
//! offers codex's own sign-in when it has none, migrates the managed block (exit 2 when
//! the file cannot take it, nothing written), then makes `codex_app_server` the profile's
//! runtime — every time, also when it already was. `off` / `auto` (also `default`,
//! `disable`) go back to the native runtime without looking at codex and leave the block.
//! `migrate` re-runs the migration alone; `status` (the default) says where things stand.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use talaria_sdk::command::{CommandOutcome, CommandRequest};
use talaria_sdk::methods::RuntimeDefaultMethod;
use talaria_sdk::turn::RuntimeDefaultRequest;
use talaria_sdk::{
    ApprovalKind, ApprovalRequest, CallContext, Error, ErrorKind, Event, Host, Result,
};

use crate::migrate::{self, Inputs, Refused, Report};
use crate::rpc::Inbound;
use crate::session::{self, CodexSession, REQUEST_TIMEOUT};
use crate::settings::Settings;
use crate::RUNTIME_ID;

pub const NAME: &str = "codex-runtime";

const USAGE: &str = "usage: talaria codex-runtime [status|on|off|auto|migrate]\n  on (codex_app_server, codex, enable): run turns in the official `codex app-server` from the next session, after checking codex and migrating MCP servers into codex's config\n  off, auto (default, disable): back to talaria's native runtime\n  migrate: re-write talaria's section of $CODEX_HOME/config.toml\n  status: the runtime in use, codex's version, account and config";

/// How long a sign-in through codex may take.
const LOGIN_LIMIT: Duration = Duration::from_secs(15 * 60);

pub struct CodexRuntimeCommand {
    host: Host,
}

enum Action {
    Status,
    On,
    Off,
    Migrate,
}

impl CodexRuntimeCommand {
    pub fn new(host: Host) -> Self {
        CodexRuntimeCommand { host }
    }
}

impl talaria_sdk::Command for CodexRuntimeCommand {
    fn run(&self, request: CommandRequest, cx: &CallContext) -> Result<CommandOutcome> {
        let action = match request.args.as_slice() {
            [] => Action::Status,
            [one] => match one.as_str() {
                "status" => Action::Status,
                "on" | "codex_app_server" | "codex" | "enable" => Action::On,
                "off" | "auto" | "default" | "disable" => Action::Off,
                "migrate" => Action::Migrate,
                "-h" | "--help" | "help" => {
                    println!("{USAGE}");
                    return Ok(CommandOutcome::exit(0));
                }
                other => {
                    return Err(Error::invalid(format!(
                        "unknown codex-runtime action {other:?}\n{USAGE}"
                    )))
                }
            },
            _ => return Err(Error::invalid(format!("too many arguments\n{USAGE}"))),
        };
        let settings = Settings::load(&self.host)?;
        match action {
            Action::Status => self.status(&settings, cx)?,
            Action::On => self.on(&settings, &request, cx)?,
            Action::Off => {
                let now = self.set_runtime("auto", cx)?;
                println!(
                    "profile {} runs turns with talaria's native runtime (auto) from the next session; talaria's section in {} is left in place",
                    now.profile,
                    config_path(&settings).display()
                );
            }
            Action::Migrate => {
                let codex = settings
                    .check_version()
                    .ok()
                    .and_then(|_| start(&settings).ok());
                let report = self.migrate(&settings, codex.as_ref(), cx)?;
                print_report(&settings, &report);
            }
        }
        Ok(CommandOutcome::exit(0))
    }
}

impl CodexRuntimeCommand {
    fn set_runtime(&self, id: &str, cx: &CallContext) -> Result<talaria_sdk::turn::RuntimeDefault> {
        self.host.call::<RuntimeDefaultMethod>(
            &RuntimeDefaultRequest {
                set: Some(id.to_owned()),
            },
            cx,
        )
    }

    fn on(&self, settings: &Settings, request: &CommandRequest, cx: &CallContext) -> Result<()> {
        // Nothing is written before codex is known to be usable.
        let version = settings.check_version()?;
        let codex = start(settings)?;
        match read_account(&codex)? {
            Some(who) => println!(
                "codex {version} ({}) is signed in: {who}",
                settings.bin.display()
            ),
            None => self.offer_login(&codex, request, cx)?,
        }
        let report = self.migrate(settings, Some(&codex), cx)?;
        let now = self.set_runtime(RUNTIME_ID, cx)?;
        println!(
            "profile {} runs turns in codex app-server ({RUNTIME_ID}) from the next session",
            now.profile
        );
        print_report(settings, &report);
        Ok(())
    }

    fn status(&self, settings: &Settings, cx: &CallContext) -> Result<()> {
        let current = self
            .host
            .call::<RuntimeDefaultMethod>(&RuntimeDefaultRequest { set: None }, cx)?;
        println!("runtime: {} (profile {})", current.runtime, current.profile);
        match settings.check_version() {
            Ok(version) => {
                println!(
                    "codex: {version} at {} (from {})",
                    settings.bin.display(),
                    settings.bin_source
                );
                match start(settings).and_then(|c| read_account(&c)) {
                    Ok(Some(who)) => println!("codex account: {who}"),
                    Ok(None) => println!("codex account: not signed in (`talaria codex-runtime on` offers to sign in)"),
                    Err(e) => println!("codex account: unknown ({})", e.message),
                }
            }
            Err(e) => println!("codex: not usable: {}", e.message),
        }
        println!("codex home: {}", settings.codex_home().display());
        let path = config_path(settings);
        let managed = std::fs::read_to_string(&path)
            .map(|t| t.lines().any(|l| l == migrate::BEGIN))
            .unwrap_or(false);
        println!(
            "talaria's section in {}: {}",
            path.display(),
            if managed {
                "present"
            } else {
                "absent (`talaria codex-runtime migrate` writes it)"
            }
        );
        Ok(())
    }

    /// Codex has no account: sign it in through its own `account/login/start` (device
    /// code), shown in talaria's UI. Never talaria's tokens, never codex's auth.json.
    fn offer_login(
        &self,
        codex: &CodexSession,
        request: &CommandRequest,
        cx: &CallContext,
    ) -> Result<()> {
        if !request.interactive {
            cx.emit(&Event::Warning {
                message: "codex is not signed in: run `talaria codex-runtime on` on a terminal to sign it in, or `codex login`".into(),
            });
            return Ok(());
        }
        let ask = ApprovalRequest {
            kind: ApprovalKind::Question,
            call_id: String::new(),
            summary: "sign codex in to ChatGPT now (codex's own login, kept in CODEX_HOME)".into(),
            command: None,
            cwd: None,
            patch: None,
            tool: None,
            plugin: None,
        };
        if !cx.request_approval(&ask)?.approved() {
            cx.emit(&Event::Warning {
                message:
                    "codex stays signed out; turns will fail until you sign it in (`codex login`)"
                        .into(),
            });
            return Ok(());
        }
        login(codex, cx)
    }

    fn migrate(
        &self,
        settings: &Settings,
        codex: Option<&CodexSession>,
        cx: &CallContext,
    ) -> Result<Report> {
        let servers: BTreeMap<String, Value> =
            self.host.config_section("mcp_servers")?.unwrap_or_default();
        let plugins = match codex {
            Some(codex) => installed_plugins(codex),
            None => {
                cx.emit(&Event::Warning {
                    message: "codex could not be asked for its installed plugins; only MCP servers were migrated".into(),
                });
                BTreeMap::new()
            }
        };
        let inputs = Inputs {
            servers,
            talaria_tools: Some(talaria_tools(&self.host)?),
            plugins,
        };
        let path = config_path(settings);
        write_migration(&path, &inputs)
    }
}

fn config_path(settings: &Settings) -> PathBuf {
    settings.codex_home().join("config.toml")
}

pub(crate) fn start(settings: &Settings) -> Result<CodexSession> {
    session::handshake(session::start(settings)?, settings)
}

/// `Some(who)` when codex is signed in (or needs no OpenAI login, as with an API-key
/// provider); `None` when it needs a sign-in.
pub(crate) fn read_account(codex: &CodexSession) -> Result<Option<String>> {
    let account = codex
        .conn
        .request("account/read", &json!({}), REQUEST_TIMEOUT)
        .map_err(|e| session::failure(&codex.conn, "account/read", e))?;
    let who = &account["account"];
    Ok(match who["type"].as_str() {
        Some("chatgpt") => Some(format!(
            "ChatGPT {} ({})",
            who["email"].as_str().unwrap_or("account"),
            who["planType"].as_str().unwrap_or("plan unknown")
        )),
        Some(other) => Some(format!("{other} account")),
        None if account["requiresOpenaiAuth"] == false => {
            Some("no OpenAI login needed (codex's model provider has its own key)".into())
        }
        None => None,
    })
}

fn login(codex: &CodexSession, cx: &CallContext) -> Result<()> {
    let started = codex
        .conn
        .request(
            "account/login/start",
            &json!({ "type": "chatgptDeviceCode" }),
            REQUEST_TIMEOUT,
        )
        .map_err(|e| session::failure(&codex.conn, "account/login/start", e))?;
    let (Some(url), Some(code)) = (
        started["verificationUrl"].as_str(),
        started["userCode"].as_str(),
    ) else {
        return Err(Error::other(format!(
            "codex answered account/login/start without a device code: {started}"
        )));
    };
    let login_id = started["loginId"].as_str().unwrap_or_default().to_owned();
    cx.emit(&Event::LoginCode {
        verification_url: url.to_owned(),
        user_code: code.to_owned(),
        expires_in_secs: LOGIN_LIMIT.as_secs(),
    });
    let deadline = Instant::now() + LOGIN_LIMIT;
    while Instant::now() < deadline {
        cx.check_cancelled()?;
        match codex.conn.next(Duration::from_millis(200)) {
            Some(Inbound::Notification { method, params })
                if method == "account/login/completed" =>
            {
                if params["loginId"].as_str().is_some_and(|id| id != login_id) {
                    continue;
                }
                if params["success"] == true {
                    // Codex has written its own auth.json; its account/read says who.
                    return match read_account(codex)? {
                        Some(who) => {
                            println!("codex is signed in: {who}");
                            Ok(())
                        }
                        None => Err(Error::new(
                            ErrorKind::Auth,
                            "codex said its sign-in succeeded but reports no account; run `codex login` and try again",
                        )),
                    };
                }
                return Err(Error::new(
                    ErrorKind::Auth,
                    format!(
                        "codex's sign-in failed: {}",
                        params["error"].as_str().unwrap_or("no reason given")
                    ),
                ));
            }
            Some(Inbound::Request { id, method, .. }) => {
                let _ =
                    codex
                        .conn
                        .reply_error(&id, -32601, &format!("Unsupported method: {method}"));
            }
            Some(Inbound::Closed) => return Err(session::died(&codex.conn, "signing in")),
            _ => {}
        }
    }
    Err(Error::new(
        ErrorKind::Auth,
        "codex's sign-in timed out; run `talaria codex-runtime on` again",
    ))
}

/// Codex plugins installed and available, as `name@marketplace` → enabled.
fn installed_plugins(codex: &CodexSession) -> BTreeMap<String, bool> {
    let Ok(list) = codex
        .conn
        .request("plugin/list", &json!({}), REQUEST_TIMEOUT)
    else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for market in list["marketplaces"].as_array().into_iter().flatten() {
        let market_name = market["name"].as_str().unwrap_or_default();
        for plugin in market["plugins"].as_array().into_iter().flatten() {
            let available = plugin["availability"]
                .as_str()
                .is_none_or(|a| a == "AVAILABLE");
            if plugin["installed"] != true || !available {
                continue;
            }
            let id = match (plugin["id"].as_str(), plugin["name"].as_str()) {
                (Some(id), _) if id.contains('@') => id.to_owned(),
                (_, Some(name)) => format!("{name}@{market_name}"),
                (Some(id), None) => format!("{id}@{market_name}"),
                (None, None) => continue,
            };
            out.insert(id, plugin["enabled"].as_bool().unwrap_or(true));
        }
    }
    out
}

/// talaria's own tool server: this binary, `mcp serve` (with `-p NAME` for a named
/// profile), and `TALARIA_HOME` in its environment (codex passes MCP servers only a few
/// variables of its own).
fn talaria_tools(host: &Host) -> Result<talaria_sdk::mcp::McpServer> {
    let info = host.info();
    let exe = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|e| Error::other(format!("cannot find talaria's own path: {e}")))?;
    let mut args = vec!["mcp".to_owned(), "serve".to_owned()];
    let profile_dir = PathBuf::from(&info.profile_dir);
    let home = if info.profile == "default" || info.profile.is_empty() {
        profile_dir
    } else {
        args.extend(["-p".to_owned(), info.profile.clone()]);
        // `$TALARIA_HOME/profiles/NAME`
        profile_dir
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or(profile_dir)
    };
    Ok(talaria_sdk::mcp::McpServer {
        command: Some(exe.display().to_string()),
        args,
        env: BTreeMap::from([("TALARIA_HOME".to_owned(), home.display().to_string())]),
        ..talaria_sdk::mcp::McpServer::default()
    })
}

/// Runs the migration on `path` and writes the result atomically; exit 2 with the reason
/// when the file is invalid, read-only or cannot be written (a full disk keeps the old
/// file).
///
/// The read-modify-write holds a lock (`.config.toml.talaria.lock` in `$CODEX_HOME`) so
/// two talaria processes migrating at once (two profiles sharing one codex home) cannot
/// interleave. Codex does not take this lock; the atomic rename is what keeps codex from
/// ever reading a torn file.
pub fn write_migration(path: &Path, inputs: &Inputs) -> Result<Report> {
    let refuse = |why: String| Error::invalid(format!("{}: {why}", path.display()));
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| refuse(format!("cannot create its folder ({e})")))?;
    let _lock = lock(&sibling(path, ".", ".talaria.lock"))
        .map_err(|e| refuse(format!("cannot lock it ({e})")))?;
    // Holding the lock, no other talaria is mid-write: a temp file is a killed writer's.
    remove_stale_temps(path);
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(refuse(format!("cannot read it ({e})"))),
    };
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().readonly() {
            return Err(refuse(
                "it is read-only, so talaria did not change it; make it writable (or set a writable `[codex] home`) and run `talaria codex-runtime migrate`".into(),
            ));
        }
    }
    let report = migrate::migrate(&existing, inputs).map_err(|Refused(why)| refuse(why))?;
    if report.changed {
        atomic_write(path, &report.text).map_err(|e| {
            refuse(format!(
                "cannot write it ({e}); the file is unchanged, so run `talaria codex-runtime migrate` again once that is fixed"
            ))
        })?;
    }
    Ok(report)
}

/// `PREFIX` + the file's name + `SUFFIX`, beside it.
fn sibling(path: &Path, prefix: &str, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("config.toml");
    path.with_file_name(format!("{prefix}{name}{suffix}"))
}

/// An exclusive lock on `path` (created if missing), held until the file is dropped;
/// the kernel releases it when the process dies, so a killed talaria never leaves it held.
fn lock(path: &Path) -> std::io::Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)?;
    file.lock()?;
    Ok(file)
}

/// `.config.toml.talaria-tmp-`: the prefix of the migration's temp files.
fn temp_prefix(path: &Path) -> String {
    sibling(path, ".", ".talaria-tmp-")
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Deletes temp files a killed migration left (only called under the lock).
fn remove_stale_temps(path: &Path) {
    let prefix = temp_prefix(path);
    let Some(entries) = path.parent().and_then(|d| std::fs::read_dir(d).ok()) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A temp file beside `path` (same file system, so the rename is atomic), written,
/// synced, renamed over `path`, then the folder synced: a crash leaves the old file or
/// the new one; a failed write (ENOSPC) removes the temp file and leaves the old one.
fn atomic_write(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    // A CODEX_HOME talaria creates holds codex's login once codex signs in: the user's
    // alone, as codex makes it.
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&temp_prefix(path))
        .tempfile_in(dir)?;
    if let Ok(meta) = std::fs::metadata(path) {
        tmp.as_file().set_permissions(meta.permissions())?;
    }
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    pause_before_rename(path);
    tmp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The crash-safety tests' hook, as the host's (debug builds only): with
/// `TALARIA_TEST_PAUSE_BEFORE_RENAME=config.toml` the write stops just before its rename,
/// creates `config.toml.paused` beside the file and waits for the test's `kill -9`.
fn pause_before_rename(path: &Path) {
    #[cfg(debug_assertions)]
    if let Some(name) = std::env::var_os("TALARIA_TEST_PAUSE_BEFORE_RENAME") {
        if path.file_name() == Some(name.as_os_str()) {
            let _ = std::fs::File::create(sibling(path, "", ".paused"));
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = path;
}

fn print_report(settings: &Settings, report: &Report) {
    let path = config_path(settings);
    println!(
        "{} talaria's section of {}:",
        if report.changed {
            "wrote"
        } else {
            "unchanged:"
        },
        path.display()
    );
    if report.default_permissions {
        println!(
            "  default_permissions = \"{}\"",
            migrate::DEFAULT_PERMISSIONS
        );
    }
    let list = |items: &[String]| {
        if items.is_empty() {
            "none".to_owned()
        } else {
            items.join(", ")
        }
    };
    println!("  MCP servers: {}", list(&report.servers));
    println!("  Codex plugins: {}", list(&report.plugins));
    for note in &report.notes {
        println!("  note: {note}");
    }
}
