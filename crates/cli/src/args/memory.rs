//! Arguments of `memory`.

use clap::{Args, Subcommand};

/// Which memories: the filters `list` and `search` share.
#[derive(Debug, Clone, Args)]
pub struct MemoryFilterArgs {
    /// Only memories of this kind (note, fact, lesson, summary...)
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// Only memories of this scope: `global`, `task:ID` or `env:NAME|ID`
    #[arg(long, value_name = "SCOPE")]
    pub scope: Option<String>,
    /// Include archived memories
    #[arg(long)]
    pub archived: bool,
}

#[derive(Debug, Subcommand)]
pub enum MemoryCommand {
    /// Remember something; prints the new memory's id
    Add {
        /// What to remember
        content: String,
        /// What sort of memory it is [default: note]
        #[arg(long, value_name = "KIND")]
        kind: Option<String>,
        /// What it belongs to: `global`, `task:ID` or `env:NAME|ID` [default: global]
        #[arg(long, value_name = "SCOPE")]
        scope: Option<String>,
        /// 0.0 to 1.0; more important memories rank higher [default: 0.5]
        #[arg(long, value_name = "N", allow_negative_numbers = true)]
        importance: Option<f64>,
    },
    /// Find memories by meaning and keywords, best first
    Search {
        query: String,
        /// At most this many hits
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Drop hits less relevant than this, 0..1 [default: this device's floor, see
        /// `memory floor`]
        #[arg(long, value_name = "F")]
        floor: Option<f64>,
        #[command(flatten)]
        filter: MemoryFilterArgs,
    },
    /// List memories, newest first
    List {
        /// At most this many
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[command(flatten)]
        filter: MemoryFilterArgs,
    },
    /// Show one memory
    Show { id: String },
    /// Change a memory's text, kind, scope or importance; what is not given stays. A new text
    /// is indexed again (by meaning too when the model is installed)
    Edit {
        id: String,
        /// The new text
        #[arg(long, value_name = "TEXT")]
        content: Option<String>,
        /// The new kind (note, fact, lesson...)
        #[arg(long, value_name = "KIND")]
        kind: Option<String>,
        /// The new scope: `global`, `task:ID` or `env:NAME|ID`
        #[arg(long, value_name = "SCOPE")]
        scope: Option<String>,
        /// The new importance, 0.0 to 1.0
        #[arg(long, value_name = "N", allow_negative_numbers = true)]
        importance: Option<f64>,
    },
    /// Archive a memory: hidden from default lists and searches, kept and findable with
    /// --archived
    Archive { id: String },
    /// Rebuild the search indexes (vectors with the installed model, and full text)
    Reindex,
    /// Show this device's relevance floor for search, or set it (0..1; 0 keeps everything)
    Floor { value: Option<f64> },
    /// Print the context an agent run of TASK would be given now, as the markdown file the
    /// run sees as $FLIGHTDECK_CONTEXT_FILE (nothing is counted as used)
    Context {
        /// Task id
        task: String,
    },
    /// Show or change what agent runs are given as context on this device
    ContextSettings {
        /// Give agent runs a context file (on by default)
        #[arg(long, value_name = "on|off", value_parser = parse_on_off)]
        context: Option<bool>,
        /// At most this many memories in it
        #[arg(long, value_name = "N")]
        memories: Option<usize>,
        /// At most this many similar past runs in it
        #[arg(long, value_name = "N")]
        runs: Option<usize>,
        /// The file's size cap in bytes; whole entries past it are left out, least relevant
        /// first (at least 1024)
        #[arg(long, value_name = "BYTES")]
        max_bytes: Option<usize>,
    },
}

fn parse_on_off(text: &str) -> Result<bool, String> {
    match text {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        other => Err(format!("`{other}` is neither on nor off")),
    }
}
