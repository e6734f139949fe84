//! A unified diff (as `git diff` prints it) read into files and numbered lines, and a light
//! syntax colouring of each line by its file's language: comments, strings, numbers and
//! keywords, which is what a reviewer's eye looks for first.

/// What a diff line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Hunk,
    Context,
    Added,
    Removed,
    /// "\ No newline at end of file" and the like.
    Note,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    pub kind: LineKind,
    pub old_no: Option<u32>,
    pub new_no: Option<u32>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiffFile {
    pub path: String,
    /// "new file", "deleted", "binary", "renamed"...: git's header words worth showing.
    pub note: Option<String>,
    pub lines: Vec<DiffLine>,
}

/// Splits `git diff` output into files; each hunk's lines numbered on both sides.
pub fn parse(diff: &str) -> Vec<DiffFile> {
    let mut files: Vec<DiffFile> = Vec::new();
    let (mut old_no, mut new_no) = (0u32, 0u32);
    for line in diff.lines() {
        if let Some(rest) = line.strip_prefix("diff --git ") {
            // "a/path b/path": the b side names the file as it is now.
            let path = rest
                .rsplit_once(" b/")
                .map(|(_, b)| b.to_string())
                .unwrap_or_else(|| rest.to_string());
            files.push(DiffFile {
                path,
                ..DiffFile::default()
            });
            continue;
        }
        let Some(file) = files.last_mut() else {
            continue;
        };
        if let Some(hunk) = line.strip_prefix("@@ ") {
            let (old, new) = hunk_starts(hunk);
            old_no = old;
            new_no = new;
            file.lines.push(DiffLine {
                kind: LineKind::Hunk,
                old_no: None,
                new_no: None,
                text: line.to_string(),
            });
            continue;
        }
        if file.lines.is_empty() {
            // Header lines before the first hunk.
            for (prefix, note) in [
                ("new file", "new file"),
                ("deleted file", "deleted"),
                ("Binary files", "binary"),
                ("rename from", "renamed"),
            ] {
                if line.starts_with(prefix) {
                    file.note = Some(note.to_string());
                }
            }
            continue;
        }
        let (kind, text) = match line.chars().next() {
            Some('+') => (LineKind::Added, &line[1..]),
            Some('-') => (LineKind::Removed, &line[1..]),
            Some(' ') => (LineKind::Context, &line[1..]),
            Some('\\') => (LineKind::Note, line),
            _ => (LineKind::Context, line),
        };
        let (o, n) = match kind {
            LineKind::Added => (None, Some(next(&mut new_no))),
            LineKind::Removed => (Some(next(&mut old_no)), None),
            LineKind::Context => (Some(next(&mut old_no)), Some(next(&mut new_no))),
            _ => (None, None),
        };
        file.lines.push(DiffLine {
            kind,
            old_no: o,
            new_no: n,
            text: text.to_string(),
        });
    }
    files
}

fn next(counter: &mut u32) -> u32 {
    let at = *counter;
    *counter += 1;
    at
}

/// "-12,7 +12,9 @@ ..." -> (12, 12).
fn hunk_starts(hunk: &str) -> (u32, u32) {
    let mut parts = hunk.split_whitespace();
    let start = |part: Option<&str>, sign: char| {
        part.and_then(|p| p.strip_prefix(sign))
            .and_then(|p| p.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(1)
    };
    let old = start(parts.next(), '-');
    let new = start(parts.next(), '+');
    (old, new)
}

/// A piece of a line and its colour class (`None`: plain).
pub type Token = (Option<&'static str>, String);

struct Language {
    line_comment: &'static [&'static str],
    keywords: &'static [&'static str],
}

const RUST: Language = Language {
    line_comment: &["//"],
    keywords: &[
        "as", "async", "await", "break", "const", "continue", "crate", "else", "enum", "false",
        "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
        "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
        "unsafe", "use", "where", "while",
    ],
};
const PYTHON: Language = Language {
    line_comment: &["#"],
    keywords: &[
        "and", "as", "async", "await", "class", "def", "elif", "else", "except", "False",
        "finally", "for", "from", "if", "import", "in", "is", "lambda", "None", "not", "or",
        "pass", "raise", "return", "True", "try", "while", "with", "yield",
    ],
};
const C_LIKE: Language = Language {
    line_comment: &["//"],
    keywords: &[
        "break",
        "case",
        "catch",
        "class",
        "const",
        "continue",
        "default",
        "else",
        "export",
        "extends",
        "false",
        "for",
        "func",
        "function",
        "go",
        "if",
        "import",
        "interface",
        "let",
        "new",
        "null",
        "package",
        "return",
        "static",
        "struct",
        "switch",
        "this",
        "throw",
        "true",
        "try",
        "type",
        "var",
        "void",
        "while",
    ],
};
const SHELL: Language = Language {
    line_comment: &["#"],
    keywords: &[
        "case", "do", "done", "elif", "else", "esac", "export", "fi", "for", "function", "if",
        "in", "local", "then", "while",
    ],
};
const PLAIN: Language = Language {
    line_comment: &[],
    keywords: &[],
};

