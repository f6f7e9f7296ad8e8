//! The page header for who is signed in: their context's label and the navigation of
//! their persona. It is worked out from the session alone (no query) and never holds
//! patient data.

use crate::auth::policy::{self, Permission, Principal, StaffRole};
use crate::auth::session::{ContextClaim, SessionData};
use crate::web::render::{Chrome, NavItem};

/// The header for this session's persona.
pub(crate) fn chrome(data: &SessionData) -> Chrome {
    let Some(user) = data.user.as_ref().filter(|u| u.second_factor_satisfied()) else {
        return Chrome { signed_in: data.user.is_some(), context_label: None, nav: Vec::new() };
    };
    let mut nav = Vec::new();
    match user.context {
        Some(ContextClaim::Staff { role: StaffRole::OrgAdmin, .. }) => {
            nav.push(NavItem { label: "Members", href: "/members" });
            nav.push(NavItem { label: "Schedule set-up", href: "/schedule/setup" });
            nav.push(NavItem { label: "Settings", href: "/settings" });
        }
        Some(ContextClaim::Staff { role: StaffRole::CallCenterAgent, .. }) => {
            nav.push(NavItem { label: "Schedule", href: "/schedule" });
        }
        Some(ContextClaim::Staff { role, .. }) => {
            nav.push(NavItem { label: "Patients", href: "/patients" });
            nav.push(NavItem { label: "Schedule", href: "/schedule" });
            if policy::grants(Principal::Staff(role), Permission::EditContactSafety) {
                nav.push(NavItem { label: "Tasks", href: "/tasks" });
            }
        }
        Some(ContextClaim::Patient { .. } | ContextClaim::Proxy { .. }) => {
            nav.push(NavItem { label: "Portal", href: "/home" });
        }
        Some(ContextClaim::Platform { .. }) => nav.push(NavItem { label: "Platform", href: "/home" }),
        None => {}
    }
    nav.push(NavItem { label: "Contexts", href: "/contexts" });
    nav.push(NavItem { label: "Account", href: "/account" });
    Chrome { signed_in: true, context_label: user.context_label.clone(), nav }
}
