//! The command line, as CONTRACT.md fixes it. Every flag is defined here once.

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "talaria",
    version,
    about = "An agent host for your ChatGPT subscription, your MCP servers and your plugins"
)]
pub struct Cli {
    /// Profile to use for this command (see `talaria profile list`)
    #[arg(short = 'p', long = "profile", global = true, value_name = "PROFILE")]
    pub profile: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Talk to the model: a one-shot turn with -q, or an interactive session
    Chat(ChatArgs),
    /// Log in to a provider (ChatGPT device-code login by default)
    Login(LoginArgs),
    /// Forget a provider's stored credentials
    Logout {
        #[command(flatten)]
        provider: ProviderFlag,
    },
    /// Manage the credential pool
    #[command(subcommand)]
    Auth(AuthCommand),
    /// List the models a provider offers
    Models {
        #[command(flatten)]
        provider: ProviderFlag,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// List, install, remove, enable and disable plugins
    #[command(subcommand)]
    Plugins(PluginsCommand),
    /// List runtimes and choose the one that runs turns
    #[command(subcommand)]
    Runtime(RuntimeCommand),
    /// Hand turns to the official `codex app-server`: status | on | off | auto | migrate
    #[command(disable_help_flag = true)]
    CodexRuntime(PluginArgs),
    /// MCP servers: list | test NAME | login NAME | logout NAME | serve [--http PORT]
    #[command(disable_help_flag = true)]
    Mcp(PluginArgs),
    /// Auxiliary-task routing: list [--json]
    #[command(disable_help_flag = true)]
    Aux(PluginArgs),
    /// Stored sessions
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Check plugins, config, credentials and the backend, and say what is wrong
    Doctor {
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Print the profile's log
    Logs {
        /// Only entries newer than this (e.g. 10m, 2h, 1d)
        #[arg(long, value_name = "DURATION")]
        since: Option<String>,
    },
    /// Create, delete, list and select profiles
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// A command an installed plugin provides (`[provides] commands` in its manifest)
    #[command(external_subcommand)]
    External(Vec<String>),
}

/// The arguments of a command a plugin serves, handed over untouched: the plugin
/// defines and parses them (so `talaria mcp --help` is the plugin's own help).
#[derive(Debug, Clone, Args)]
pub struct PluginArgs {
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    pub args: Vec<String>,
}

impl Command {
    /// The name and arguments of a command a plugin serves, if this is one.
    pub fn plugin_command(&self) -> Option<(&str, &[String])> {
        match self {
            Command::CodexRuntime(a) => Some(("codex-runtime", &a.args)),
            Command::Mcp(a) => Some(("mcp", &a.args)),
            Command::Aux(a) => Some(("aux", &a.args)),
            Command::External(words) => words
                .split_first()
                .map(|(name, args)| (name.as_str(), args)),
            _ => None,
        }
    }
}

/// `--json`, as every command that has it spells it.
#[derive(Debug, Clone, Copy, Args)]
pub struct JsonFlag {
    /// Print JSON on stdout (chat: one event per line)
    #[arg(long)]
    pub json: bool,
}

/// `--provider ID`: a provider id; the profile's `model.provider` when absent.
#[derive(Debug, Clone, Args)]
pub struct ProviderFlag {
    /// The provider (default: the profile's `model.provider`)
    #[arg(long, value_name = "ID")]
    pub provider: Option<String>,
}

/// `--approvals ask|auto|deny`.
#[derive(Debug, Clone, Copy, Args)]
pub struct ApprovalsFlag {
    /// How approval requests are answered: ask on the terminal, accept, or decline
    #[arg(long, value_enum, default_value = "ask")]
    pub approvals: ApprovalMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApprovalMode {
    Ask,
    Auto,
    Deny,
}

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// Run one turn with this prompt and exit; the answer goes to stdout
    #[arg(short = 'q', long = "query", value_name = "PROMPT")]
    pub prompt: Option<String>,
    #[arg(short = 'm', long, value_name = "MODEL")]
    pub model: Option<String>,
    #[command(flatten)]
    pub provider: ProviderFlag,
    #[arg(long, value_name = "ID")]
    pub runtime: Option<String>,
    /// Continue the given session
    #[arg(long, value_name = "SESSION_ID", conflicts_with = "continue_last")]
    pub resume: Option<String>,
    /// Continue the most recent session
    #[arg(short = 'c', long = "continue")]
    pub continue_last: bool,
    #[command(flatten)]
    pub json: JsonFlag,
    #[command(flatten)]
    pub approvals: ApprovalsFlag,
    /// Ask for the priority service tier
    #[arg(long)]
    pub fast: bool,
    /// What commands may touch: read-only, workspace-write or danger-full-access
    /// (default: the profile's `[tools] sandbox`)
    #[arg(long, value_enum, value_name = "MODE")]
    pub sandbox: Option<SandboxMode>,
    /// When the coding tools ask: untrusted, on-request, on-failure or never
    /// (default: the profile's `[tools] approval_policy`; Codex's `-a`)
    #[arg(
        short = 'a',
        long = "ask-for-approval",
        value_enum,
        value_name = "POLICY"
    )]
    pub approval_policy: Option<ApprovalPolicy>,
}

