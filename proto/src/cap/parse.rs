//! Reading CAP 1.2 documents: XML → element tree → checked [`Alert`].
//!
//! Two steps. First the bytes become a small element tree with [`quick_xml`], under limits on
//! size, depth and element count that are checked *before* the work they bound, with no DTD (a
//! `<!DOCTYPE>` is refused, so no entity can be declared) and no entity expansion beyond the
//! five XML predefines and character references. Then the tree is checked against CAP 1.2:
//! schema order and cardinality of every element, code lists, formats, and the rules that tie
//! elements together. Every error names the element path and line ([`CapError`]).

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

use super::NAMESPACE;
use super::error::{CapError, CapErrorKind as Kind};
use super::model::{
    Alert, AlertId, Area, Category, Certainty, Circle, Info, MsgType, NamedValue, Point, Polygon,
    Resource, ResponseType, Scope, Severity, Status, Urgency,
};
use super::time::CapTime;

/// Bounds on the work one document may cause. The defaults fit any real alert, including a
/// few embedded images, and keep a hostile one cheap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Largest document, in bytes.
    pub max_bytes: usize,
    /// Deepest element nesting (CAP itself needs 5: alert/info/area/geocode/value).
    pub max_depth: usize,
    /// Most elements in the document.
    pub max_elements: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        Self {
            max_bytes: 1 << 20,
            max_depth: 16,
            max_elements: 10_000,
        }
    }
}

/// Parses and checks a CAP 1.2 document with the default [`ParseLimits`].
pub fn parse(bytes: &[u8]) -> Result<Alert, CapError> {
    parse_with(bytes, &ParseLimits::default())
}

/// Parses and checks a CAP 1.2 document within `limits`.
pub fn parse_with(bytes: &[u8], limits: &ParseLimits) -> Result<Alert, CapError> {
    if bytes.len() > limits.max_bytes {
        return Err(CapError::new(
            "document",
            1,
            Kind::TooLarge {
                size: bytes.len(),
                limit: limits.max_bytes,
            },
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = line_of(&bytes[..e.valid_up_to()]);
        CapError::new("document", line, Kind::NotUtf8(e.to_string()))
    })?;
    // A byte order mark is allowed before the XML declaration.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let root = Tree::read(text, limits)?;
    check_alert(&root)
}

// ---------------------------------------------------------------------------------------------
// Step 1: XML to an element tree.

/// Where an element's name lives.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ns {
    Cap,
    Other(String),
    None,
}

/// One element: name, line, text and children. Text is everything between the tags, with
/// references resolved; containers check it is only whitespace.
#[derive(Debug)]
struct Element {
    ns: Ns,
    name: String,
    line: usize,
    text: String,
    children: Vec<Self>,
}

impl Element {
    /// `{namespace}name` for messages.
    fn qualified(&self) -> String {
        match &self.ns {
            Ns::Cap => format!("{{{NAMESPACE}}}{}", self.name),
            Ns::Other(ns) => format!("{{{ns}}}{}", self.name),
            Ns::None => self.name.clone(),
        }
    }
}

struct Tree<'a> {
    text: &'a str,
    /// Line counting is incremental: `line` is the line of byte `line_at`.
    line: usize,
    line_at: usize,
    elements: usize,
}

impl<'a> Tree<'a> {
    fn read(text: &'a str, limits: &ParseLimits) -> Result<Element, CapError> {
        let mut tree = Tree {
            text,
            line: 1,
            line_at: 0,
            elements: 0,
        };
        tree.build(limits)
    }

    fn line_of(&mut self, pos: u64) -> usize {
        let pos = usize::try_from(pos)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        if pos < self.line_at {
            return line_of(&self.text.as_bytes()[..pos]);
        }
        self.line += self.text.as_bytes()[self.line_at..pos]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.line_at = pos;
        self.line
    }

