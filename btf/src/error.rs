//! The error type. Every error says what was expected and, where known, the file,
//! the byte offset and the type id it concerns.

use std::fmt;
use std::path::{Path, PathBuf};

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while reading, writing or checking BTF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    msg: String,
    file: Option<PathBuf>,
    offset: Option<u64>,
    type_id: Option<u32>,
}

impl Error {
    /// A new error with a message and no location.
    pub fn new(msg: impl Into<String>) -> Self {
        Error {
            msg: msg.into(),
            file: None,
            offset: None,
            type_id: None,
        }
    }

    /// A new error located at a byte offset of the input.
    pub fn at(offset: u64, msg: impl Into<String>) -> Self {
        Error::new(msg).with_offset(offset)
    }

    /// Sets the byte offset the error concerns (keeps an offset already set).
    pub fn with_offset(mut self, offset: u64) -> Self {
        self.offset.get_or_insert(offset);
        self
    }

    /// Sets the type id the error concerns (keeps one already set).
    pub fn with_type(mut self, id: u32) -> Self {
        self.type_id.get_or_insert(id);
        self
    }

    /// Sets the file the error concerns (keeps one already set).
    pub fn with_file(mut self, path: impl AsRef<Path>) -> Self {
        if self.file.is_none() {
            self.file = Some(path.as_ref().to_path_buf());
        }
        self
    }

    /// Like [`Error::with_offset`] for an optional offset.
    pub fn with_offset_opt(self, offset: Option<u64>) -> Self {
        match offset {
            Some(o) => self.with_offset(o),
            None => self,
        }
    }

    /// Like [`Error::with_type`] for an optional id.
    pub fn with_type_opt(self, id: Option<u32>) -> Self {
        match id {
            Some(i) => self.with_type(i),
            None => self,
        }
    }

    /// The message, without location.
    pub fn message(&self) -> &str {
        &self.msg
    }

    /// The file, if known.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The byte offset, if known.
    pub fn offset(&self) -> Option<u64> {
        self.offset
    }

    /// The type id, if known.
    pub fn type_id(&self) -> Option<u32> {
        self.type_id
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        if let Some(off) = self.offset {
            write!(f, "offset {off:#x}: ")?;
        }
        if let Some(id) = self.type_id {
            write!(f, "type [{id}]: ")?;
        }
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new(e.to_string())
    }
}
