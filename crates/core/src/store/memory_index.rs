//! SQL for the local derived indexes of memories (never synced): `memory_index` (key, content
//! hash), `memory_fts` (FTS5, rowid = key) and `memory_vec` (sqlite-vec vec0, rowid = key;
//! created at run time with the model's dimension), the index's metadata, and the reads search
//! makes through them (nearest vectors, keyword matches, runs of other tasks).

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::Result;

pub fn meta(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT value FROM memory_index_meta WHERE key = ?1",
            [key],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO memory_index_meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

pub fn vec_table_exists(conn: &Connection) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE name = 'memory_vec'",
            [],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// The vec0 option `memory_vec` is created with (see [`each_vector`]).
const VEC_CHUNKS: &str = "chunk_size=8";

fn create_vec_table(dimension: usize) -> String {
    format!(
        "CREATE VIRTUAL TABLE memory_vec USING vec0(
             embedding float[{dimension}] distance_metric=cosine, {VEC_CHUNKS});"
    )
}

/// Whether `memory_vec` predates [`VEC_CHUNKS`] (sqlite-vec's default of 1,024 vectors a
/// chunk, which makes reading one vector read up to 1.5 MB).
pub fn vec_table_needs_relayout(conn: &Connection) -> Result<bool> {
    let sql: Option<String> = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'memory_vec'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(sql.is_some_and(|sql| !sql.contains(VEC_CHUNKS)))
}

/// Rebuilds `memory_vec` with [`VEC_CHUNKS`], keeping every vector (vec0 cannot be renamed,
/// so they go through a temporary table).
pub fn relayout_vectors(conn: &Connection, dimension: usize) -> Result<()> {
    conn.execute_batch(
        "CREATE TEMP TABLE memory_vec_keep AS SELECT rowid AS key, embedding FROM memory_vec;",
    )?;
    conn.execute_batch(&format!(
        "DROP TABLE memory_vec;
         {}
         INSERT INTO memory_vec (rowid, embedding) SELECT key, embedding FROM memory_vec_keep;
         DROP TABLE memory_vec_keep;",
        create_vec_table(dimension)
    ))?;
    bump_vector_generation(conn)
}

/// Drops every vector and creates an empty vec0 table of `dimension` (cosine distance).
pub fn reset_vectors(conn: &Connection, dimension: usize) -> Result<()> {
    conn.execute_batch(&format!(
        "DROP TABLE IF EXISTS memory_vec;
         {}
         UPDATE memory_index SET has_vector = 0;",
        create_vec_table(dimension)
    ))?;
    bump_vector_generation(conn)
}

/// Marks `memory_vec` as changed, for in-memory copies of it (`memory::vectors`). Every write
/// to `memory_vec` calls it in the same transaction.
fn bump_vector_generation(conn: &Connection) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO memory_index_meta (key, value) VALUES ('vector_generation', '1')
         ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
    )?
    .execute([])?;
    Ok(())
}

/// How many times `memory_vec` has changed (0 before its first write).
pub fn vector_generation(conn: &Connection) -> Result<i64> {
    Ok(meta(conn, "vector_generation")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

// sqlite-vec 0.1.6 (pinned) keeps a vec0 table's vectors in shadow tables: `<name>_rowids`
// (rowid -> chunk_id, chunk_offset) and `<name>_vector_chunks00` (one blob of `chunk_size`
// vectors per chunk). Its own point reads open a blob handle per vector, about 27 us each,
// and walk the chunk's overflow pages; reading the shadow tables with plain SQL is a few us.
// `memory_vec` is created with `chunk_size=8` so a chunk is one 12 KB blob.

/// Calls `f(key, vector)` for every vector in `memory_vec` of `dimension` floats.
pub fn each_vector(
    conn: &Connection,
    dimension: usize,
    mut f: impl FnMut(i64, &[f32]),
) -> Result<()> {
    let mut slots: std::collections::HashMap<i64, Vec<(i64, usize)>> = Default::default();
    let mut stmt = conn.prepare(
        "SELECT rowid, chunk_id, chunk_offset FROM memory_vec_rowids WHERE chunk_id IS NOT NULL",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let offset: i64 = row.get(2)?;
        slots
            .entry(row.get(1)?)
            .or_default()
            .push((row.get(0)?, offset as usize));
    }
    let mut stmt = conn.prepare("SELECT _rowid_, vectors FROM memory_vec_vector_chunks00")?;
    let mut rows = stmt.query([])?;
    let width = dimension * 4;
    while let Some(row) = rows.next()? {
        let Some(keys) = slots.get(&row.get::<_, i64>(0)?) else {
            continue;
        };
        let blob = row.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?;
        for (key, offset) in keys {
            if let Some(bytes) = blob.get(offset * width..(offset + 1) * width) {
                f(*key, &floats(bytes));
            }
        }
    }
    Ok(())
}

/// The memory ids and float vectors (of `dimension`) of index `keys`; keys without a vector
/// are left out.
pub fn vectors_of(
    conn: &Connection,
    keys: &[i64],
    dimension: usize,
) -> Result<Vec<(String, Vec<f32>)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.memory_id, substr(c.vectors, r.chunk_offset * ?2 + 1, ?2)
         FROM memory_vec_rowids r
         JOIN memory_vec_vector_chunks00 c ON c._rowid_ = r.chunk_id
         JOIN memory_index i ON i.key = r.rowid
         WHERE r.rowid = ?1",
    )?;
    let width = (dimension * 4) as i64;
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let found: Option<(String, Vec<u8>)> = stmt
            .query_row(params![key, width], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((memory_id, bytes)) = found.filter(|(_, b)| b.len() as i64 == width) {
            out.push((memory_id, floats(&bytes)));
        }
    }
    Ok(out)
}