    fn build(&mut self, limits: &ParseLimits) -> Result<Element, CapError> {
        let mut reader = NsReader::from_str(self.text);
        let config = reader.config_mut();
        config.expand_empty_elements = true;
        config.check_end_names = true;
        config.check_comments = true;
        let mut stack: Vec<Element> = Vec::new();
        let mut root: Option<Element> = None;
        loop {
            let at = reader.buffer_position();
            let event = match reader.read_resolved_event() {
                Ok(event) => event,
                Err(e) => {
                    let line = self.line_of(reader.error_position());
                    return Err(CapError::new(
                        path_of(&stack),
                        line,
                        Kind::Syntax(e.to_string()),
                    ));
                }
            };
            let line = self.line_of(at);
            match event {
                (ns, Event::Start(start)) => {
                    if root.is_some() {
                        return Err(CapError::new(
                            "document",
                            line,
                            Kind::Syntax("content after the root element".into()),
                        ));
                    }
                    if stack.len() >= limits.max_depth {
                        let limit = limits.max_depth;
                        return Err(CapError::new(
                            path_of(&stack),
                            line,
                            Kind::TooDeep { limit },
                        ));
                    }
                    self.elements += 1;
                    if self.elements > limits.max_elements {
                        let limit = limits.max_elements;
                        return Err(CapError::new(
                            path_of(&stack),
                            line,
                            Kind::TooManyElements { limit },
                        ));
                    }
                    for attr in start.attributes() {
                        if let Err(e) = attr {
                            return Err(CapError::new(
                                path_of(&stack),
                                line,
                                Kind::Syntax(e.to_string()),
                            ));
                        }
                    }
                    let ns = match ns {
                        ResolveResult::Bound(ns) if ns.0 == NAMESPACE => Ns::Cap,
                        ResolveResult::Bound(ns) => Ns::Other(ns.0.to_owned()),
                        ResolveResult::Unbound => Ns::None,
                        ResolveResult::Unknown(prefix) => {
                            return Err(CapError::new(
                                path_of(&stack),
                                line,
                                Kind::Syntax(format!(
                                    "namespace prefix '{prefix}' is not declared"
                                )),
                            ));
                        }
                    };
                    stack.push(Element {
                        ns,
                        name: start.local_name().into_inner().to_owned(),
                        line,
                        text: String::new(),
                        children: Vec::new(),
                    });
                }
                (_, Event::End(_)) => {
                    let Some(done) = stack.pop() else {
                        return Err(CapError::new(
                            "document",
                            line,
                            Kind::Syntax("end tag without a start tag".into()),
                        ));
                    };
                    check_chars(&done.text).map_err(|reason| {
                        CapError::new(path_of(&stack), done.line, Kind::BadCharacter(reason))
                    })?;
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(done),
                        None => root = Some(done),
                    }
                }
                (_, Event::Text(text)) => {
                    let content = text.xml10_content();
                    self.push_text(&mut stack, &content, line)?;
                }
                (_, Event::CData(data)) => {
                    let content = data.xml10_content();
                    if stack.is_empty() {
                        return Err(CapError::new(
                            "document",
                            line,
                            Kind::Syntax("CDATA outside the root element".into()),
                        ));
                    }
                    self.push_text(&mut stack, &content, line)?;
                }
                (_, Event::GeneralRef(reference)) => {
                    let resolved = match reference.resolve_char_ref() {
                        Ok(Some(c)) => c,
                        Ok(None) => match &*reference {
                            "lt" => '<',
                            "gt" => '>',
                            "amp" => '&',
                            "apos" => '\'',
                            "quot" => '"',
                            other => {
                                return Err(CapError::new(
                                    path_of(&stack),
                                    line,
                                    Kind::UnknownEntity(other.chars().take(40).collect()),
                                ));
                            }
                        },
                        Err(e) => {
                            return Err(CapError::new(
                                path_of(&stack),
                                line,
                                Kind::BadCharacter(format!("character reference: {e}")),
                            ));
                        }
                    };
                    let mut buf = [0u8; 4];
                    self.push_text(&mut stack, resolved.encode_utf8(&mut buf), line)?;
                }
                (_, Event::Decl(decl)) => {
                    if let Some(encoding) = decl.encoding() {
                        let encoding = encoding.map_err(|e| {
                            CapError::new("document", line, Kind::Syntax(e.to_string()))
                        })?;
                        if !encoding.eq_ignore_ascii_case("utf-8") {
                            return Err(CapError::new(
                                "document",
                                line,
                                Kind::Encoding(encoding.chars().take(40).collect()),
                            ));
                        }
                    }
                }
                (_, Event::DocType(_)) => {
                    return Err(CapError::new("document", line, Kind::Doctype));
                }
                (_, Event::Comment(_) | Event::PI(_)) => {}
                (_, Event::Empty(_)) => {
                    // Not produced: `expand_empty_elements` turns `<a/>` into Start + End.
                }
                (_, Event::Eof) => break,
            }
        }
        if let Some(open) = stack.last() {
            let line = open.line;
            return Err(CapError::new(
                path_of(&stack),
                line,
                Kind::Syntax(format!("<{}> is not closed", open.name)),
            ));
        }
        root.ok_or_else(|| CapError::new("document", self.line, Kind::Empty))
    }

    fn push_text(
        &mut self,
        stack: &mut [Element],
        text: &str,
        line: usize,
    ) -> Result<(), CapError> {
        match stack.last_mut() {
            Some(open) => {
                open.text.push_str(text);
                Ok(())
            }
            None if text.trim_matches(is_xml_space).is_empty() => Ok(()),
            None => Err(CapError::new(
                "document",
                line,
                Kind::Syntax("text outside the root element".into()),
            )),
        }
    }
}

