//! The page header for who is signed in: their context's label and the navigation of their
//! persona, from the entries the features declared next to their routes
//! (`Routes::nav`). It is worked out from the session alone (no query) and never holds
//! patient data; it names no feature.

use crate::auth::policy::{self, Principal};
use crate::auth::session::{ContextClaim, SessionData};
use crate::auth::signin::{FlowPage, FlowPages};
use crate::web::context::{Audience, Chrome, NavEntry, NavItem, Navigation};

/// The header for this session's persona.
pub(crate) fn chrome(data: &SessionData, navigation: &Navigation, pages: &FlowPages) -> Chrome {
    let sign_out = pages.path(FlowPage::SignOut);
    let items = |shown: &dyn Fn(&NavEntry) -> bool| {
        navigation
            .entries()
            .iter()
            .filter(|entry| shown(entry))
            .map(|entry| NavItem { label: entry.label, href: entry.href })
            .collect()
    };
    let Some(user) = data.user.as_ref() else {
        let nav = items(&|entry| entry.audience == Audience::SignedOut);
        return Chrome {
            signed_in: false,
            context_label: None,
            nav,
            sign_out,
            emergency_end: None,
            impersonation: None,
        };
    };
    if !user.second_factor_satisfied() {
        // Between the factors: nothing to go to but the challenge itself, or out.
        return Chrome {
            signed_in: true,
            context_label: None,
            nav: Vec::new(),
            sign_out,
            emergency_end: None,
            impersonation: None,
        };
    }
    let shown = |entry: &NavEntry| match (entry.audience, user.context) {
        _ if entry.module.is_some_and(|m| user.disabled_modules.contains(&m)) => false,
        (Audience::SignedIn, _) => true,
        (Audience::Staff(permission), Some(ContextClaim::Staff { role, .. })) => {
            policy::grants(Principal::Staff(role), permission)
        }
        (Audience::Portal, Some(ContextClaim::Patient { .. } | ContextClaim::Proxy { .. })) => true,
        (Audience::Platform, Some(ContextClaim::Platform { .. })) => true,
        (Audience::PlatformRole(role), Some(ContextClaim::Platform { role: held })) => role == held,
        _ => false,
    };
    Chrome {
        signed_in: true,
        context_label: user.context_label.clone(),
        nav: items(&shown),
        sign_out,
        emergency_end: matches!(user.context, Some(ContextClaim::BreakGlass { .. }))
            .then(|| pages.path(FlowPage::EndEmergencyAccess)),
        impersonation: user
            .impersonating
            .as_ref()
            .map(|i| (i.target_label.clone(), pages.path(FlowPage::EndImpersonation))),
    }
}