fn floats(blob: &[u8]) -> Vec<f32> {
    blob.chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn vec_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|f| f.to_le_bytes()).collect()
}

/// Writes (or rewrites) the index entry of one memory: FTS always, the vector when given.
pub fn index_one(
    conn: &Connection,
    memory_id: &str,
    content: &str,
    content_hash: &str,
    source_updated_at: i64,
    vector: Option<&[f32]>,
) -> Result<()> {
    let existing: Option<(i64, String)> = conn
        .prepare_cached("SELECT key, content_hash FROM memory_index WHERE memory_id = ?1")?
        .query_row([memory_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let key = match existing {
        Some((key, hash)) => {
            if hash != content_hash {
                conn.prepare_cached("DELETE FROM memory_fts WHERE rowid = ?1")?
                    .execute([key])?;
                conn.prepare_cached("INSERT INTO memory_fts (rowid, content) VALUES (?1, ?2)")?
                    .execute(params![key, content])?;
                // The old vector describes the old text: drop it until a new one is computed.
                if vector.is_none() && vec_table_exists(conn)? {
                    conn.prepare_cached("DELETE FROM memory_vec WHERE rowid = ?1")?
                        .execute([key])?;
                    conn.prepare_cached("UPDATE memory_index SET has_vector = 0 WHERE key = ?1")?
                        .execute([key])?;
                    bump_vector_generation(conn)?;
                }
            }
            conn.prepare_cached(
                "UPDATE memory_index SET content_hash = ?2, source_updated_at = ?3 WHERE key = ?1",
            )?
            .execute(params![key, content_hash, source_updated_at])?;
            key
        }
        None => {
            conn.prepare_cached(
                "INSERT INTO memory_index (memory_id, content_hash, source_updated_at)
                 VALUES (?1, ?2, ?3)",
            )?
            .execute(params![memory_id, content_hash, source_updated_at])?;
            let key = conn.last_insert_rowid();
            conn.prepare_cached("INSERT INTO memory_fts (rowid, content) VALUES (?1, ?2)")?
                .execute(params![key, content])?;
            key
        }
    };
    if let Some(v) = vector {
        set_vector(conn, key, v)?;
    }
    Ok(())
}

pub fn set_vector(conn: &Connection, key: i64, v: &[f32]) -> Result<()> {
    // vec0 has no upsert: delete, then insert.
    conn.prepare_cached("DELETE FROM memory_vec WHERE rowid = ?1")?
        .execute([key])?;
    conn.prepare_cached("INSERT INTO memory_vec (rowid, embedding) VALUES (?1, ?2)")?
        .execute(params![key, vec_bytes(v)])?;
    conn.prepare_cached("UPDATE memory_index SET has_vector = 1 WHERE key = ?1")?
        .execute([key])?;
    bump_vector_generation(conn)
}

/// A memory whose index entry is missing or older than its row.
pub struct Stale {
    pub memory_id: String,
    pub content: String,
    pub updated_at: i64,
    /// The entry's key and hash when one exists.
    pub key: Option<i64>,
    pub hash: Option<String>,
    /// Whether the entry has a vector (of the current model: a model change drops them all).
    pub has_vector: bool,
}

/// Memories without an index entry, with one older than the row, or (with `?1`, need
/// vectors) without a vector.
const STALE: &str = "FROM memories m LEFT JOIN memory_index i ON i.memory_id = m.id
     WHERE i.key IS NULL OR i.source_updated_at != m.updated_at OR (?1 AND i.has_vector = 0)";

/// How many memories [`stale`] would give (health counts them without reading them).
pub fn stale_count(conn: &Connection, need_vectors: bool) -> Result<usize> {
    let n: i64 = conn
        .prepare_cached(&format!("SELECT count(*) {STALE}"))?
        .query_row([need_vectors], |r| r.get(0))?;
    Ok(n as usize)
}

/// Memories without an index entry, with one older than the row, or (with `need_vectors`)
/// without a vector.
pub fn stale(conn: &Connection, need_vectors: bool, limit: usize) -> Result<Vec<Stale>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT m.id, m.content, m.updated_at, i.key, i.content_hash,
                COALESCE(i.has_vector, 0) {STALE} LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![need_vectors, limit as i64], |r| {
        Ok(Stale {
            memory_id: r.get(0)?,
            content: r.get(1)?,
            updated_at: r.get(2)?,
            key: r.get(3)?,
            hash: r.get(4)?,
            has_vector: r.get::<_, i64>(5)? != 0,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Removes index entries of memories that no longer exist (deleted on a peer).
pub fn drop_orphans(conn: &Connection, with_vectors: bool) -> Result<usize> {
    let keys: Vec<i64> = conn
        .prepare_cached(
            "SELECT key FROM memory_index WHERE memory_id NOT IN (SELECT id FROM memories)",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for key in &keys {
        conn.execute("DELETE FROM memory_fts WHERE rowid = ?1", [key])?;
        if with_vectors {
            conn.execute("DELETE FROM memory_vec WHERE rowid = ?1", [key])?;
        }
        conn.execute("DELETE FROM memory_index WHERE key = ?1", [key])?;
    }
    if with_vectors && !keys.is_empty() {
        bump_vector_generation(conn)?;
    }
    Ok(keys.len())
}

/// Whether an index entry names a memory that no longer exists.
pub fn has_orphans(conn: &Connection) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM memory_index
                        WHERE memory_id NOT IN (SELECT id FROM memories))",
        [],
        |r| r.get(0),
    )?)
}

/// The `k` nearest vectors by sqlite-vec's own KNN: (memory id, cosine distance), nearest
/// first. Search uses `memory::vectors` instead (about 13x faster at 100,000); this stays as
/// the benchmark's peer.
pub fn knn(conn: &Connection, query: &[f32], k: usize) -> Result<Vec<(String, f64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.memory_id, v.distance FROM
           (SELECT rowid, distance FROM memory_vec WHERE embedding MATCH ?1 AND k = ?2) v
         JOIN memory_index i ON i.key = v.rowid
         ORDER BY v.distance",
    )?;
    let rows = stmt.query_map(params![vec_bytes(query), k as i64], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// BM25 matches of an FTS5 query: memory ids, best first.
pub fn keyword(conn: &Connection, fts_query: &str, k: usize) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.memory_id FROM memory_fts f JOIN memory_index i ON i.key = f.rowid
         WHERE memory_fts MATCH ?1 ORDER BY f.rank LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![fts_query, k as i64], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Recent runs of tasks other than `task_id`, with their task text: (execution id, task id,
/// title, description, status, result, error).
pub type RunRow = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

pub fn runs_of_other_tasks(conn: &Connection, task_id: &str, limit: usize) -> Result<Vec<RunRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.id, t.id, t.title, t.description, e.status, e.result, e.error
         FROM executions e JOIN tasks t ON t.id = e.task_id
         WHERE e.task_id != ?1 ORDER BY e.queued_at DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![task_id, limit as i64], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The task of an execution, if it has one.
pub fn execution_task(conn: &Connection, execution_id: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT task_id FROM executions WHERE id = ?1",
            [execution_id],
            |r| r.get(0),
        )
        .optional()?
        .flatten())
}

/// Memories in the search index.
pub fn count_indexed(conn: &Connection) -> Result<usize> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM memory_index")?
        .query_row([], |r| r.get::<_, i64>(0))? as usize)
}