/// The path of the innermost open element, without indexes (used only for syntax errors,
/// where the document's structure is not yet known).
fn path_of(stack: &[Element]) -> String {
    if stack.is_empty() {
        return "document".to_owned();
    }
    stack
        .iter()
        .map(|e| e.name.as_str())
        .collect::<Vec<_>>()
        .join("/")
}

fn line_of(bytes: &[u8]) -> usize {
    1 + bytes.iter().filter(|&&b| b == b'\n').count()
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// XML 1.0 §2.2 `Char`: no control characters but tab, line feed and carriage return, and no
/// U+FFFE/U+FFFF.
fn check_chars(text: &str) -> Result<(), String> {
    match text.chars().find(|&c| !is_xml_char(c)) {
        None => Ok(()),
        Some(c) => Err(format!(
            "character U+{:04X} is not allowed in XML 1.0",
            u32::from(c)
        )),
    }
}

pub(super) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

// ---------------------------------------------------------------------------------------------
// Step 2: the tree against CAP 1.2.

/// One element in a container's content model, in schema order.
#[derive(Debug, Clone, Copy)]
struct Field {
    name: &'static str,
    required: bool,
    many: bool,
}

const fn one(name: &'static str) -> Field {
    Field {
        name,
        required: true,
        many: false,
    }
}
const fn opt(name: &'static str) -> Field {
    Field {
        name,
        required: false,
        many: false,
    }
}
const fn some(name: &'static str) -> Field {
    Field {
        name,
        required: true,
        many: true,
    }
}
const fn any(name: &'static str) -> Field {
    Field {
        name,
        required: false,
        many: true,
    }
}

/// CAP 1.2 §3.2.1 and the schema's `alert` sequence.
const ALERT: &[Field] = &[
    one("identifier"),
    one("sender"),
    one("sent"),
    one("status"),
    one("msgType"),
    opt("source"),
    one("scope"),
    opt("restriction"),
    opt("addresses"),
    any("code"),
    opt("note"),
    opt("references"),
    opt("incidents"),
    any("info"),
];

/// CAP 1.2 §3.2.2.
const INFO: &[Field] = &[
    opt("language"),
    some("category"),
    one("event"),
    any("responseType"),
    one("urgency"),
    one("severity"),
    one("certainty"),
    opt("audience"),
    any("eventCode"),
    opt("effective"),
    opt("onset"),
    opt("expires"),
    opt("senderName"),
    opt("headline"),
    opt("description"),
    opt("instruction"),
    opt("web"),
    opt("contact"),
    any("parameter"),
    any("resource"),
    any("area"),
];

/// CAP 1.2 §3.2.3.
const RESOURCE: &[Field] = &[
    one("resourceDesc"),
    one("mimeType"),
    opt("size"),
    opt("uri"),
    opt("derefUri"),
    opt("digest"),
];

/// CAP 1.2 §3.2.4.
const AREA: &[Field] = &[
    one("areaDesc"),
    any("polygon"),
    any("circle"),
    any("geocode"),
    opt("altitude"),
    opt("ceiling"),
];

/// `eventCode`, `parameter`, `geocode`.
const NAMED_VALUE: &[Field] = &[one("valueName"), one("value")];

/// A child element with its full path.
struct Node<'a> {
    element: &'a Element,
    path: String,
}

