//! The CAP 1.2 message model: one type per element block, one enum per code list.
//!
//! Field names follow the CAP 1.2 data dictionary (§3.2) in snake case; a `Vec` is an element
//! that may repeat, an `Option` one that may be absent. Values are as the sender wrote them:
//! free text is kept exactly (no trimming), code lists are enums, times are [`CapTime`]s and
//! coordinates are numbers. The model is plain data; [`super::parse`] only builds one from a
//! document that passes every rule, and [`super::AlertBuilder`] checks what it builds.

use super::time::CapTime;

/// Declares a CAP code list: the enum, its spelling in documents, and the list for messages.
macro_rules! code_list {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in the order CAP 1.2 lists them.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];
            /// The values as they appear in documents, for error messages.
            pub const ALLOWED: &'static str = concat_list!($($text),+);

            /// The value as written in a CAP document.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// The value a document's text names; CAP code values are case-sensitive.
            pub fn from_text(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// `"A, B, C"` from string literals, at compile time.
macro_rules! concat_list {
    ($first:literal $(, $rest:literal)*) => { concat!($first $(, ", ", $rest)*) };
}

code_list! {
    /// `alert/status`: how the message is to be handled (CAP 1.2 §3.2.1).
    Status {
        /// Actionable by all targeted recipients.
        Actual = "Actual",
        /// Actionable only by designated exercise participants.
        Exercise = "Exercise",
        /// Internal functions of the alerting network.
        System = "System",
        /// Technical testing only; all recipients disregard.
        Test = "Test",
        /// A preliminary template or draft, not actionable.
        Draft = "Draft",
    }
}

code_list! {
    /// `alert/msgType`: what the message does (CAP 1.2 §3.2.1).
    MsgType {
        /// Initial information requiring attention.
        Alert = "Alert",
        /// Updates and supersedes the messages named in `references`.
        Update = "Update",
        /// Cancels the messages named in `references`.
        Cancel = "Cancel",
        /// Acknowledges receipt of the messages named in `references`.
        Ack = "Ack",
        /// Rejects the messages named in `references`.
        Error = "Error",
    }
}

code_list! {
    /// `alert/scope`: who the message is for (CAP 1.2 §3.2.1).
    Scope {
        /// The general public.
        Public = "Public",
        /// Users with a known operational requirement (see `restriction`).
        Restricted = "Restricted",
        /// The listed `addresses` only.
        Private = "Private",
    }
}

code_list! {
    /// `info/category` (CAP 1.2 §3.2.2).
    Category {
        /// Geophysical, including landslide.
        Geo = "Geo",
        /// Meteorological, including flood.
        Met = "Met",
        /// General emergency and public safety.
        Safety = "Safety",
        /// Law enforcement, military, homeland and local/private security.
        Security = "Security",
        /// Rescue and recovery.
        Rescue = "Rescue",
        /// Fire suppression and rescue.
        Fire = "Fire",
        /// Medical and public health.
        Health = "Health",
        /// Pollution and other environmental.
        Env = "Env",
        /// Public and private transportation.
        Transport = "Transport",
        /// Utility, telecommunication, other non-transport infrastructure.
        Infra = "Infra",
        /// Chemical, biological, radiological, nuclear or high-yield explosive.
        Cbrne = "CBRNE",
        /// Other events.
        Other = "Other",
    }
}

code_list! {
    /// `info/responseType`: the recommended action (CAP 1.2 §3.2.2).
    ResponseType {
        /// Take shelter in place.
        Shelter = "Shelter",
        /// Relocate.
        Evacuate = "Evacuate",
        /// Make preparations.
        Prepare = "Prepare",
        /// Execute a pre-planned activity.
        Execute = "Execute",
        /// Avoid the subject event.
        Avoid = "Avoid",
        /// Attend to information sources.
        Monitor = "Monitor",
        /// Evaluate the information in this message (not for public warnings).
        Assess = "Assess",
        /// The event no longer poses a threat.
        AllClear = "AllClear",
        /// No action recommended.
        NoAction = "None",
    }
}

code_list! {
    /// `info/urgency`: how soon to act (CAP 1.2 §3.2.2).
    Urgency {
        /// Act now.
        Immediate = "Immediate",
        /// Act soon, within the next hour.
        Expected = "Expected",
        /// Act in the near future.
        Future = "Future",
        /// No longer required.
        Past = "Past",
        /// Not known.
        Unknown = "Unknown",
    }
}

code_list! {
    /// `info/severity`: how bad (CAP 1.2 §3.2.2).
    Severity {
        /// Extraordinary threat to life or property.
        Extreme = "Extreme",
        /// Significant threat to life or property.
        Severe = "Severe",
        /// Possible threat to life or property.
        Moderate = "Moderate",
        /// Minimal to no known threat.
        Minor = "Minor",
        /// Not known.
        Unknown = "Unknown",
    }
}

code_list! {
    /// `info/certainty`: how sure (CAP 1.2 §3.2.2).
    Certainty {
        /// Determined to have occurred or to be ongoing.
        Observed = "Observed",
        /// Likely (p > ~50%).
        Likely = "Likely",
        /// Possible but not likely (p <= ~50%).
        Possible = "Possible",
        /// Not expected to occur (p ~ 0).
        Unlikely = "Unlikely",
        /// Not known.
        Unknown = "Unknown",
    }
}

/// A CAP message (`alert`, CAP 1.2 §3.2.1).
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Unique for the sender; no spaces, commas, `<` or `&`.
    pub identifier: String,
    /// Globally unique originator; no spaces, commas, `<` or `&`.
    pub sender: String,
    /// When the message originated.
    pub sent: CapTime,
    /// How to handle it.
    pub status: Status,
    /// What it does.
    pub msg_type: MsgType,
    /// The particular source, e.g. an operator.
    pub source: Option<String>,
    /// Who it is for.
    pub scope: Scope,
    /// The rule limiting distribution of a `Restricted` message.
    pub restriction: Option<String>,
    /// The recipients of a `Private` message (space-delimited, quoted if they hold spaces).
    pub addresses: Option<String>,
    /// `code`: special handling codes.
    pub codes: Vec<String>,
    /// Explanatory text (for `Error` messages, the reason).
    pub note: Option<String>,
    /// Earlier messages this one refers to (CAP 1.2 §3.2.1 `references`).
    pub references: Vec<AlertId>,
    /// Incidents this message belongs to (space-delimited, as written).
    pub incidents: Option<String>,
    /// `info` blocks, one per language or audience.
    pub infos: Vec<Info>,
}