/// How many indexed memories hold `token` (FTS5 applies its stemmer to it as to the text).
pub fn document_frequency(conn: &Connection, token: &str) -> Result<usize> {
    let quoted = format!("\"{}\"", token.replace('"', ""));
    Ok(conn
        .prepare_cached("SELECT count(*) FROM memory_fts WHERE memory_fts MATCH ?1")?
        .query_row([quoted], |r| r.get::<_, i64>(0))? as usize)
}

/// The vectors of memories by id (those with one).
pub fn vectors_of_ids(
    conn: &Connection,
    ids: &[String],
    dimension: usize,
) -> Result<Vec<(String, Vec<f32>)>> {
    let mut stmt = conn.prepare_cached("SELECT key FROM memory_index WHERE memory_id = ?1")?;
    let mut keys = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(key) = stmt.query_row([id], |r| r.get::<_, i64>(0)).optional()? {
            keys.push(key);
        }
    }
    vectors_of(conn, &keys, dimension)
}

/// BM25 matches with their score (FTS5's `bm25()`, negated so that higher is better).
pub fn keyword_scored(conn: &Connection, fts_query: &str, k: usize) -> Result<Vec<(String, f64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.memory_id, -bm25(memory_fts) FROM memory_fts f
         JOIN memory_index i ON i.key = f.rowid
         WHERE memory_fts MATCH ?1 ORDER BY bm25(memory_fts) LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![fts_query, k as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
