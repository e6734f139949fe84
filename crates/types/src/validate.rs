//! Validation rules shared by the engine (which enforces them) and the UI (which shows them
//! beside the field before a round trip).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A rejected input: which field, and what is wrong with it in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

pub const MAX_TITLE_CHARS: usize = 500;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_TEXT_CHARS: usize = 100_000;

/// A task title: not blank, at most [`MAX_TITLE_CHARS`] characters, one line.
pub fn task_title(title: &str) -> Result<String, FieldError> {
    let trimmed = title.trim();
    if trimmed.is_empty() {
        return Err(FieldError::new("title", "must not be empty"));
    }
    if trimmed.chars().count() > MAX_TITLE_CHARS {
        return Err(FieldError::new(
            "title",
            format!("is longer than {MAX_TITLE_CHARS} characters"),
        ));
    }
    if trimmed.contains(['\n', '\r']) {
        return Err(FieldError::new(
            "title",
            "must be one line (put details in the description)",
        ));
    }
    Ok(trimmed.to_string())
}

/// Free text (descriptions, scripts): bounded so that one field cannot bloat every device.
pub fn long_text(field: &str, text: &str) -> Result<String, FieldError> {
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(FieldError::new(
            field,
            format!("is longer than {MAX_TEXT_CHARS} characters"),
        ));
    }
    Ok(text.to_string())
}

/// An environment name: 1-100 characters of letters, digits, `-`, `_`, `.` and spaces, not
/// starting or ending with a space, so that it works as a CLI argument.
pub fn environment_name(name: &str) -> Result<String, FieldError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(FieldError::new("name", "must not be empty"));
    }
    if trimmed.chars().count() > MAX_NAME_CHARS {
        return Err(FieldError::new(
            "name",
            format!("is longer than {MAX_NAME_CHARS} characters"),
        ));
    }
    if let Some(bad) = trimmed
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ' ')))
    {
        return Err(FieldError::new(
            "name",
            format!("contains `{bad}`; use letters, digits, spaces, `-`, `_` or `.`"),
        ));
    }
    Ok(trimmed.to_string())
}

/// An environment variable name as POSIX shells accept it: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn env_var_name(field: &str, name: &str) -> Result<(), FieldError> {
    let mut chars = name.chars();
    let valid = match chars.next() {
        Some(first) => {
            (first.is_ascii_alphabetic() || first == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    };
    if valid {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!(
                "`{name}` is not a valid variable name: use letters, digits and `_`, \
                 not starting with a digit"
            ),
        ))
    }
}

/// Splits `KEY=VALUE` (the value may itself contain `=`), checking the key.
pub fn env_assignment(field: &str, assignment: &str) -> Result<(String, String), FieldError> {
    let Some((key, value)) = assignment.split_once('=') else {
        return Err(FieldError::new(
            field,
            format!("`{assignment}` is not KEY=VALUE"),
        ));
    };
    env_var_name(field, key)?;
    Ok((key.to_string(), value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles() {
        assert_eq!(task_title("  Fix the build ").unwrap(), "Fix the build");
        assert_eq!(task_title("   ").unwrap_err().field, "title");
        assert!(task_title("a\nb").is_err());
        assert!(task_title(&"x".repeat(MAX_TITLE_CHARS + 1)).is_err());
    }

    #[test]
    fn variable_names() {
        assert!(env_var_name("var", "RUST_LOG").is_ok());
        assert!(env_var_name("var", "_x1").is_ok());
        for bad in ["", "1ABC", "A-B", "A B", "É"] {
            let err = env_var_name("var", bad).unwrap_err();
            assert!(err.message.contains("not a valid variable name"), "{bad}");
        }
    }

    #[test]
    fn assignments() {
        assert_eq!(
            env_assignment("var", "URL=a=b").unwrap(),
            ("URL".to_string(), "a=b".to_string())
        );
        assert!(env_assignment("var", "NOVALUE").is_err());
        assert!(env_assignment("var", "9X=1").is_err());
    }

    #[test]
    fn environment_names() {
        assert_eq!(environment_name(" web app ").unwrap(), "web app");
        assert!(environment_name("a/b").is_err());
        assert!(environment_name("").is_err());
    }
}