impl Node<'_> {
    fn err(&self, kind: Kind) -> CapError {
        CapError::new(self.path.clone(), self.element.line, kind)
    }

    /// The element's text; it must have no child elements.
    fn text(&self) -> Result<&str, CapError> {
        match self.element.children.first() {
            Some(child) => Err(CapError::new(
                format!("{}/{}", self.path, child.name),
                child.line,
                Kind::UnexpectedChild(child.name.clone()),
            )),
            None => Ok(&self.element.text),
        }
    }

    /// The text of a code or number, without surrounding whitespace.
    fn token(&self) -> Result<&str, CapError> {
        Ok(self.text()?.trim_matches(is_xml_space))
    }

    /// The children, sorted into `fields` after checking order, cardinality and namespaces.
    /// `foreign` allows elements of other namespaces after the CAP ones (the schema's
    /// `<any namespace="##other">` at the end of `alert`, for signatures and encryption).
    fn children(&self, fields: &'static [Field], foreign: bool) -> Result<Slots<'_>, CapError> {
        if !self.element.text.trim_matches(is_xml_space).is_empty() {
            return Err(self.err(Kind::UnexpectedText));
        }
        let mut slots: Vec<Vec<Node<'_>>> = fields.iter().map(|_| Vec::new()).collect();
        let mut last: Option<usize> = None;
        let mut seen_foreign = false;
        for child in &self.element.children {
            let bare = format!("{}/{}", self.path, child.name);
            if child.ns != Ns::Cap {
                if foreign && child.ns != Ns::None {
                    seen_foreign = true;
                    continue;
                }
                let kind = match child.ns {
                    Ns::None => Kind::Rule(format!(
                        "<{}> has no namespace: CAP elements are in {NAMESPACE}",
                        child.name
                    )),
                    _ => Kind::ForeignElement(child.qualified()),
                };
                return Err(CapError::new(bare, child.line, kind));
            }
            let Some(index) = fields.iter().position(|f| f.name == child.name) else {
                return Err(CapError::new(
                    bare,
                    child.line,
                    Kind::UnknownElement(child.name.clone()),
                ));
            };
            if seen_foreign {
                return Err(CapError::new(
                    bare,
                    child.line,
                    Kind::Rule("CAP elements must come before elements of other namespaces".into()),
                ));
            }
            if let Some(prev) = last.filter(|&prev| prev > index) {
                return Err(CapError::new(
                    bare,
                    child.line,
                    Kind::OutOfOrder {
                        element: fields[index].name,
                        after: fields[prev].name,
                    },
                ));
            }
            last = Some(index);
            let field = fields[index];
            let slot = &mut slots[index];
            if !field.many && !slot.is_empty() {
                return Err(CapError::new(bare, child.line, Kind::Repeated(field.name)));
            }
            let path = if field.many {
                format!("{bare}[{}]", slot.len() + 1)
            } else {
                bare
            };
            slot.push(Node {
                element: child,
                path,
            });
        }
        for (field, slot) in fields.iter().zip(&slots) {
            if field.required && slot.is_empty() {
                return Err(self.err(Kind::Missing(field.name)));
            }
        }
        Ok(Slots { fields, slots })
    }
}

/// A container's children, by field.
struct Slots<'a> {
    fields: &'static [Field],
    slots: Vec<Vec<Node<'a>>>,
}

impl<'a> Slots<'a> {
    fn all(&self, name: &str) -> &[Node<'a>] {
        self.fields
            .iter()
            .position(|f| f.name == name)
            .map_or(&[], |i| self.slots[i].as_slice())
    }