fn language(path: &str) -> &'static Language {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("rs") => &RUST,
        Some("py") => &PYTHON,
        Some(
            "js" | "jsx" | "ts" | "tsx" | "go" | "c" | "h" | "cc" | "cpp" | "java" | "kt" | "swift"
            | "cs",
        ) => &C_LIKE,
        Some("sh" | "bash" | "zsh") => &SHELL,
        Some("toml" | "yaml" | "yml") => &SHELL, // `#` comments, quoted strings
        _ => &PLAIN,
    }
}

/// Colours one line of `path`: a line comment runs to the end; strings in '' or "" (with
/// backslash escapes); numbers; the language's keywords as whole words.
pub fn highlight(path: &str, text: &str) -> Vec<Token> {
    let lang = language(path);
    let mut out: Vec<Token> = Vec::new();
    let mut plain = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let flush = |plain: &mut String, out: &mut Vec<Token>| {
        if !plain.is_empty() {
            out.push((None, std::mem::take(plain)));
        }
    };
    while i < chars.len() {
        let at_comment = lang.line_comment.iter().any(|c| {
            let pattern: Vec<char> = c.chars().collect();
            chars[i..].starts_with(&pattern)
        });
        if at_comment {
            flush(&mut plain, &mut out);
            out.push((Some("tok-comment"), chars[i..].iter().collect()));
            return out;
        }
        let c = chars[i];
        if !std::ptr::eq(lang, &PLAIN) && (c == '"' || c == '\'') {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != c {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(chars.len());
            flush(&mut plain, &mut out);
            out.push((Some("tok-string"), chars[i..end].iter().collect()));
            i = end;
            continue;
        }
        if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let class = if word.chars().next().is_some_and(|c| c.is_ascii_digit()) {
                Some("tok-number")
            } else if lang.keywords.contains(&word.as_str()) {
                Some("tok-keyword")
            } else {
                None
            };
            match class {
                Some(class) => {
                    flush(&mut plain, &mut out);
                    out.push((Some(class), word));
                }
                None => plain.push_str(&word),
            }
            continue;
        }
        plain.push(c);
        i += 1;
    }
    flush(&mut plain, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIFF: &str = "diff --git a/src/a.rs b/src/a.rs\nindex 1..2 100644\n--- a/src/a.rs\n+++ b/src/a.rs\n@@ -3,3 +3,4 @@ fn main\n keep\n-old\n+new\n+more\n same\ndiff --git a/notes.txt b/notes.txt\nnew file mode 100644\n--- /dev/null\n+++ b/notes.txt\n@@ -0,0 +1 @@\n+hello\n";

    #[test]
    fn files_and_line_numbers() {
        let files = parse(DIFF);
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].path, "src/a.rs");
        let numbered: Vec<_> = files[0].lines[1..]
            .iter()
            .map(|l| (l.kind, l.old_no, l.new_no, l.text.as_str()))
            .collect();
        assert_eq!(
            numbered,
            [
                (LineKind::Context, Some(3), Some(3), "keep"),
                (LineKind::Removed, Some(4), None, "old"),
                (LineKind::Added, None, Some(4), "new"),
                (LineKind::Added, None, Some(5), "more"),
                (LineKind::Context, Some(5), Some(6), "same"),
            ]
        );
        assert_eq!(files[1].note.as_deref(), Some("new file"));
        assert_eq!(files[1].lines[1].new_no, Some(1));
    }

    #[test]
    fn highlighting_keeps_the_text_and_marks_what_it_knows() {
        let line = "let s = \"a // b\"; // note 42";
        let tokens = highlight("x.rs", line);
        let joined: String = tokens.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(joined, line);
        assert!(tokens.contains(&(Some("tok-keyword"), "let".into())));
        assert!(tokens.contains(&(Some("tok-string"), "\"a // b\"".into())));
        assert!(tokens.contains(&(Some("tok-comment"), "// note 42".into())));
        let plain = highlight("notes.txt", "let it be");
        assert_eq!(plain, [(None, "let it be".to_string())]);
    }
}
