//! Moving data in and out: what an import did (or, dry, would do), what an export wrote, and
//! the progress of either as the app shows it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What an import did (or, dry, would do) with one entity's records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityCounts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub skipped: u64,
}

/// A secret variable an environment names, whose value stays in its machine's keyring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretName {
    pub environment: String,
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    pub dry_run: bool,
    pub format_version: u32,
    pub schema_version: u32,
    pub entities: BTreeMap<String, EntityCounts>,
    /// The secret variables the archive's environments name: their values are not in it.
    pub secrets_to_set: Vec<SecretName>,
    /// Imported memories embedded for search by meaning.
    pub memories_indexed: u64,
}

/// An export written to a file, as the app reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportSummary {
    pub path: String,
    pub records: u64,
    pub bytes: u64,
    /// Records per entity.
    pub counts: BTreeMap<String, u64>,
    /// The secret variables to set again after an import elsewhere.
    pub secrets: Vec<SecretName>,
}

/// How far an import or an export is: `phase` is `checking` (an import reading every record
/// before writing any), `writing` (an import's transaction) or `exporting`; `total` is known
/// once the records are counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferProgress {
    pub phase: String,
    pub records: u64,
    pub total: Option<u64>,
    pub bytes: u64,
}
