//! What can be wrong with a CAP document, and where.
//!
//! Every error carries the element path (`alert/info[1]/urgency`, 1-based indexes for elements
//! that may repeat) and the line of the offending element's start tag, so an operator can find
//! the mistake in the file they wrote. Errors are grouped by cause: the document is not XML we
//! accept at all, it breaks a hostile-input limit, or it is XML that breaks a CAP 1.2 rule.

use std::fmt;

/// A refused CAP document: the element path, the line, and the rule broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path} (line {line}): {kind}")]
pub struct CapError {
    /// The element at fault, e.g. `alert/info[1]/urgency`; `document` before the root element.
    pub path: String,
    /// 1-based line of the element's start tag (or of the failure, for XML syntax errors).
    pub line: usize,
    /// The rule that was broken.
    pub kind: CapErrorKind,
}

impl CapError {
    pub(crate) fn new(path: impl Into<String>, line: usize, kind: CapErrorKind) -> Self {
        Self {
            path: path.into(),
            line,
            kind,
        }
    }
}

/// The rule a document breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CapErrorKind {
    // --- limits: hostile input is refused before it costs memory or time ---
    /// The document is larger than the parser accepts.
    #[error("document is {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// The document's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Elements nest deeper than the parser accepts.
    #[error("elements nest deeper than the limit of {limit}")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// The document has more elements than the parser accepts.
    #[error("document has more than {limit} elements")]
    TooManyElements {
        /// The limit.
        limit: usize,
    },

    // --- not XML we accept ---
    /// The bytes are not UTF-8 (CAP documents are UTF-8 XML).
    #[error("document is not UTF-8: {0}")]
    NotUtf8(String),
    /// The XML declaration names another encoding.
    #[error("encoding '{0}' is not supported: CAP documents here must be UTF-8")]
    Encoding(String),
    /// The XML is not well formed.
    #[error("XML syntax: {0}")]
    Syntax(String),
    /// A `<!DOCTYPE>`: refused, so no entity can ever be declared or expanded.
    #[error("a DOCTYPE is not allowed: CAP needs none, and entity declarations are refused")]
    Doctype,
    /// An entity reference other than the five XML predefines and character references.
    #[error("entity '&{0};' is not allowed: only &lt; &gt; &amp; &apos; &quot; and &#N; are")]
    UnknownEntity(String),
    /// A character XML 1.0 does not allow, or a malformed character reference.
    #[error("{0}")]
    BadCharacter(String),
    /// No root element.
    #[error("no <alert> element")]
    Empty,

    // --- CAP 1.2 structure ---
    /// The root element is not `alert` in the CAP 1.2 namespace.
    #[error("the root element must be <alert> in namespace {expected}, found {found}")]
    Root {
        /// `urn:oasis:names:tc:emergency:cap:1.2`.
        expected: &'static str,
        /// What was found, as `{namespace}name`.
        found: String,
    },
    /// An element in the CAP namespace that CAP 1.2 does not define here.
    #[error("<{0}> is not a CAP 1.2 element here")]
    UnknownElement(String),
    /// An element from another namespace where CAP allows none.
    #[error("<{0}> from another namespace is not allowed here")]
    ForeignElement(String),
    /// An element that comes after one it must precede (CAP 1.2 schema order).
    #[error("<{element}> must come before <{after}> (CAP 1.2 schema order)")]
    OutOfOrder {
        /// The element found.
        element: &'static str,
        /// The earlier sibling it should precede.
        after: &'static str,
    },
    /// A required element is missing.
    #[error("missing required element <{0}>")]
    Missing(&'static str),
    /// An element that may appear once appears again.
    #[error("<{0}> may appear only once")]
    Repeated(&'static str),
    /// Text where only child elements belong.
    #[error("text is not allowed here, only child elements")]
    UnexpectedText,
    /// A child element inside an element that holds text.
    #[error("<{0}> holds text; it cannot contain elements")]
    UnexpectedChild(String),
    /// A value outside its enumeration.
    #[error("'{value}' is not one of {allowed}")]
    NotOneOf {
        /// The value found.
        value: String,
        /// The values CAP 1.2 allows.
        allowed: &'static str,
    },
    /// A value that breaks its element's format rule.
    #[error("'{value}' {reason}")]
    Invalid {
        /// The value found (shortened if long).
        value: String,
        /// The rule, as a sentence fragment.
        reason: String,
    },
    /// A rule that ties several elements together.
    #[error("{0}")]
    Rule(String),
}

impl CapErrorKind {
    /// An [`Invalid`](Self::Invalid) value, shortened so a huge value cannot make a huge message.
    pub(crate) fn invalid(value: &str, reason: impl fmt::Display) -> Self {
        const SHOWN: usize = 80;
        let value = if value.chars().count() > SHOWN {
            let head: String = value.chars().take(SHOWN).collect();
            format!("{head}…")
        } else {
            value.to_owned()
        };
        Self::Invalid {
            value,
            reason: reason.to_string(),
        }
    }
}