    fn first(&self, name: &str) -> Option<&Node<'a>> {
        self.all(name).first()
    }

    /// A required single element (presence was checked by [`Node::children`]).
    fn required(&self, name: &'static str, parent: &Node<'_>) -> Result<&Node<'a>, CapError> {
        self.first(name)
            .ok_or_else(|| parent.err(Kind::Missing(name)))
    }

    fn text(&self, name: &'static str, parent: &Node<'_>) -> Result<String, CapError> {
        Ok(self.required(name, parent)?.text()?.to_owned())
    }

    fn opt_text(&self, name: &str) -> Result<Option<String>, CapError> {
        self.first(name)
            .map(|n| n.text().map(str::to_owned))
            .transpose()
    }

    fn opt_time(&self, name: &str) -> Result<Option<CapTime>, CapError> {
        self.first(name).map(time).transpose()
    }

    fn opt_decimal(&self, name: &str) -> Result<Option<f64>, CapError> {
        let Some(n) = self.first(name) else {
            return Ok(None);
        };
        let text = n.token()?;
        decimal(text)
            .map(Some)
            .map_err(|reason| n.err(Kind::invalid(text, reason)))
    }
}

fn code<T>(
    node: &Node<'_>,
    from_text: fn(&str) -> Option<T>,
    allowed: &'static str,
) -> Result<T, CapError> {
    let text = node.token()?;
    from_text(text).ok_or_else(|| {
        node.err(Kind::NotOneOf {
            value: text.chars().take(80).collect(),
            allowed,
        })
    })
}

fn time(node: &Node<'_>) -> Result<CapTime, CapError> {
    let text = node.token()?;
    CapTime::parse(text).map_err(|reason| node.err(Kind::invalid(text, reason)))
}

fn non_empty(node: &Node<'_>) -> Result<String, CapError> {
    let text = node.text()?;
    if text.trim_matches(is_xml_space).is_empty() {
        return Err(node.err(Kind::invalid(text, "is empty; CAP 1.2 requires a value")));
    }
    Ok(text.to_owned())
}

/// CAP 1.2 §3.2.1: `identifier` and `sender` "MUST NOT include spaces, commas or restricted
/// characters (< and &)" — they are the fields of a `references` triple.
pub(super) fn id_rule(text: &str) -> Result<(), &'static str> {
    if text.is_empty() {
        return Err("is empty; CAP 1.2 requires a value");
    }
    if text
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, ',' | '<' | '&'))
    {
        return Err("must not contain spaces, commas, < or & (CAP 1.2 §3.2.1)");
    }
    Ok(())
}

fn id_field(node: &Node<'_>) -> Result<String, CapError> {
    let text = node.text()?;
    id_rule(text).map_err(|reason| node.err(Kind::invalid(text, reason)))?;
    Ok(text.to_owned())
}

/// `references`: whitespace-separated `sender,identifier,sent` triples (CAP 1.2 §3.2.1).
fn references(node: &Node<'_>) -> Result<Vec<AlertId>, CapError> {
    node.text()?
        .split_whitespace()
        .map(|triple| {
            let bad = |reason: &str| node.err(Kind::invalid(triple, reason));
            let mut parts = triple.split(',');
            let (Some(sender), Some(identifier), Some(sent), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(bad("is not a reference: write sender,identifier,sent"));
            };
            id_rule(sender).map_err(|r| bad(&format!("has a sender that {}", strip_is(r))))?;
            id_rule(identifier)
                .map_err(|r| bad(&format!("has an identifier that {}", strip_is(r))))?;
            let sent = CapTime::parse(sent)
                .map_err(|r| bad(&format!("has a sent time that {}", strip_is(r))))?;
            Ok(AlertId {
                sender: sender.to_owned(),
                identifier: identifier.to_owned(),
                sent,
            })
        })
        .collect()
}

/// "is empty" → "empty" wording helper for composed messages.
fn strip_is(reason: &str) -> &str {
    reason.strip_prefix("is ").unwrap_or(reason)
}

/// An `xs:decimal`: optional sign, digits, optional fraction; no exponent, no NaN.
pub(super) fn decimal(text: &str) -> Result<f64, &'static str> {
    const RULE: &str = "is not a decimal number (digits with an optional sign and point)";
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
        return Err(RULE);
    }
    let value: f64 = text.parse().map_err(|_| RULE)?;
    if !value.is_finite() {
        return Err("is too large a number");
    }
    Ok(value)
}

