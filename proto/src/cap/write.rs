//! Writing CAP 1.2 documents: one canonical form for a given [`Alert`].
//!
//! Elements in schema order (CAP 1.2 §3.2), the CAP namespace as the default namespace on
//! `alert`, two-space indentation, UTF-8, times at the sender's offset with UTC as `-00:00`,
//! numbers in their shortest exact decimal form. Text is escaped (`&`, `<`, `>`, and carriage
//! return as `&#13;` so XML line-end normalisation cannot change it), so for every alert that
//! passes the checks, `parse(write(a)) == a`.

use std::fmt::Write as _;

use super::NAMESPACE;
use super::model::{Alert, Area, Info, NamedValue, Point, Resource};

/// The canonical CAP 1.2 document for `alert`.
pub fn write(alert: &Alert) -> String {
    let mut w = Writer {
        out: String::with_capacity(1024),
        depth: 0,
    };
    w.out
        .push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    w.out.push_str(&format!("<alert xmlns=\"{NAMESPACE}\">\n"));
    w.depth = 1;
    w.leaf("identifier", &alert.identifier);
    w.leaf("sender", &alert.sender);
    w.leaf("sent", &alert.sent.to_string());
    w.leaf("status", alert.status.as_str());
    w.leaf("msgType", alert.msg_type.as_str());
    w.opt("source", alert.source.as_deref());
    w.leaf("scope", alert.scope.as_str());
    w.opt("restriction", alert.restriction.as_deref());
    w.opt("addresses", alert.addresses.as_deref());
    for code in &alert.codes {
        w.leaf("code", code);
    }
    w.opt("note", alert.note.as_deref());
    if !alert.references.is_empty() {
        let refs: Vec<String> = alert.references.iter().map(ToString::to_string).collect();
        w.leaf("references", &refs.join(" "));
    }
    w.opt("incidents", alert.incidents.as_deref());
    for info in &alert.infos {
        w.info(info);
    }
    w.out.push_str("</alert>\n");
    w.out
}

struct Writer {
    out: String,
    depth: usize,
}

impl Writer {
    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }

    fn open(&mut self, name: &str) {
        self.indent();
        let _ = writeln!(self.out, "<{name}>");
        self.depth += 1;
    }

    fn close(&mut self, name: &str) {
        self.depth -= 1;
        self.indent();
        let _ = writeln!(self.out, "</{name}>");
    }

    fn leaf(&mut self, name: &str, text: &str) {
        self.indent();
        let _ = write!(self.out, "<{name}>");
        escape_into(&mut self.out, text);
        let _ = writeln!(self.out, "</{name}>");
    }

    fn opt(&mut self, name: &str, text: Option<&str>) {
        if let Some(text) = text {
            self.leaf(name, text);
        }
    }

    fn named(&mut self, name: &str, pair: &NamedValue) {
        self.open(name);
        self.leaf("valueName", &pair.value_name);
        self.leaf("value", &pair.value);
        self.close(name);
    }

    fn info(&mut self, info: &Info) {
        self.open("info");
        self.opt("language", info.language.as_deref());
        for category in &info.categories {
            self.leaf("category", category.as_str());
        }
        self.leaf("event", &info.event);
        for response in &info.response_types {
            self.leaf("responseType", response.as_str());
        }
        self.leaf("urgency", info.urgency.as_str());
        self.leaf("severity", info.severity.as_str());
        self.leaf("certainty", info.certainty.as_str());
        self.opt("audience", info.audience.as_deref());
        for code in &info.event_codes {
            self.named("eventCode", code);
        }
        for (name, time) in [
            ("effective", info.effective),
            ("onset", info.onset),
            ("expires", info.expires),
        ] {
            if let Some(time) = time {
                self.leaf(name, &time.to_string());
            }
        }
        self.opt("senderName", info.sender_name.as_deref());
        self.opt("headline", info.headline.as_deref());
        self.opt("description", info.description.as_deref());
        self.opt("instruction", info.instruction.as_deref());
        self.opt("web", info.web.as_deref());
        self.opt("contact", info.contact.as_deref());
        for parameter in &info.parameters {
            self.named("parameter", parameter);
        }
        for resource in &info.resources {
            self.resource(resource);
        }
        for area in &info.areas {
            self.area(area);
        }
        self.close("info");
    }

    fn resource(&mut self, resource: &Resource) {
        self.open("resource");
        self.leaf("resourceDesc", &resource.resource_desc);
        self.leaf("mimeType", &resource.mime_type);
        if let Some(size) = resource.size {
            self.leaf("size", &size.to_string());
        }
        self.opt("uri", resource.uri.as_deref());
        self.opt("derefUri", resource.deref_uri.as_deref());
        self.opt("digest", resource.digest.as_deref());
        self.close("resource");
    }

    fn area(&mut self, area: &Area) {
        self.open("area");
        self.leaf("areaDesc", &area.area_desc);
        for polygon in &area.polygons {
            let points: Vec<String> = polygon.0.iter().map(point).collect();
            self.leaf("polygon", &points.join(" "));
        }
        for circle in &area.circles {
            let text = format!("{} {}", point(&circle.center), circle.radius_km);
            self.leaf("circle", &text);
        }
        for geocode in &area.geocodes {
            self.named("geocode", geocode);
        }
        if let Some(altitude) = area.altitude {
            self.leaf("altitude", &altitude.to_string());
        }
        if let Some(ceiling) = area.ceiling {
            self.leaf("ceiling", &ceiling.to_string());
        }
        self.close("area");
    }
}

fn point(p: &Point) -> String {
    format!("{},{}", p.lat, p.lon)
}

/// Escapes text content: markup characters, and carriage returns (which a parser would
/// otherwise normalise to line feeds, XML 1.0 §2.11).
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}
