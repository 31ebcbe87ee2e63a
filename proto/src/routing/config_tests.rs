//! [`RouterConfig`] as data: names, tables and the checks serde cannot make.

use super::*;

#[test]
fn simple_names_parse_to_their_strategy() {
    assert_eq!("direct".parse(), Ok(RouterConfig::Direct));
    assert_eq!("first-contact".parse(), Ok(RouterConfig::FirstContact));
    assert_eq!(
        "spray-and-wait".parse(),
        Ok(RouterConfig::SprayAndWait {
            copies: DEFAULT_SPRAY_COPIES
        })
    );
    assert_eq!(
        "spray-and-wait:12".parse(),
        Ok(RouterConfig::SprayAndWait { copies: 12 })
    );
}

#[test]
fn a_bad_copy_count_or_name_is_refused_with_its_text() {
    let e = "spray-and-wait:0".parse::<RouterConfig>().unwrap_err();
    assert!(e.to_string().contains("at least 1"), "{e}");
    let e = "spray-and-wait:lots".parse::<RouterConfig>().unwrap_err();
    assert!(e.to_string().contains("'lots'"), "{e}");
    let e = "flood".parse::<RouterConfig>().unwrap_err();
    assert_eq!(e, RouterConfigError::Unknown("flood".into()));
}

#[test]
fn tables_select_strategies_with_parameters() {
    let routes: RouterConfig = serde_json::from_str(
        r#"{"strategy": "static-routes", "routes": [{"pattern": "ipn:3.*", "via": "ipn:2.0"}]}"#,
    )
    .unwrap();
    assert_eq!(
        routes,
        RouterConfig::StaticRoutes {
            routes: vec![StaticRoute {
                pattern: "ipn:3.*".into(),
                via: "ipn:2.0".parse().unwrap(),
            }]
        }
    );
    let spray: RouterConfig = serde_json::from_str(r#"{"strategy": "spray-and-wait"}"#).unwrap();
    assert_eq!(spray, RouterConfig::SprayAndWait { copies: 8 });
    let plan: RouterConfig = serde_json::from_str(
        r#"{"strategy": "contact-plan", "plan": "a contact +0 +10 1 2 100", "epoch": 5}"#,
    )
    .unwrap();
    assert_eq!(plan.name(), "contact-plan");
    assert!(plan.validate().is_ok());
}

#[test]
fn an_unreadable_plan_fails_validation_naming_its_line() {
    let config = RouterConfig::ContactPlan {
        plan: "a contact +0 +10 1 2 100\na contact soon later 1 2 9".into(),
        epoch: None,
    };
    let e = config.validate().unwrap_err();
    assert!(e.to_string().contains("line 2"), "{e}");
}

#[test]
fn every_configured_strategy_builds_a_router_of_its_name() {
    let node: Eid = "ipn:1.0".parse().unwrap();
    let configs = [
        RouterConfig::Direct,
        RouterConfig::Epidemic,
        RouterConfig::FirstContact,
        RouterConfig::SprayAndWait { copies: 4 },
        RouterConfig::StaticRoutes { routes: Vec::new() },
        RouterConfig::ContactPlan {
            plan: String::new(),
            epoch: None,
        },
    ];
    for config in configs {
        let router = config.build(&node, Now::default());
        assert_eq!(router.name(), config.name());
    }
}
