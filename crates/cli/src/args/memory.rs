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
    /// Archive a memory: hidden from default lists and searches, kept and findable with
    /// --archived
    Archive { id: String },
    /// Rebuild the search indexes (vectors with the installed model, and full text)
    Reindex,
    /// Show this device's relevance floor for search, or set it (0..1; 0 keeps everything)
    Floor { value: Option<f64> },
}