/// The identity of a message across the network: `sender,identifier,sent`, the form
/// `references` uses (CAP 1.2 §3.2.1).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AlertId {
    /// The message's `sender`.
    pub sender: String,
    /// The message's `identifier`.
    pub identifier: String,
    /// The message's `sent`.
    pub sent: CapTime,
}

impl std::fmt::Display for AlertId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{},{},{}", self.sender, self.identifier, self.sent)
    }
}

/// An `info` block: the event and what to do about it (CAP 1.2 §3.2.2).
#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    /// RFC 3066 language tag; CAP's default is `en-US` when absent.
    pub language: Option<String>,
    /// At least one.
    pub categories: Vec<Category>,
    /// The subject event, in text.
    pub event: String,
    /// Recommended actions.
    pub response_types: Vec<ResponseType>,
    /// How soon to act.
    pub urgency: Urgency,
    /// How bad.
    pub severity: Severity,
    /// How sure.
    pub certainty: Certainty,
    /// The intended audience, in text.
    pub audience: Option<String>,
    /// System-specific event codes.
    pub event_codes: Vec<NamedValue>,
    /// When the information takes effect (default: `sent`).
    pub effective: Option<CapTime>,
    /// Expected onset of the event.
    pub onset: Option<CapTime>,
    /// When the information expires.
    pub expires: Option<CapTime>,
    /// Human-readable name of the agency or authority.
    pub sender_name: Option<String>,
    /// A brief headline (CAP suggests under 160 characters).
    pub headline: Option<String>,
    /// The hazard, in detail.
    pub description: Option<String>,
    /// What to do.
    pub instruction: Option<String>,
    /// A URI for more information.
    pub web: Option<String>,
    /// How to follow up.
    pub contact: Option<String>,
    /// System-specific parameters.
    pub parameters: Vec<NamedValue>,
    /// Attached or linked files.
    pub resources: Vec<Resource>,
    /// Where the event applies.
    pub areas: Vec<Area>,
}

/// A `valueName`/`value` pair: `eventCode`, `parameter`, `geocode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedValue {
    /// The system or scheme, e.g. `SAME`, `FIPS6`.
    pub value_name: String,
    /// The value in that system.
    pub value: String,
}

/// A `resource` block: a file that goes with the message (CAP 1.2 §3.2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// What it is, in text.
    pub resource_desc: String,
    /// Its MIME type (RFC 2046).
    pub mime_type: String,
    /// Approximate size in bytes.
    pub size: Option<u64>,
    /// Where to get it.
    pub uri: Option<String>,
    /// The content itself, base64.
    pub deref_uri: Option<String>,
    /// SHA-1 of the content, as written.
    pub digest: Option<String>,
}

/// An `area` block (CAP 1.2 §3.2.4).
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    /// The area, in text.
    pub area_desc: String,
    /// Closed polygons.
    pub polygons: Vec<Polygon>,
    /// Circles.
    pub circles: Vec<Circle>,
    /// Geographic codes (`valueName` names the scheme).
    pub geocodes: Vec<NamedValue>,
    /// Altitude, or floor of the space, in feet above mean sea level.
    pub altitude: Option<f64>,
    /// Ceiling of the space, in feet; only with `altitude`.
    pub ceiling: Option<f64>,
}

/// A WGS 84 point, in decimal degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Latitude, −90 to 90.
    pub lat: f64,
    /// Longitude, −180 to 180.
    pub lon: f64,
}

/// A closed polygon: at least four points, the first equal to the last (CAP 1.2 §3.2.4).
#[derive(Debug, Clone, PartialEq)]
pub struct Polygon(pub Vec<Point>);

/// A circle: centre and radius in kilometres (CAP 1.2 §3.2.4).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Circle {
    /// The centre.
    pub center: Point,
    /// The radius, kilometres.
    pub radius_km: f64,
}

impl Alert {
    /// The message's identity, as other messages' `references` name it.
    pub fn id(&self) -> AlertId {
        AlertId {
            sender: self.sender.clone(),
            identifier: self.identifier.clone(),
            sent: self.sent,
        }
    }
}