/// `--ask-for-approval`: Codex's approval policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApprovalPolicy {
    Untrusted,
    OnRequest,
    OnFailure,
    Never,
}

impl ApprovalPolicy {
    /// The name as `[tools] approval_policy` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalPolicy::Untrusted => "untrusted",
            ApprovalPolicy::OnRequest => "on-request",
            ApprovalPolicy::OnFailure => "on-failure",
            ApprovalPolicy::Never => "never",
        }
    }
}

/// `--sandbox`: Codex's sandbox modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SandboxMode {
    ReadOnly,
    WorkspaceWrite,
    DangerFullAccess,
}

impl SandboxMode {
    /// The name as `[tools] sandbox` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxMode::ReadOnly => "read-only",
            SandboxMode::WorkspaceWrite => "workspace-write",
            SandboxMode::DangerFullAccess => "danger-full-access",
        }
    }
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    #[command(flatten)]
    pub provider: ProviderFlag,
    /// Import the Codex CLI's login from $CODEX_HOME/auth.json (that file is only read)
    #[arg(long)]
    pub import_codex: bool,
    /// Do not open a browser
    #[arg(long)]
    pub no_browser: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// One line per pooled credential
    List {
        #[command(flatten)]
        json: JsonFlag,
        #[command(flatten)]
        provider: ProviderFlag,
    },
    /// Add another account to a provider's pool
    Add {
        provider: String,
        /// Import the Codex CLI's login from $CODEX_HOME/auth.json (that file is only read)
        #[arg(long)]
        import_codex: bool,
        /// Do not open a browser
        #[arg(long)]
        no_browser: bool,
    },
    /// Remove pooled credential N (as numbered by `auth list`)
    Remove {
        index: usize,
        #[command(flatten)]
        provider: ProviderFlag,
    },
    /// Which credential is in use and whether it works
    Status {
        #[command(flatten)]
        json: JsonFlag,
        #[command(flatten)]
        provider: ProviderFlag,
    },
}

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// Every plugin found, with its source, whether it is enabled and whether it loads
    List {
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Install a plugin from a folder holding plugin.toml and the library
    Install {
        path: std::path::PathBuf,
        /// Replace an installed plugin with the same id
        #[arg(long)]
        force: bool,
    },
    /// Remove an installed plugin
    Remove { id: String },
    /// Enable a plugin in this profile
    Enable { id: String },
    /// Disable a plugin in this profile
    Disable { id: String },
    /// Everything known about one plugin (loads it, to list its tools)
    Info {
        id: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Call one tool of a plugin directly, as the agent loop would (for plugin authors)
    Call {
        id: String,
        tool: String,
        /// The tool's arguments as a JSON object
        #[arg(default_value = "{}")]
        args: String,
        #[command(flatten)]
        approvals: ApprovalsFlag,
    },
}

#[derive(Debug, Subcommand)]
pub enum RuntimeCommand {
    List {
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Make this runtime the profile's default (`model.runtime`)
    Use {
        id: String,
    },
    Enable {
        id: String,
    },
    Disable {
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    List {
        #[command(flatten)]
        json: JsonFlag,
    },
    Show {
        id: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    Delete {
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    List,
    Create {
        name: String,
    },
    Delete {
        name: String,
    },
    /// Make a profile the default for later commands
    Use {
        name: String,
    },
}
