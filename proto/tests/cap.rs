//! CAP 1.2 (`tern_proto::cap`) against documents: the spec's example messages field by field,
//! one refused document per validation rule, a round trip through the writer, and arbitrary
//! bytes that must never panic the parser. Every test lives in `mod cap` so
//! `cargo test -p tern-proto cap` selects them.

// A panic is how a test fails; helpers outside `#[test]` functions unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cap {
    use std::path::Path;

    use proptest::prelude::*;
    use tern_proto::cap::{
        Alert, AlertBuilder, AlertId, Area, CapErrorKind, CapTime, Category, Certainty, Circle,
        Info, MsgType, NamedValue, ParseLimits, Point, Polygon, Resource, ResponseType, Scope,
        Severity, Status, Urgency, parse, parse_with, write,
    };
    use tern_proto::wire::Priority;

    fn example(name: &str) -> Alert {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/cap")
            .join(name);
        let bytes = std::fs::read(&path).unwrap();
        parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn t(text: &str) -> CapTime {
        CapTime::parse(text).unwrap()
    }

    fn nv(name: &str, value: &str) -> NamedValue {
        NamedValue {
            value_name: name.into(),
            value: value.into(),
        }
    }

    // --- the spec's examples ------------------------------------------------------------------

    #[test]
    fn homeland_security_example_parses_field_by_field() {
        let a = example("homeland.xml");
        assert_eq!(a.identifier, "43b080713727");
        assert_eq!(a.sender, "hsas@dhs.gov");
        assert_eq!(a.sent, t("2003-04-02T14:39:01-05:00"));
        assert_eq!(a.status, Status::Actual);
        assert_eq!(a.msg_type, MsgType::Alert);
        assert_eq!(a.scope, Scope::Public);
        assert_eq!(a.source, None);
        assert!(a.references.is_empty());
        assert_eq!(a.infos.len(), 1);
        let i = &a.infos[0];
        assert_eq!(i.language, None);
        assert_eq!(i.categories, [Category::Security]);
        assert_eq!(i.event, "Homeland Security Advisory System Update");
        assert_eq!(i.urgency, Urgency::Immediate);
        assert_eq!(i.severity, Severity::Severe);
        assert_eq!(i.certainty, Certainty::Likely);
        assert_eq!(
            i.sender_name.as_deref(),
            Some("U.S. Government, Department of Homeland Security")
        );
        assert_eq!(
            i.headline.as_deref(),
            Some("Homeland Security Sets Code ORANGE")
        );
        assert_eq!(
            i.web.as_deref(),
            Some("http://www.dhs.gov/dhspublic/display?theme=29")
        );
        assert_eq!(i.parameters, [nv("HSAS", "ORANGE")]);
        assert_eq!(
            i.resources,
            [Resource {
                resource_desc: "Image file (GIF)".into(),
                mime_type: "image/gif".into(),
                size: None,
                uri: Some("http://www.dhs.gov/dhspublic/getAdvisoryImage".into()),
                deref_uri: None,
                digest: None,
            }]
        );
        assert_eq!(i.areas.len(), 1);
        assert_eq!(
            i.areas[0].area_desc,
            "U.S. nationwide and interests worldwide"
        );
        assert_eq!(a.priority(), Priority::Emergency);
    }

    #[test]
    fn thunderstorm_example_parses_field_by_field() {
        let a = example("thunderstorm.xml");
        assert_eq!(a.identifier, "KSTO1055887203");
        assert_eq!(a.sender, "KSTO@NWS.NOAA.GOV");
        assert_eq!(a.sent.to_string(), "2003-06-17T14:57:00-07:00");
        let i = &a.infos[0];
        assert_eq!(i.categories, [Category::Met]);
        assert_eq!(i.event, "SEVERE THUNDERSTORM");
        assert_eq!(i.response_types, [ResponseType::Shelter]);
        assert_eq!(
            (i.urgency, i.severity, i.certainty),
            (Urgency::Immediate, Severity::Severe, Certainty::Observed)
        );
        assert_eq!(i.event_codes, [nv("SAME", "SVR")]);
        assert_eq!(i.expires, Some(t("2003-06-17T16:00:00-07:00")));
        assert!(
            i.description
                .as_deref()
                .unwrap()
                .ends_with("HAIL, INTENSE RAIN & STRONG DAMAGING WINDS ARE LIKELY.")
        );
        assert_eq!(i.contact.as_deref(), Some("BARUFFALDI/JUSKIE"));
        let area = &i.areas[0];
        assert!(
            area.area_desc
                .starts_with("EXTREME NORTH CENTRAL TUOLUMNE COUNTY")
        );
        let p = |lat, lon| Point { lat, lon };
        assert_eq!(
            area.polygons,
            [Polygon(vec![
                p(38.47, -120.14),
                p(38.34, -119.95),
                p(38.52, -119.74),
                p(38.62, -119.89),
                p(38.47, -120.14),
            ])]
        );
        assert_eq!(
            area.geocodes,
            [
                nv("SAME", "006109"),
                nv("SAME", "006009"),
                nv("SAME", "006003")
            ]
        );
        assert_eq!(a.expires(), Some(t("2003-06-17T16:00:00-07:00")));
        let sent = a.sent.to_dtn().unwrap();
        assert_eq!(a.lifetime_ms(sent), Some(63 * 60 * 1000));
        assert_eq!(a.priority(), Priority::Emergency);
    }

    #[test]
    fn earthquake_update_example_parses_field_by_field() {
        let a = example("earthquake.xml");
        assert_eq!(a.identifier, "TRI13970876.2");
        assert_eq!(a.msg_type, MsgType::Update);
        assert_eq!(
            a.references,
            [AlertId {
                sender: "trinet@caltech.edu".into(),
                identifier: "TRI13970876.1".into(),
                sent: t("2003-06-11T20:30:00-07:00"),
            }]
        );
        let i = &a.infos[0];
        assert_eq!(i.categories, [Category::Geo]);
        assert_eq!((i.urgency, i.severity), (Urgency::Past, Severity::Minor));
        assert!(
            i.description
                .as_deref()
                .unwrap()
                .ends_with("(Reviewed by a seismologist <staff>.)")
        );
        let names: Vec<&str> = i.parameters.iter().map(|p| p.value_name.as_str()).collect();
        assert_eq!(
            names,
            ["EventID", "Version", "Magnitude", "Depth", "Quality"]
        );
        assert_eq!(i.parameters[2].value, "3.4 Ml");
        assert_eq!(
            i.areas[0].circles,
            [Circle {
                center: Point {
                    lat: 32.9525,
                    lon: -115.5527
                },
                radius_km: 0.0
            }]
        );
        assert_eq!(a.priority(), Priority::Bulk);
    }

    #[test]
    fn amber_example_has_two_languages_and_resolves_references() {
        let a = example("amber.xml");
        assert_eq!(a.identifier, "KAR0-0306112239-SW");
        assert_eq!(a.source.as_deref(), Some("SW"));
        assert_eq!(a.infos.len(), 2);
        assert_eq!(a.infos[0].language.as_deref(), Some("en-US"));
        assert_eq!(a.infos[1].language.as_deref(), Some("es-US"));
        assert_eq!(a.infos[1].event, "Abducción de Niño");
        assert_eq!(a.infos[1].categories, [Category::Rescue]);
        assert!(
            a.infos[0]
                .description
                .as_deref()
                .unwrap()
                .contains("VICTIM: 3'0\", 40 LBS. WEARING RED SHORTS. VEHICLE: 81' BUICK")
        );
        assert!(
            a.infos[1]
                .description
                .as_deref()
                .unwrap()
                .contains("BUICK 81'")
        );
        assert_eq!(a.infos[1].areas[0].geocodes, [nv("SAME", "006037")]);
    }

    #[test]
    fn cap_examples_survive_write_then_parse() {
        for name in [
            "homeland.xml",
            "thunderstorm.xml",
            "earthquake.xml",
            "amber.xml",
        ] {
            let a = example(name);
            let text = write(&a);
            assert_eq!(parse(text.as_bytes()).unwrap(), a, "{name}");
            // Canonical: writing again gives the same bytes.
            assert_eq!(write(&parse(text.as_bytes()).unwrap()), text, "{name}");
        }
    }

    #[test]
    fn cap_writer_uses_schema_order_and_minus_zero_utc() {
        let a = AlertBuilder::new(
            "ops@example.org",
            "a1",
            CapTime::new(1_764_378_000, 0).unwrap(),
        )
        .event(Category::Met, "Flood & storm <surge>")
        .urgency(Urgency::Immediate)
        .severity(Severity::Extreme)
        .certainty(Certainty::Observed)
        .area("Riverside")
        .build()
        .unwrap();
        let text = write(&a);
        assert!(
            text.contains("<sent>2025-11-29T01:00:00-00:00</sent>"),
            "{text}"
        );
        assert!(
            text.contains("<event>Flood &amp; storm &lt;surge&gt;</event>"),
            "{text}"
        );
        let order = [
            "<identifier>",
            "<sender>",
            "<sent>",
            "<status>",
            "<msgType>",
            "<scope>",
            "<info>",
        ];
        let at: Vec<usize> = order.iter().map(|tag| text.find(tag).unwrap()).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
    }

    // --- one refused document per rule --------------------------------------------------------

    /// A valid alert; the `urgency` element is on line 12.
    const GOOD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>a1</identifier>
  <sender>ops@example.org</sender>
  <sent>2026-11-29T01:00:00-00:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <category>Met</category>
    <event>Flood</event>
    <urgency>Immediate</urgency>
    <severity>Extreme</severity>
    <certainty>Observed</certainty>
    <expires>2026-11-29T06:00:00-00:00</expires>
    <headline>Evacuate low ground</headline>
    <area>
      <areaDesc>Riverside</areaDesc>
      <polygon>1,1 1,2 2,2 1,1</polygon>
      <circle>1.5,1.5 2</circle>
    </area>
  </info>
</alert>
"#;

    /// `GOOD` with `from` replaced by `to` (which must occur).
    fn bad(from: &str, to: &str) -> String {
        assert!(GOOD.contains(from), "{from}");
        GOOD.replacen(from, to, 1)
    }

    fn refuse(doc: &str) -> tern_proto::cap::CapError {
        match parse(doc.as_bytes()) {
            Ok(a) => panic!("accepted: {a:?}\n{doc}"),
            Err(e) => e,
        }
    }

    #[test]
    fn cap_good_document_parses() {
        let a = parse(GOOD.as_bytes()).unwrap();
        assert_eq!(a.infos[0].areas[0].polygons[0].0.len(), 4);
        assert_eq!(a.priority(), Priority::Emergency);
    }

    #[test]
    fn cap_unknown_urgency_names_the_element_line_and_choices() {
        let e = refuse(&bad("<urgency>Immediate", "<urgency>Soon"));
        assert_eq!(
            e.to_string(),
            "alert/info[1]/urgency (line 12): 'Soon' is not one of Immediate, Expected, Future, Past, Unknown"
        );
    }

    #[test]
    fn cap_every_code_list_refuses_values_outside_it() {
        let cases = [
            (
                "<status>Actual",
                "<status>Real",
                "alert/status",
                "Actual, Exercise, System, Test, Draft",
            ),
            (
                "<msgType>Alert",
                "<msgType>Notice",
                "alert/msgType",
                "Alert, Update, Cancel, Ack, Error",
            ),
            (
                "<scope>Public",
                "<scope>public",
                "alert/scope",
                "Public, Restricted, Private",
            ),
            (
                "<category>Met",
                "<category>Weather",
                "alert/info[1]/category[1]",
                "Geo, Met, Safety, Security, Rescue, Fire, Health, Env, Transport, Infra, CBRNE, Other",
            ),
            (
                "<severity>Extreme",
                "<severity>Bad",
                "alert/info[1]/severity",
                "Extreme, Severe, Moderate, Minor, Unknown",
            ),
            (
                "<certainty>Observed",
                "<certainty>Sure",
                "alert/info[1]/certainty",
                "Observed, Likely, Possible, Unlikely, Unknown",
            ),
            (
                "<event>Flood</event>",
                "<event>Flood</event><responseType>Run</responseType>",
                "alert/info[1]/responseType[1]",
                "Shelter, Evacuate, Prepare, Execute, Avoid, Monitor, Assess, AllClear, None",
            ),
        ];
        for (from, to, path, allowed) in cases {
            let e = refuse(&bad(from, to));
            assert_eq!(e.path, path, "{e}");
            assert!(
                matches!(&e.kind, CapErrorKind::NotOneOf { allowed: a, .. } if *a == allowed),
                "{e}"
            );
        }
    }

    #[test]
    fn cap_missing_required_element_is_named_at_its_parent() {
        let e = refuse(&bad("  <identifier>a1</identifier>\n", ""));
        assert_eq!(e.path, "alert");
        assert_eq!(e.line, 2);
        assert_eq!(e.kind, CapErrorKind::Missing("identifier"));
        let e = refuse(&bad("    <category>Met</category>\n", ""));
        assert_eq!(e.path, "alert/info[1]");
        assert_eq!(e.kind, CapErrorKind::Missing("category"));
        let e = refuse(&bad("      <areaDesc>Riverside</areaDesc>\n", ""));
        assert_eq!(e.path, "alert/info[1]/area[1]");
        assert_eq!(e.kind, CapErrorKind::Missing("areaDesc"));
    }

    #[test]
    fn cap_repeated_single_element_is_refused() {
        let e = refuse(&bad(
            "<sender>ops@example.org</sender>",
            "<sender>a</sender><sender>b</sender>",
        ));
        assert_eq!(e.path, "alert/sender");
        assert_eq!(e.kind, CapErrorKind::Repeated("sender"));
    }

    #[test]
    fn cap_elements_out_of_schema_order_are_refused() {
        let e = refuse(&bad(
            "<status>Actual</status>\n  <msgType>Alert</msgType>",
            "<msgType>Alert</msgType>\n  <status>Actual</status>",
        ));
        assert_eq!(e.path, "alert/status");
        assert_eq!(e.line, 7);
        assert_eq!(
            e.kind,
            CapErrorKind::OutOfOrder {
                element: "status",
                after: "msgType"
            }
        );
    }

    #[test]
    fn cap_unknown_element_in_the_cap_namespace_is_refused() {
        let e = refuse(&bad("<headline>", "<colour>red</colour><headline>"));
        assert_eq!(e.path, "alert/info[1]/colour");
        assert_eq!(e.kind, CapErrorKind::UnknownElement("colour".into()));
    }

    #[test]
    fn cap_foreign_elements_are_allowed_only_at_the_end_of_alert() {
        let signed = bad(
            "  </info>\n</alert>",
            "  </info>\n  <ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo/></ds:Signature>\n</alert>",
        );
        assert_eq!(parse(signed.as_bytes()).unwrap().identifier, "a1");
        let e = refuse(&bad(
            "<headline>",
            "<x:note xmlns:x=\"urn:x\">n</x:note><headline>",
        ));
        assert_eq!(e.path, "alert/info[1]/note");
        assert_eq!(e.kind, CapErrorKind::ForeignElement("{urn:x}note".into()));
    }

    #[test]
    fn cap_root_must_be_alert_in_the_cap_1_2_namespace() {
        let e = refuse(&bad("emergency:cap:1.2", "emergency:cap:1.1"));
        assert!(matches!(e.kind, CapErrorKind::Root { .. }), "{e}");
        assert_eq!(e.line, 2);
        let e = refuse(&bad(" xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"", ""));
        assert!(
            matches!(&e.kind, CapErrorKind::Root { found, .. } if found == "alert"),
            "{e}"
        );
    }

    #[test]
    fn cap_element_without_namespace_is_refused() {
        let e = refuse(&bad(
            "<headline>",
            "<audience xmlns=\"\">all</audience><headline>",
        ));
        assert_eq!(e.path, "alert/info[1]/audience");
        assert!(matches!(e.kind, CapErrorKind::Rule(_)), "{e}");
    }

    #[test]
    fn cap_times_need_an_offset_and_no_z_or_fraction() {
        for (to, hint) in [
            ("<sent>2026-11-29T01:00:00Z", "Z"),
            ("<sent>2026-11-29T01:00:00.25-00:00", "fractional"),
            ("<sent>2026-11-29T01:00:00", "CAP date-time"),
            ("<sent>2026-02-30T01:00:00-00:00", "day"),
        ] {
            let e = refuse(&bad("<sent>2026-11-29T01:00:00-00:00", to));
            assert_eq!(e.path, "alert/sent", "{e}");
            assert!(e.to_string().contains(hint), "{e}");
        }
        let e = refuse(&bad(
            "<expires>2026-11-29T06:00:00-00:00",
            "<expires>tomorrow",
        ));
        assert_eq!(e.path, "alert/info[1]/expires");
    }

    #[test]
    fn cap_identifier_and_sender_refuse_spaces_commas_lt_and_amp() {
        for (from, to, path) in [
            ("<identifier>a1", "<identifier>a 1", "alert/identifier"),
            ("<identifier>a1", "<identifier>a,1", "alert/identifier"),
            ("<identifier>a1", "<identifier>a&amp;1", "alert/identifier"),
            (
                "<sender>ops@example.org",
                "<sender>ops&lt;x",
                "alert/sender",
            ),
            ("<identifier>a1", "<identifier>", "alert/identifier"),
        ] {
            let e = refuse(&bad(from, to));
            assert_eq!(e.path, path, "{e}");
            assert!(matches!(e.kind, CapErrorKind::Invalid { .. }), "{e}");
        }
    }

    #[test]
    fn cap_references_must_be_sender_identifier_sent_triples() {
        let with = |refs: &str| {
            bad(
                "<scope>Public</scope>",
                &format!("<scope>Public</scope><references>{refs}</references>"),
            )
        };
        let ok =
            parse(with("a,b,2026-11-29T00:00:00-00:00 c,d,2026-11-29T00:30:00+01:00").as_bytes())
                .unwrap();
        assert_eq!(ok.references.len(), 2);
        assert_eq!(
            ok.references[1].to_string(),
            "c,d,2026-11-29T00:30:00+01:00"
        );
        for refs in [
            "a,b",
            "a,b,c,d",
            "a,b,2026-11-29T00:00:00Z",
            ",b,2026-11-29T00:00:00-00:00",
        ] {
            let e = refuse(&with(refs));
            assert_eq!(e.path, "alert/references", "{e}");
        }
    }

    #[test]
    fn cap_polygon_needs_four_points_closed_and_on_the_globe() {
        for (polygon, hint) in [
            ("1,1 1,2 1,1", "at least 4"),
            ("1,1 1,2 2,2 2,1", "not closed"),
            ("95,1 1,2 2,2 95,1", "latitude"),
            ("1,1 1,200 2,2 1,1", "longitude"),
            ("1;1 1,2 2,2 1,1", "lat,lon"),
            ("1,1e2 1,2 2,2 1,1e2", "decimal"),
        ] {
            let e = refuse(&bad(
                "<polygon>1,1 1,2 2,2 1,1",
                &format!("<polygon>{polygon}"),
            ));
            assert_eq!(e.path, "alert/info[1]/area[1]/polygon[1]", "{e}");
            assert!(e.to_string().contains(hint), "{e}");
        }
    }

    #[test]
    fn cap_circle_is_a_point_and_a_radius() {
        for circle in ["1.5,1.5", "1.5,1.5 -2", "1.5,1.5 2 3", "x 2", "1.5,1.5 NaN"] {
            let e = refuse(&bad("<circle>1.5,1.5 2", &format!("<circle>{circle}")));
            assert_eq!(e.path, "alert/info[1]/area[1]/circle[1]", "{e}");
        }
    }

    #[test]
    fn cap_ceiling_needs_altitude() {
        let e = refuse(&bad("</circle>", "</circle><ceiling>100</ceiling>"));
        assert_eq!(e.path, "alert/info[1]/area[1]/ceiling");
        let ok = bad(
            "</circle>",
            "</circle><altitude>10</altitude><ceiling>100.5</ceiling>",
        );
        let area = &parse(ok.as_bytes()).unwrap().infos[0].areas[0];
        assert_eq!((area.altitude, area.ceiling), (Some(10.0), Some(100.5)));
    }

    #[test]
    fn cap_private_scope_needs_addresses() {
        let e = refuse(&bad("<scope>Public", "<scope>Private"));
        assert_eq!(e.path, "alert");
        assert!(e.to_string().contains("addresses"), "{e}");
        let ok = bad(
            "<scope>Public</scope>",
            "<scope>Private</scope><addresses>ops</addresses>",
        );
        assert_eq!(
            parse(ok.as_bytes()).unwrap().addresses.as_deref(),
            Some("ops")
        );
    }

    #[test]
    fn cap_required_text_must_not_be_blank() {
        let e = refuse(&bad("<event>Flood", "<event>  "));
        assert_eq!(e.path, "alert/info[1]/event");
        let e = refuse(&bad("<areaDesc>Riverside", "<areaDesc>"));
        assert_eq!(e.path, "alert/info[1]/area[1]/areaDesc");
    }

    #[test]
    fn cap_resource_size_is_an_integer_and_language_a_tag() {
        let res = "<resource><resourceDesc>map</resourceDesc><mimeType>image/png</mimeType><size>12kB</size></resource><area>";
        let e = refuse(&bad("<area>", res));
        assert_eq!(e.path, "alert/info[1]/resource[1]/size");
        let e = refuse(&bad("<category>", "<language>en US</language><category>"));
        assert_eq!(e.path, "alert/info[1]/language");
    }

    #[test]
    fn cap_text_and_children_go_where_they_belong() {
        let e = refuse(&bad("<scope>Public</scope>", "<scope>Public</scope>stray"));
        assert_eq!(
            (e.path.as_str(), &e.kind),
            ("alert", &CapErrorKind::UnexpectedText)
        );
        let e = refuse(&bad("<event>Flood</event>", "<event>Flood<b>!</b></event>"));
        assert_eq!(e.path, "alert/info[1]/event/b");
        assert_eq!(e.kind, CapErrorKind::UnexpectedChild("b".into()));
    }

    #[test]
    fn cap_doctype_and_entities_are_never_expanded() {
        let laughs = GOOD.replacen(
            "<alert",
            "<!DOCTYPE alert [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;\">]>\n<alert",
            1,
        );
        assert_eq!(refuse(&laughs).kind, CapErrorKind::Doctype);
        let e = refuse(&bad("<event>Flood", "<event>Flood&nbsp;"));
        assert_eq!(e.kind, CapErrorKind::UnknownEntity("nbsp".into()));
        assert_eq!(e.line, 11);
    }

    #[test]
    fn cap_bad_characters_and_encodings_are_refused() {
        let e = refuse(&bad("<event>Flood", "<event>Flood&#1;"));
        assert!(matches!(e.kind, CapErrorKind::BadCharacter(_)), "{e}");
        let e = refuse(&bad("encoding=\"UTF-8\"", "encoding=\"ISO-8859-1\""));
        assert_eq!(e.kind, CapErrorKind::Encoding("ISO-8859-1".into()));
        let mut bytes = GOOD.as_bytes().to_vec();
        let at = GOOD.find("Flood").unwrap();
        bytes[at] = 0xff;
        let e = parse(&bytes).unwrap_err();
        assert!(matches!(e.kind, CapErrorKind::NotUtf8(_)), "{e}");
        assert_eq!(e.line, 11);
    }

    #[test]
    fn cap_malformed_xml_reports_the_line() {
        let e = refuse(&bad("</headline>", "</headlin>"));
        assert!(matches!(e.kind, CapErrorKind::Syntax(_)), "{e}");
        assert_eq!(e.line, 16);
        assert_eq!(refuse("").kind, CapErrorKind::Empty);
        assert!(matches!(
            refuse(&bad("</alert>\n", "")).kind,
            CapErrorKind::Syntax(_)
        ));
    }

    #[test]
    fn cap_limits_refuse_large_deep_and_crowded_documents() {
        let limits = ParseLimits {
            max_bytes: GOOD.len() - 1,
            ..ParseLimits::default()
        };
        let e = parse_with(GOOD.as_bytes(), &limits).unwrap_err();
        assert!(matches!(e.kind, CapErrorKind::TooLarge { .. }), "{e}");

        let deep = bad(
            "<headline>",
            &format!(
                "{}{}<headline>",
                "<x:a xmlns:x=\"urn:x\">".repeat(20),
                "</x:a>".repeat(20)
            ),
        );
        let e = refuse(&deep);
        assert_eq!(e.kind, CapErrorKind::TooDeep { limit: 16 });

        let limits = ParseLimits {
            max_elements: 10,
            ..ParseLimits::default()
        };
        let e = parse_with(GOOD.as_bytes(), &limits).unwrap_err();
        assert_eq!(e.kind, CapErrorKind::TooManyElements { limit: 10 });
    }

    #[test]
    fn cap_builder_refuses_what_the_parser_would() {
        let sent = CapTime::new(1_764_378_000, 60).unwrap();
        let e = AlertBuilder::new("ops center", "a1", sent)
            .event(Category::Met, "Flood")
            .build()
            .unwrap_err();
        assert_eq!(e.path, "alert/sender");
        let e = AlertBuilder::new("ops", "a1", sent)
            .urgency(Urgency::Immediate)
            .build()
            .unwrap_err();
        assert_eq!(e.kind, CapErrorKind::Missing("category"));
    }

    // --- properties -----------------------------------------------------------------------------

    fn token() -> impl Strategy<Value = String> {
        "[A-Za-z0-9@._:-]{1,16}"
    }

    /// Free text: printable ASCII and Latin-1, markup characters, tabs, CR and LF, with leading
    /// and trailing whitespace, all of which must survive exactly.
    fn text() -> impl Strategy<Value = String> {
        "[ -~\t\r\nà-ÿ€]{0,24}"
    }

    fn nonblank() -> impl Strategy<Value = String> {
        "[A-Za-z][ -~à-ÿ]{0,20}"
    }

    fn time() -> impl Strategy<Value = CapTime> {
        (946_684_800i64..4_102_444_800, -840i16..=840)
            .prop_map(|(secs, off)| CapTime::new(secs, off).unwrap())
    }

    fn pick<T: Copy + std::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
        proptest::sample::select(all)
    }

    fn point() -> impl Strategy<Value = Point> {
        (-90.0f64..=90.0, -180.0f64..=180.0).prop_map(|(lat, lon)| Point { lat, lon })
    }

    fn named() -> impl Strategy<Value = NamedValue> {
        (nonblank(), text()).prop_map(|(value_name, value)| NamedValue { value_name, value })
    }

    fn area() -> impl Strategy<Value = Area> {
        (
            nonblank(),
            prop::collection::vec(prop::collection::vec(point(), 3..6), 0..2),
            prop::collection::vec((point(), 0.0f64..500.0), 0..2),
            prop::collection::vec(named(), 0..2),
            prop::option::of(-500.0f64..50_000.0),
            prop::option::of(-500.0f64..50_000.0),
        )
            .prop_map(
                |(area_desc, polygons, circles, geocodes, altitude, ceiling)| Area {
                    area_desc,
                    polygons: polygons
                        .into_iter()
                        .map(|mut points| {
                            points.push(points[0]);
                            Polygon(points)
                        })
                        .collect(),
                    circles: circles
                        .into_iter()
                        .map(|(center, radius_km)| Circle { center, radius_km })
                        .collect(),
                    geocodes,
                    altitude: altitude.or(ceiling.map(|_| 0.0)),
                    ceiling,
                },
            )
    }

    fn resource() -> impl Strategy<Value = Resource> {
        (
            nonblank(),
            nonblank(),
            prop::option::of(any::<u64>()),
            prop::option::of(text()),
            prop::option::of(text()),
        )
            .prop_map(|(resource_desc, mime_type, size, uri, digest)| Resource {
                resource_desc,
                mime_type,
                size,
                uri,
                deref_uri: None,
                digest,
            })
    }

    fn info() -> impl Strategy<Value = Info> {
        (
            (
                prop::option::of("[a-z]{2}-[A-Z]{2}"),
                prop::collection::vec(pick(Category::ALL), 1..3),
                nonblank(),
                prop::collection::vec(pick(ResponseType::ALL), 0..3),
                pick(Urgency::ALL),
                pick(Severity::ALL),
                pick(Certainty::ALL),
            ),
            (
                prop::option::of(text()),
                prop::collection::vec(named(), 0..2),
                prop::option::of(time()),
                prop::option::of(time()),
                prop::option::of(time()),
                prop::option::of(text()),
                prop::option::of(text()),
            ),
            (
                prop::option::of(text()),
                prop::option::of(text()),
                prop::option::of(text()),
                prop::option::of(text()),
                prop::collection::vec(named(), 0..3),
                prop::collection::vec(resource(), 0..2),
                prop::collection::vec(area(), 0..3),
            ),
        )
            .prop_map(
                |(
                    (language, categories, event, response_types, urgency, severity, certainty),
                    (audience, event_codes, effective, onset, expires, sender_name, headline),
                    (description, instruction, web, contact, parameters, resources, areas),
                )| Info {
                    language,
                    categories,
                    event,
                    response_types,
                    urgency,
                    severity,
                    certainty,
                    audience,
                    event_codes,
                    effective,
                    onset,
                    expires,
                    sender_name,
                    headline,
                    description,
                    instruction,
                    web,
                    contact,
                    parameters,
                    resources,
                    areas,
                },
            )
    }

    fn alert() -> impl Strategy<Value = Alert> {
        (
            (
                token(),
                token(),
                time(),
                pick(Status::ALL),
                pick(MsgType::ALL),
                prop::option::of(text()),
                pick(Scope::ALL),
            ),
            (
                prop::option::of(text()),
                prop::option::of(text()),
                prop::collection::vec(text(), 0..3),
                prop::option::of(text()),
                prop::collection::vec((token(), token(), time()), 0..3),
                prop::option::of(text()),
                prop::collection::vec(info(), 0..3),
            ),
        )
            .prop_map(
                |(
                    (identifier, sender, sent, status, msg_type, source, scope),
                    (restriction, addresses, codes, note, refs, incidents, infos),
                )| Alert {
                    identifier,
                    sender,
                    sent,
                    status,
                    msg_type,
                    source,
                    scope,
                    restriction,
                    addresses: match scope {
                        Scope::Private => addresses.or_else(|| Some("ops".into())),
                        _ => addresses,
                    },
                    codes,
                    note,
                    references: refs
                        .into_iter()
                        .map(|(sender, identifier, sent)| AlertId {
                            sender,
                            identifier,
                            sent,
                        })
                        .collect(),
                    incidents,
                    infos,
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn cap_parse_of_write_is_identity(a in alert()) {
            let text = write(&a);
            let back = parse(text.as_bytes());
            prop_assert_eq!(back.as_ref(), Ok(&a), "{}", text);
        }

        #[test]
        fn cap_parser_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn cap_parser_never_panics_on_mutated_documents(
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = GOOD.as_bytes().to_vec();
            for (at, byte) in edits {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            let _ = parse(&bytes);
            let _ = parse(&bytes[..cut.index(bytes.len())]);
        }
    }
}