/// `lat,lon` in WGS 84 decimal degrees.
fn point(text: &str) -> Result<Point, String> {
    let Some((lat, lon)) = text.split_once(',') else {
        return Err(format!("'{text}' is not a lat,lon pair"));
    };
    let lat = decimal(lat).map_err(|r| format!("latitude '{lat}' {r}"))?;
    let lon = decimal(lon).map_err(|r| format!("longitude '{lon}' {r}"))?;
    if !(-90.0..=90.0).contains(&lat) {
        return Err(format!("latitude {lat} is outside -90 to 90"));
    }
    if !(-180.0..=180.0).contains(&lon) {
        return Err(format!("longitude {lon} is outside -180 to 180"));
    }
    Ok(Point { lat, lon })
}

/// CAP 1.2 §3.2.4 `polygon`: whitespace-separated pairs, at least four, first = last.
fn polygon(node: &Node<'_>) -> Result<Polygon, CapError> {
    let text = node.text()?;
    let points = text
        .split_whitespace()
        .map(point)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|reason| node.err(Kind::invalid(text, format!("has a bad point: {reason}"))))?;
    if points.len() < 4 {
        return Err(node.err(Kind::invalid(
            text,
            format!(
                "has {} points; a polygon needs at least 4 (CAP 1.2 §3.2.4)",
                points.len()
            ),
        )));
    }
    if points.first() != points.last() {
        return Err(node.err(Kind::invalid(
            text,
            "is not closed: the first and last points must be the same (CAP 1.2 §3.2.4)",
        )));
    }
    Ok(Polygon(points))
}

/// CAP 1.2 §3.2.4 `circle`: `lat,lon radius`, radius in kilometres.
fn circle(node: &Node<'_>) -> Result<Circle, CapError> {
    let text = node.text()?;
    let bad = |reason: String| node.err(Kind::invalid(text, reason));
    let mut parts = text.split_whitespace();
    let (Some(center), Some(radius), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("is not a circle: write lat,lon radius (km)".into()));
    };
    let center = point(center).map_err(|r| bad(format!("has a bad centre: {r}")))?;
    let radius_km =
        decimal(radius).map_err(|r| bad(format!("has a radius that {}", strip_is(r))))?;
    if radius_km < 0.0 {
        return Err(bad("has a negative radius".into()));
    }
    Ok(Circle { center, radius_km })
}

fn named_value(node: &Node<'_>) -> Result<NamedValue, CapError> {
    let slots = node.children(NAMED_VALUE, false)?;
    Ok(NamedValue {
        value_name: non_empty(slots.required("valueName", node)?)?,
        value: slots.text("value", node)?,
    })
}

fn check_alert(root: &Element) -> Result<Alert, CapError> {
    if root.ns != Ns::Cap || root.name != "alert" {
        return Err(CapError::new(
            "document",
            root.line,
            Kind::Root {
                expected: NAMESPACE,
                found: root.qualified(),
            },
        ));
    }
    let node = Node {
        element: root,
        path: "alert".to_owned(),
    };
    let slots = node.children(ALERT, true)?;
    let scope = code(
        slots.required("scope", &node)?,
        Scope::from_text,
        Scope::ALLOWED,
    )?;
    let addresses = slots.opt_text("addresses")?;
    // CAP 1.2 §3.2.1: addresses is "required when scope is Private".
    if scope == Scope::Private && addresses.is_none() {
        return Err(node.err(Kind::Rule(
            "scope is Private, so <addresses> is required (CAP 1.2 §3.2.1)".into(),
        )));
    }
    Ok(Alert {
        identifier: id_field(slots.required("identifier", &node)?)?,
        sender: id_field(slots.required("sender", &node)?)?,
        sent: time(slots.required("sent", &node)?)?,
        status: code(
            slots.required("status", &node)?,
            Status::from_text,
            Status::ALLOWED,
        )?,
        msg_type: code(
            slots.required("msgType", &node)?,
            MsgType::from_text,
            MsgType::ALLOWED,
        )?,
        source: slots.opt_text("source")?,
        scope,
        restriction: slots.opt_text("restriction")?,
        addresses,
        codes: slots
            .all("code")
            .iter()
            .map(|n| n.text().map(str::to_owned))
            .collect::<Result<_, _>>()?,
        note: slots.opt_text("note")?,
        references: slots
            .first("references")
            .map(references)
            .transpose()?
            .unwrap_or_default(),
        incidents: slots.opt_text("incidents")?,
        infos: slots
            .all("info")
            .iter()
            .map(info)
            .collect::<Result<_, _>>()?,
    })
}

