//! Bad input, every form: values a database cannot store (NUL) or that disguise what a
//! person reads (a right-to-left override, other control characters, a line break in a
//! one-line field) sent to every state-changing route of the registry, as the CSRF test
//! walks them. Each is refused with a 4xx naming the field, never a 5xx, and nothing is
//! written. See `src/web/form_input.rs`.

use std::collections::HashSet;

use lockdev::auth::session::ContextClaim;
use lockdev::web::Access;
use reqwest::{Method, StatusCode};

use crate::csrf::{changed, fill, fingerprint};
use crate::fixtures::{phi_routes, signed_in, two_tenants};
use crate::helpers::spawn_app;

/// What a careless paste or a hostile person puts in a form.
const HOSTILE: &[(&str, &str)] = &[
    ("a NUL byte", "Smi\u{0}th"),
    ("a right-to-left override", "\u{202E}htimS nhoJ"),
    ("an isolate", "Main \u{2067}Street"),
    ("an escape sequence", "\u{1b}[31mred"),
    ("a line break in a one-line field", "two\nlines"),
];

/// Every field name the workspace's forms use, so whatever a route reads gets the value.
const FIELDS: &[&str] = &[
    "given_name",
    "family_name",
    "preferred_name",
    "date_of_birth",
    "legal_sex",
    "gender_identity",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "phone",
    "email",
    "q",
    "after",
    "name",
    "display_name",
    "reason",
    "title",
    "value",
    "kind",
    "label",
    "relationship",
    "confidential_note",
    "timezone",
    "callback_phone",
    "date",
    "time",
    "week",
    "code",
    "return_to",
];

#[tokio::test]
async fn hostile_values_in_every_form_are_refused_beside_their_field_and_change_nothing() {
    let app = spawn_app().routes(phi_routes()).spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    let patient = tenants.a.patients[0];
    let person = app.person("patient@form-input.example", "quiet lake morning 42").await;
    app.link_patient(tenants.a.org, patient, &person).await;
    let personas = [
        tenants.a.desk_context(),
        tenants.a.provider_context(),
        tenants.a.admin_context(),
        signed_in(person.id, ContextClaim::Patient { organization_id: tenants.a.org, patient_id: patient }),
    ];
    let routes: Vec<_> = app
        .registry
        .iter()
        .filter(|r| {
            r.method != Method::GET
                && r.method != Method::HEAD
                && !matches!(r.access, Access::Machine | Access::Probe)
        })
        .cloned()
        .collect();
    assert!(routes.len() > 40, "{routes:?}");
    let token = app.csrf_token().await;
    let before = fingerprint(&app).await;

    let mut refused = HashSet::new();
    for (what, value) in HOSTILE {
        let mut form: Vec<(&str, &str)> = FIELDS.iter().map(|field| (*field, *value)).collect();
        form.push(("csrf_token", &token));
        for persona in &personas {
            app.act_as(Some(persona.clone()));
            for route in &routes {
                let path = fill(route.path, patient);
                let res = app
                    .client
                    .request(route.method.clone(), app.url(&path))
                    .form(&form)
                    .send()
                    .await
                    .expect("request");
                let status = res.status();
                let body = res.text().await.expect("body");
                assert!(status.is_client_error(), "{what} sent to {} {path}: {status}\n{body}", route.method);
                if status == StatusCode::UNPROCESSABLE_ENTITY {
                    assert!(
                        body.contains(" field ") && body.contains("try again"),
                        "{what} sent to {path}: the message names the field\n{body}"
                    );
                    refused.insert(route.path);
                }
            }
        }
    }
    // Every route a clinic's people can reach refused them (the others answered 403 or
    // sent the caller to sign in, before reading anything).
    for route in &routes {
        if !matches!(route.access, Access::Platform(_)) {
            assert!(refused.contains(route.path), "{} {} never refused the values", route.method, route.path);
        }
    }
    assert_eq!(changed(&before, &fingerprint(&app).await), Vec::<String>::new(), "nothing was written");

    // htmx: a toast, and an event naming the field so the page puts the message beside it.
    app.act_as(Some(tenants.a.desk_context()));
    let res = app
        .client
        .post(app.url(&format!("/patients/{patient}")))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", &token)
        .form(&[("given_name", "Ann"), ("family_name", "\u{202E}htimS")])
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 422);
    let trigger = res.headers()["hx-trigger"].to_str().expect("ascii").to_owned();
    let event: serde_json::Value = serde_json::from_str(&trigger).expect("json");
    assert_eq!(event["lockdev:field-refused"]["field"], "family_name");
    assert!(event["lockdev:field-refused"]["message"].as_str().expect("message").contains("text-direction"));
    assert_eq!(res.headers()["hx-retarget"], "#toasts");

    // A form body sent under another content type does not get around the step: a handler
    // reading its body as a form is never reached with it.
    app.act_as(Some(tenants.a.desk_context()));
    let before = fingerprint(&app).await;
    for content_type in ["text/plain", "application/octet-stream", "x-custom/form"] {
        let res = app
            .client
            .post(app.url(&format!("/patients/{patient}")))
            .header("X-CSRF-Token", &token)
            .header("Content-Type", content_type)
            .body("given_name=Ann&family_name=Smi%00th")
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 415, "{content_type}");
    }
    assert_eq!(changed(&before, &fingerprint(&app).await), Vec::<String>::new(), "nothing was written");

    // Free text keeps its lines where a route declares it multi-line, and only there.
    app.act_as(Some(tenants.a.provider_context()));
    let res = app
        .post_form(
            &format!("/patients/{patient}/notes"),
            &[("title", "Visit"), ("subjective", "Cough\r\n\tworse at night"), ("plan", "Rest")],
        )
        .await;
    assert_eq!(res.status(), 303, "a note's text may hold lines and tabs");
    let res = app
        .post_form(&format!("/patients/{patient}/notes"), &[("title", "Two\nlines"), ("plan", "Rest")])
        .await;
    assert_eq!(res.status(), 422, "its title may not");
}
