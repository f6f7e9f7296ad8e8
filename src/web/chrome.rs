//! The page header for who is signed in: their context's label and the navigation of their
//! persona, from the entries the features declared next to their routes
//! (`Routes::nav`). It is worked out from the session alone (no query) and never holds
//! patient data; it names no feature.

use crate::auth::policy::{self, Principal};
use crate::auth::session::{ContextClaim, SessionData};
use crate::web::context::{Audience, Chrome, NavItem, Navigation};

/// The header for this session's persona.
pub(crate) fn chrome(data: &SessionData, navigation: &Navigation) -> Chrome {
    let Some(user) = data.user.as_ref().filter(|u| u.second_factor_satisfied()) else {
        return Chrome { signed_in: data.user.is_some(), context_label: None, nav: Vec::new() };
    };
    let shown = |audience: Audience| match (audience, user.context) {
        (Audience::SignedIn, _) => true,
        (Audience::Staff(permission), Some(ContextClaim::Staff { role, .. })) => {
            policy::grants(Principal::Staff(role), permission)
        }
        (Audience::Portal, Some(ContextClaim::Patient { .. } | ContextClaim::Proxy { .. })) => true,
        (Audience::Platform, Some(ContextClaim::Platform { .. })) => true,
        _ => false,
    };
    let nav = navigation
        .entries()
        .iter()
        .filter(|entry| shown(entry.audience))
        .map(|entry| NavItem { label: entry.label, href: entry.href })
        .collect();
    Chrome { signed_in: true, context_label: user.context_label.clone(), nav }
}