fn info(node: &Node<'_>) -> Result<Info, CapError> {
    let slots = node.children(INFO, false)?;
    let language = match slots.first("language") {
        None => None,
        Some(n) => {
            let text = n.token()?;
            let ok = text.starts_with(|c: char| c.is_ascii_alphabetic())
                && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !ok {
                return Err(n.err(Kind::invalid(
                    text,
                    "is not a language tag such as en-US (RFC 3066)",
                )));
            }
            Some(text.to_owned())
        }
    };
    Ok(Info {
        language,
        categories: slots
            .all("category")
            .iter()
            .map(|n| code(n, Category::from_text, Category::ALLOWED))
            .collect::<Result<_, _>>()?,
        event: non_empty(slots.required("event", node)?)?,
        response_types: slots
            .all("responseType")
            .iter()
            .map(|n| code(n, ResponseType::from_text, ResponseType::ALLOWED))
            .collect::<Result<_, _>>()?,
        urgency: code(
            slots.required("urgency", node)?,
            Urgency::from_text,
            Urgency::ALLOWED,
        )?,
        severity: code(
            slots.required("severity", node)?,
            Severity::from_text,
            Severity::ALLOWED,
        )?,
        certainty: code(
            slots.required("certainty", node)?,
            Certainty::from_text,
            Certainty::ALLOWED,
        )?,
        audience: slots.opt_text("audience")?,
        event_codes: slots
            .all("eventCode")
            .iter()
            .map(named_value)
            .collect::<Result<_, _>>()?,
        effective: slots.opt_time("effective")?,
        onset: slots.opt_time("onset")?,
        expires: slots.opt_time("expires")?,
        sender_name: slots.opt_text("senderName")?,
        headline: slots.opt_text("headline")?,
        description: slots.opt_text("description")?,
        instruction: slots.opt_text("instruction")?,
        web: slots.opt_text("web")?,
        contact: slots.opt_text("contact")?,
        parameters: slots
            .all("parameter")
            .iter()
            .map(named_value)
            .collect::<Result<_, _>>()?,
        resources: slots
            .all("resource")
            .iter()
            .map(resource)
            .collect::<Result<_, _>>()?,
        areas: slots
            .all("area")
            .iter()
            .map(area)
            .collect::<Result<_, _>>()?,
    })
}

fn resource(node: &Node<'_>) -> Result<Resource, CapError> {
    let slots = node.children(RESOURCE, false)?;
    let size = match slots.first("size") {
        None => None,
        Some(n) => {
            let text = n.token()?;
            let size = text
                .parse::<u64>()
                .ok()
                .filter(|_| text.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| n.err(Kind::invalid(text, "is not a size in bytes (an integer)")))?;
            Some(size)
        }
    };
    Ok(Resource {
        resource_desc: non_empty(slots.required("resourceDesc", node)?)?,
        mime_type: non_empty(slots.required("mimeType", node)?)?,
        size,
        uri: slots.opt_text("uri")?,
        deref_uri: slots.opt_text("derefUri")?,
        digest: slots.opt_text("digest")?,
    })
}

fn area(node: &Node<'_>) -> Result<Area, CapError> {
    let slots = node.children(AREA, false)?;
    let altitude = slots.opt_decimal("altitude")?;
    let ceiling = slots.opt_decimal("ceiling")?;
    // CAP 1.2 §3.2.4: ceiling "MUST NOT be used except in combination with the altitude element".
    if let (Some(c), None) = (slots.first("ceiling"), altitude) {
        return Err(c.err(Kind::Rule(
            "<ceiling> is only allowed together with <altitude> (CAP 1.2 §3.2.4)".into(),
        )));
    }
    Ok(Area {
        area_desc: non_empty(slots.required("areaDesc", node)?)?,
        polygons: slots
            .all("polygon")
            .iter()
            .map(polygon)
            .collect::<Result<_, _>>()?,
        circles: slots
            .all("circle")
            .iter()
            .map(circle)
            .collect::<Result<_, _>>()?,
        geocodes: slots
            .all("geocode")
            .iter()
            .map(named_value)
            .collect::<Result<_, _>>()?,
        altitude,
        ceiling,
    })
}
