//! Building an alert for the common case: one message, one `info` block, one area.
//!
//! [`AlertBuilder::build`] writes the alert and parses it back, so what it returns passed every
//! check a received alert must pass, and its errors read like those of a received document.

use super::error::CapError;
use super::model::{
    Alert, AlertId, Area, Category, Certainty, Info, MsgType, ResponseType, Scope, Severity,
    Status, Urgency,
};
use super::time::CapTime;
use super::{parse, write};

/// Builds a CAP 1.2 alert step by step. The `info` block is created by the first method that
/// sets one of its fields; a `Cancel` may have none.
#[derive(Debug, Clone)]
pub struct AlertBuilder {
    alert: Alert,
}

impl AlertBuilder {
    /// An `Actual`, `Public` `Alert` from `sender`, numbered `identifier`, sent at `sent`.
    pub fn new(sender: impl Into<String>, identifier: impl Into<String>, sent: CapTime) -> Self {
        Self {
            alert: Alert {
                identifier: identifier.into(),
                sender: sender.into(),
                sent,
                status: Status::Actual,
                msg_type: MsgType::Alert,
                source: None,
                scope: Scope::Public,
                restriction: None,
                addresses: None,
                codes: Vec::new(),
                note: None,
                references: Vec::new(),
                incidents: None,
                infos: Vec::new(),
            },
        }
    }

    /// `status` (default `Actual`).
    pub fn status(mut self, status: Status) -> Self {
        self.alert.status = status;
        self
    }

    /// `msgType` (default `Alert`); `Update` and `Cancel` need [`Self::reference`].
    pub fn msg_type(mut self, msg_type: MsgType) -> Self {
        self.alert.msg_type = msg_type;
        self
    }

    /// `scope` (default `Public`).
    pub fn scope(mut self, scope: Scope) -> Self {
        self.alert.scope = scope;
        self
    }

    /// Adds an earlier message to `references`.
    pub fn reference(mut self, id: AlertId) -> Self {
        self.alert.references.push(id);
        self
    }

    /// `note`.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.alert.note = Some(note.into());
        self
    }

    fn info(&mut self) -> &mut Info {
        if self.alert.infos.is_empty() {
            self.alert.infos.push(Info {
                language: None,
                categories: Vec::new(),
                event: String::new(),
                response_types: Vec::new(),
                urgency: Urgency::Unknown,
                severity: Severity::Unknown,
                certainty: Certainty::Unknown,
                audience: None,
                event_codes: Vec::new(),
                effective: None,
                onset: None,
                expires: None,
                sender_name: None,
                headline: None,
                description: None,
                instruction: None,
                web: None,
                contact: None,
                parameters: Vec::new(),
                resources: Vec::new(),
                areas: Vec::new(),
            });
        }
        let last = self.alert.infos.len() - 1;
        &mut self.alert.infos[last]
    }

    /// The event and its category (`info/category`, `info/event`).
    pub fn event(mut self, category: Category, event: impl Into<String>) -> Self {
        let info = self.info();
        if !info.categories.contains(&category) {
            info.categories.push(category);
        }
        info.event = event.into();
        self
    }

    /// `info/urgency` (default `Unknown`).
    pub fn urgency(mut self, urgency: Urgency) -> Self {
        self.info().urgency = urgency;
        self
    }

    /// `info/severity` (default `Unknown`).
    pub fn severity(mut self, severity: Severity) -> Self {
        self.info().severity = severity;
        self
    }

    /// `info/certainty` (default `Unknown`).
    pub fn certainty(mut self, certainty: Certainty) -> Self {
        self.info().certainty = certainty;
        self
    }

    /// Adds an `info/responseType`.
    pub fn response(mut self, response: ResponseType) -> Self {
        self.info().response_types.push(response);
        self
    }

    /// `info/senderName`.
    pub fn sender_name(mut self, name: impl Into<String>) -> Self {
        self.info().sender_name = Some(name.into());
        self
    }

    /// `info/headline`.
    pub fn headline(mut self, headline: impl Into<String>) -> Self {
        self.info().headline = Some(headline.into());
        self
    }

    /// `info/description`.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.info().description = Some(description.into());
        self
    }

    /// `info/instruction`.
    pub fn instruction(mut self, instruction: impl Into<String>) -> Self {
        self.info().instruction = Some(instruction.into());
        self
    }

    /// `info/expires`.
    pub fn expires(mut self, expires: CapTime) -> Self {
        self.info().expires = Some(expires);
        self
    }

    /// Adds an `info/area` described in words.
    pub fn area(mut self, description: impl Into<String>) -> Self {
        self.info().areas.push(Area {
            area_desc: description.into(),
            polygons: Vec::new(),
            circles: Vec::new(),
            geocodes: Vec::new(),
            altitude: None,
            ceiling: None,
        });
        self
    }

    /// Checks the alert against every CAP 1.2 rule and returns it.
    pub fn build(self) -> Result<Alert, CapError> {
        parse(write(&self.alert).as_bytes())
    }
}
