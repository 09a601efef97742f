use std::fmt;

use portcullis_domain::FieldRule;

/// One broken input rule on one field, as reported to clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The input field's name (`email`, `password`, ...).
    pub field: String,
    /// Stable snake_case code (`too_short`, `invalid`, `required`, ...).
    pub code: String,
    /// A sentence for people.
    pub message: String,
}

/// Every broken rule of one input, one entry per bad field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an error for `field`.
    pub fn add(&mut self, field: &str, code: &str, message: impl Into<String>) {
        self.0.push(FieldError { field: field.to_owned(), code: code.to_owned(), message: message.into() });
    }

    /// Keeps the value of a successful parse, or records its error against `field`.
    pub fn check<T, E: FieldRule>(&mut self, field: &str, parsed: Result<T, E>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(error) => {
                self.add(field, error.code(), error.to_string());
                None
            }
        }
    }

    /// Adds `other`'s errors for fields that have none here yet (one entry per field).
    pub fn merge_new_fields(&mut self, other: ValidationErrors) {
        for error in other.0 {
            if !self.0.iter().any(|e| e.field == error.field) {
                self.0.push(error);
            }
        }
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The recorded errors in order.
    pub fn errors(&self) -> &[FieldError] {
        &self.0
    }

    /// `Ok(())` when empty, else `Err(self)`.
    ///
    /// # Errors
    /// Itself, when any field failed.
    pub fn into_result(self) -> Result<(), Self> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: Vec<&str> = self.0.iter().map(|e| e.field.as_str()).collect();
        write!(f, "invalid input in: {}", fields.join(", "))
    }
}

impl std::error::Error for ValidationErrors {}
