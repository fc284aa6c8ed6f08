//! Validation failures, always naming the field that is wrong.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field as the API names it (`email`, `custom.region_code`, `lines[2].quantity`).
    pub field: String,
    /// A stable machine-readable code: `required`, `invalid`, `too_long`, `out_of_range`, …
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("invalid input: {}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(
        field: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        let mut e = Self::new();
        e.add(field, code, message);
        e
    }

    pub fn add(
        &mut self,
        field: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) {
        self.0.push(FieldError {
            field: field.into(),
            code,
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    /// Text that must be present and not blank, at most `max` characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.add(field, "required", "must not be empty");
        } else {
            self.max_len(field, value, max);
        }
    }

    pub fn opt_text(&mut self, field: &str, value: &Option<String>, max: usize) {
        if let Some(v) = value {
            self.max_len(field, v, max);
        }
    }

    pub fn max_len(&mut self, field: &str, value: &str, max: usize) {
        if value.chars().count() > max {
            self.add(
                field,
                "too_long",
                format!("must be at most {max} characters"),
            );
        }
    }

    pub fn range<T: PartialOrd + std::fmt::Display>(
        &mut self,
        field: &str,
        value: T,
        lo: T,
        hi: T,
    ) {
        if value < lo || value > hi {
            self.add(
                field,
                "out_of_range",
                format!("must be between {lo} and {hi}"),
            );
        }
    }

    pub fn non_negative(&mut self, field: &str, value: i64) {
        if value < 0 {
            self.add(field, "out_of_range", "must not be negative");
        }
    }
}
