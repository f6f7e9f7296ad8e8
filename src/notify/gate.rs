//! The contact gate: the one decision every automated message goes through.
//!
//! [`decide`] is a pure function over facts read at send time (never at enqueue time, so
//! a number marked unsafe after a reminder was queued is not used):
//!
//! - A contact is usable for a channel only if it is flagged safe for that channel:
//!   texts need a mobile number flagged safe for SMS, a standing text-message consent
//!   and no STOP from that number; calls (which may reach voicemail) need a number
//!   flagged safe for voicemail; e-mail needs an address flagged safe for e-mail.
//!   Unknown is unsafe: no flag, no message.
//! - Who may receive it: a self-managed patient themself. A dependent's messages go to
//!   the proxies whose scope covers the purpose (scheduling for appointments, billing for
//!   billing, messaging for messages), through the proxies' own safe contacts, then to the
//!   contacts on the dependent's chart. A patient who asked for confidential
//!   communication is reached only at their own flagged contacts, never through a proxy;
//!   a message about a sensitive matter never goes to a proxy.
//! - The patient's preferred channel for the purpose goes first; then text, e-mail,
//!   voice. A preference orders the safe channels; it never makes an unsafe one usable.
//! - Texts and calls only inside the clinic's contact window in the recipient's time
//!   zone (08:00-21:00 by default); outside it the message waits for the window to open.
//!   E-mail is silent, so it may go at any hour.
//! - Nothing usable: the message is blocked with a reason a person can act on.

use chrono::{DateTime, Days, NaiveTime, TimeZone as _, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::db::ids::{ContactMethodId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    Appointments,
    Billing,
    Messages,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Appointments => "appointments",
            Self::Billing => "billing",
            Self::Messages => "messages",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Appointments, Self::Billing, Self::Messages].into_iter().find(|p| p.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sms,
    Email,
    Voice,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Sms, Channel::Email, Channel::Voice];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Email => "email",
            Self::Voice => "voice",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Sms => "Text message",
            Self::Email => "E-mail",
            Self::Voice => "Phone call (may leave a voicemail)",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactKind {
    Mobile,
    Home,
    Work,
    Email,
}

impl ContactKind {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "mobile" => Some(Self::Mobile),
            "home" => Some(Self::Home),
            "work" => Some(Self::Work),
            "email" => Some(Self::Email),
            _ => None,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Self::Mobile => "mobile number",
            Self::Home => "home number",
            Self::Work => "work number",
            Self::Email => "e-mail address",
        }
    }
}

/// One contact method as the gate sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub id: ContactMethodId,
    pub kind: ContactKind,
    /// E.164 number or e-mail address.
    pub value: String,
    pub is_primary: bool,
    pub safe_for_sms: bool,
    pub safe_for_voicemail: bool,
    pub safe_for_email: bool,
    /// The number replied STOP.
    pub opted_out: bool,
    /// The patient designated it for confidential communication.
    pub confidential: bool,
    /// When its flags were last changed (recorded with every send).
    pub version: DateTime<Utc>,
}

/// Someone who may receive a message, with their contacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// `None` for the patient's own chart contacts; the proxy's user otherwise.
    pub proxy: Option<UserId>,
    pub contacts: Vec<Contact>,
    /// A standing consent to texts about this patient, given by this recipient (the
    /// patient, or the proxy for them).
    pub sms_consent: bool,
}

/// A proxy's grant, as far as messages go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProxyScopes {
    pub clinical: bool,
    pub billing: bool,
    pub scheduling: bool,
    pub messaging: bool,
}

impl ProxyScopes {
    fn covers(self, purpose: Purpose) -> bool {
        match purpose {
            Purpose::Appointments => self.scheduling,
            Purpose::Billing => self.billing,
            Purpose::Messages => self.messaging,
        }
    }
}

/// Everything the gate needs about the patient a message concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientFacts {
    pub self_managed: bool,
    pub confidential_communication: bool,
    pub timezone: Tz,
    /// The contacts on the patient's own chart (and the patient's text consent).
    pub own: Recipient,
    /// Active proxies whose address someone allowed to set contact safety confirmed for
    /// the patient's messages, each with their scopes and their own contacts.
    pub proxies: Vec<(ProxyScopes, Recipient)>,
    /// Active proxies not (or no longer) confirmed for messages: never used, but named in
    /// a blocked message's reason so staff know what to confirm.
    pub unconfirmed_proxies: usize,
    /// The preferred channel for this message's purpose.
    pub preferred: Option<Channel>,
}

/// The clinic's hours for calls and texts, wall-clock in the recipient's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactWindow {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl Default for ContactWindow {
    fn default() -> Self {
        Self {
            start: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default(),
            end: NaiveTime::from_hms_opt(21, 0, 0).unwrap_or_default(),
        }
    }
}

impl ContactWindow {
    /// `None` when `now` is inside the window; otherwise when it next opens.
    pub(crate) fn next_opening(&self, now: DateTime<Utc>, zone: Tz) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&zone);
        let time = local.time();
        if time >= self.start && time < self.end {
            return None;
        }
        let day = if time < self.start { local.date_naive() } else { local.date_naive() + Days::new(1) };
        // The earliest instant at or after the opening time (a DST gap moves it later).
        let mut opening = day.and_time(self.start);
        for _ in 0..4 {
            if let Some(at) = zone.from_local_datetime(&opening).earliest() {
                return Some(at.with_timezone(&Utc));
            }
            opening += chrono::TimeDelta::minutes(30);
        }
        Some(now + chrono::TimeDelta::hours(1))
    }
}

/// What the message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message {
    pub purpose: Purpose,
    /// About a sensitive matter: never through a proxy.
    pub sensitive: bool,
}

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub channel: Channel,
    pub contact: Contact,
    /// The proxy receiving it for a dependent.
    pub proxy: Option<UserId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Send(Destination),
    /// Usable, but outside the contact window: try again at this time.
    Defer(DateTime<Utc>),
    /// No usable destination; the reason is for staff.
    Block(String),
}

/// Why `contact` cannot carry `channel` (None = it can).
fn unusable(contact: &Contact, channel: Channel, sms_consent: bool) -> Option<String> {
    let noun = contact.kind.noun();
    match channel {
        Channel::Sms => {
            if contact.kind != ContactKind::Mobile {
                return Some(format!("the {noun} cannot take texts"));
            }
            if !contact.safe_for_sms {
                return Some(format!("the {noun} is not marked safe for texts"));
            }
            if contact.opted_out {
                return Some(format!("the {noun} replied STOP to texts"));
            }
            if !sms_consent {
                return Some("there is no consent to text messages".into());
            }
            None
        }
        Channel::Voice => {
            if contact.kind == ContactKind::Email {
                return Some(format!("the {noun} cannot take calls"));
            }
            if !contact.safe_for_voicemail {
                return Some(format!("the {noun} is not marked safe for voicemail"));
            }
            None
        }
        Channel::Email => {
            if contact.kind != ContactKind::Email {
                return Some(format!("the {noun} cannot take e-mail"));
            }
            if !contact.safe_for_email {
                return Some(format!("the {noun} is not marked safe for e-mail"));
            }
            None
        }
    }
}

/// The channel order: the preference first, then text, e-mail, voice.
fn channel_order(preferred: Option<Channel>) -> Vec<Channel> {
    let mut order = Vec::with_capacity(3);
    if let Some(channel) = preferred {
        order.push(channel);
    }
    for channel in Channel::ALL {
        if !order.contains(&channel) {
            order.push(channel);
        }
    }
    order
}

/// Whether only the contacts the patient designated for confidential communication may
/// carry this message: a dependent's chart usually holds a parent's numbers, so a message
/// about sensitive care of a dependent, or any message for a dependent who asked for
/// confidential communication, must not go to them.
fn designated_only(patient: &PatientFacts, message: Message) -> bool {
    !patient.self_managed && (message.sensitive || patient.confidential_communication)
}

/// The recipients in order of who should hear first (`own` is the patient's chart, as far
/// as this message may use it), and why others were passed over.
fn recipients<'a>(
    patient: &'a PatientFacts,
    own: &'a Recipient,
    message: Message,
) -> (Vec<&'a Recipient>, Vec<String>) {
    let mut notes = Vec::new();
    if patient.self_managed {
        return (vec![own], notes);
    }
    if designated_only(patient, message) {
        notes.push("only contacts the patient chose for confidential messages may be used".into());
        if own.contacts.is_empty() {
            notes.push("none is marked so".into());
        }
    }
    let mut list = Vec::new();
    if patient.confidential_communication {
        notes.push("the patient asked for confidential communication, so proxies are not used".into());
    } else if message.sensitive {
        notes.push("the message concerns a sensitive matter, so proxies are not used".into());
    } else {
        let mut uncovered = 0;
        for (scopes, proxy) in &patient.proxies {
            if scopes.covers(message.purpose) {
                list.push(proxy);
            } else {
                uncovered += 1;
            }
        }
        if patient.unconfirmed_proxies > 0 {
            notes.push(format!(
                "{} proxy address(es) not confirmed for the patient's messages",
                patient.unconfirmed_proxies
            ));
        }
        if uncovered > 0 {
            notes.push(format!(
                "{uncovered} proxy grant(s) do not cover {} messages",
                match message.purpose {
                    Purpose::Appointments => "scheduling",
                    Purpose::Billing => "billing",
                    Purpose::Messages => "portal",
                }
            ));
        }
    }
    list.push(own);
    (list, notes)
}

/// Text consent for the patient's own chart numbers. A dependent's chart numbers are
/// usually a parent's, so the consent of a proxy who may hear of this message covers
/// them; never for a sensitive message or a patient who asked for confidential
/// communication, where the numbers must not be treated as a proxy's.
fn own_text_consent(patient: &PatientFacts, message: Message) -> bool {
    patient.own.sms_consent
        || (!patient.self_managed
            && !patient.confidential_communication
            && !message.sensitive
            && patient
                .proxies
                .iter()
                .any(|(scopes, proxy)| scopes.covers(message.purpose) && proxy.sms_consent))
}

/// The gate. See the module documentation for the rules.
pub fn decide(
    patient: &PatientFacts,
    message: Message,
    window: ContactWindow,
    now: DateTime<Utc>,
) -> Decision {
    let designated;
    let own = if designated_only(patient, message) {
        designated = Recipient {
            contacts: patient.own.contacts.iter().filter(|c| c.confidential).cloned().collect(),
            ..patient.own.clone()
        };
        &designated
    } else {
        &patient.own
    };
    let (recipients, mut reasons) = recipients(patient, own, message);
    let order = channel_order(patient.preferred);
    let own_consent = own_text_consent(patient, message);
    let consent = |recipient: &Recipient| {
        if std::ptr::eq(recipient, own) { own_consent } else { recipient.sms_consent }
    };
    for recipient in &recipients {
        for &channel in &order {
            let mut contacts: Vec<&Contact> = recipient.contacts.iter().collect();
            contacts.sort_by_key(|c| !c.is_primary);
            let Some(contact) =
                contacts.into_iter().find(|c| unusable(c, channel, consent(recipient)).is_none())
            else {
                continue;
            };
            if channel != Channel::Email
                && let Some(opening) = window.next_opening(now, patient.timezone)
            {
                return Decision::Defer(opening);
            }
            return Decision::Send(Destination { channel, contact: contact.clone(), proxy: recipient.proxy });
        }
    }
    // Nothing usable: say why, contact by contact, in words staff can act on.
    for recipient in &recipients {
        let whose = if recipient.proxy.is_some() { "for a proxy, " } else { "" };
        if recipient.contacts.is_empty() {
            reasons.push(format!("{whose}no contact on file"));
        }
        for contact in &recipient.contacts {
            // "not marked safe for texts or voicemail", then anything else (STOP, consent).
            let mut unflagged = Vec::new();
            let mut other = Vec::new();
            for channel in Channel::ALL {
                match unusable(contact, channel, consent(recipient)) {
                    Some(why) if why.contains("cannot take") => {}
                    Some(why) if why.contains("not marked safe") => unflagged.push(match channel {
                        Channel::Sms => "texts",
                        Channel::Voice => "voicemail",
                        Channel::Email => "e-mail",
                    }),
                    Some(why) => other.push(why),
                    None => {}
                }
            }
            if !unflagged.is_empty() {
                other.insert(
                    0,
                    format!("the {} is not marked safe for {}", contact.kind.noun(), unflagged.join(" or ")),
                );
            }
            if !other.is_empty() {
                reasons.push(format!("{whose}{}", other.join(", ")));
            }
        }
    }
    reasons.dedup();
    let mut reason = format!("No safe way to reach the patient: {}.", reasons.join("; "));
    if reason.len() > 300 {
        reason.truncate(reason.floor_char_boundary(296));
        reason.push_str("...");
    }
    Decision::Block(reason)
}

#[cfg(test)]
#[allow(clippy::panic)] // a test fails by panicking
mod tests {
    use chrono::TimeDelta;
    use proptest::prelude::*;

    use super::*;

    fn noon_boston() -> DateTime<Utc> {
        // 2027-03-10 12:00 in Boston (EST).
        "2027-03-10T17:00:00Z".parse().expect("time")
    }

    fn contact(kind: ContactKind, sms: bool, voicemail: bool, email: bool) -> Contact {
        Contact {
            id: ContactMethodId::new(),
            kind,
            value: if kind == ContactKind::Email { "p@example.org".into() } else { "+16175550100".into() },
            is_primary: false,
            safe_for_sms: sms,
            safe_for_voicemail: voicemail,
            safe_for_email: email,
            opted_out: false,
            confidential: false,
            version: noon_boston(),
        }
    }

    fn patient(contacts: Vec<Contact>, consent: bool) -> PatientFacts {
        PatientFacts {
            self_managed: true,
            confidential_communication: false,
            timezone: chrono_tz::America::New_York,
            own: Recipient { proxy: None, contacts, sms_consent: consent },
            proxies: Vec::new(),
            unconfirmed_proxies: 0,
            preferred: None,
        }
    }

    const REMINDER: Message = Message { purpose: Purpose::Appointments, sensitive: false };

    #[test]
    fn an_unsafe_home_number_blocks_with_a_reason() {
        let facts = patient(vec![contact(ContactKind::Home, false, false, false)], false);
        let Decision::Block(reason) = decide(&facts, REMINDER, ContactWindow::default(), noon_boston())
        else {
            panic!("must block")
        };
        assert!(reason.contains("home number is not marked safe for voicemail"), "{reason}");
    }

    #[test]
    fn texts_need_the_flag_the_consent_and_no_stop() {
        let mut mobile = contact(ContactKind::Mobile, true, false, false);
        let send = |m: &Contact, consent| {
            decide(&patient(vec![m.clone()], consent), REMINDER, ContactWindow::default(), noon_boston())
        };
        assert!(matches!(send(&mobile, true), Decision::Send(d) if d.channel == Channel::Sms));
        assert!(matches!(send(&mobile, false), Decision::Block(r) if r.contains("consent")));
        mobile.opted_out = true;
        assert!(matches!(send(&mobile, true), Decision::Block(r) if r.contains("STOP")));
    }

    #[test]
    fn the_preference_orders_safe_channels_only() {
        let mut facts = patient(
            vec![
                contact(ContactKind::Mobile, true, true, false),
                contact(ContactKind::Email, false, false, true),
            ],
            true,
        );
        facts.preferred = Some(Channel::Email);
        assert!(
            matches!(decide(&facts, REMINDER, ContactWindow::default(), noon_boston()), Decision::Send(d) if d.channel == Channel::Email)
        );
        facts.own.contacts[1].safe_for_email = false;
        assert!(
            matches!(decide(&facts, REMINDER, ContactWindow::default(), noon_boston()), Decision::Send(d) if d.channel == Channel::Sms)
        );
    }

    #[test]
    fn calls_and_texts_wait_for_the_window_in_the_patients_zone_but_email_does_not() {
        let late = "2027-03-11T02:30:00Z".parse::<DateTime<Utc>>().expect("time"); // 21:30 in Boston
        let facts = patient(vec![contact(ContactKind::Mobile, true, false, false)], true);
        let Decision::Defer(at) = decide(&facts, REMINDER, ContactWindow::default(), late) else {
            panic!("defer")
        };
        assert_eq!(at, "2027-03-11T13:00:00Z".parse::<DateTime<Utc>>().expect("time"), "08:00 EST next day");
        let mail = patient(vec![contact(ContactKind::Email, false, false, true)], false);
        assert!(matches!(decide(&mail, REMINDER, ContactWindow::default(), late), Decision::Send(_)));
        // Across the spring-forward night the opening is still 08:00 local (now EDT).
        let before_dst = "2027-03-14T03:00:00Z".parse::<DateTime<Utc>>().expect("time"); // 22:00 EST on the 13th
        let Decision::Defer(at) = decide(&facts, REMINDER, ContactWindow::default(), before_dst) else {
            panic!("defer")
        };
        assert_eq!(at, "2027-03-14T12:00:00Z".parse::<DateTime<Utc>>().expect("time"), "08:00 EDT");
    }

    #[test]
    fn a_dependents_messages_go_to_covering_proxies_unless_confidential_or_sensitive() {
        let guardian = UserId::new();
        let mut facts = patient(vec![], false);
        facts.self_managed = false;
        facts.proxies.push((
            ProxyScopes { scheduling: true, ..ProxyScopes::default() },
            Recipient {
                proxy: Some(guardian),
                contacts: vec![contact(ContactKind::Mobile, true, true, false)],
                sms_consent: true,
            },
        ));
        assert!(
            matches!(decide(&facts, REMINDER, ContactWindow::default(), noon_boston()), Decision::Send(d) if d.proxy == Some(guardian))
        );
        let billing = Message { purpose: Purpose::Billing, sensitive: false };
        assert!(
            matches!(decide(&facts, billing, ContactWindow::default(), noon_boston()), Decision::Block(r) if r.contains("do not cover billing"))
        );
        let sensitive = Message { purpose: Purpose::Appointments, sensitive: true };
        assert!(matches!(
            decide(&facts, sensitive, ContactWindow::default(), noon_boston()),
            Decision::Block(_)
        ));
        facts.confidential_communication = true;
        assert!(
            matches!(decide(&facts, REMINDER, ContactWindow::default(), noon_boston()), Decision::Block(r) if r.contains("confidential"))
        );
        // The chart's number (a parent's, usually) is not used for a confidential patient…
        facts.own.contacts.push(contact(ContactKind::Mobile, false, true, false));
        assert!(
            matches!(decide(&facts, REMINDER, ContactWindow::default(), noon_boston()), Decision::Block(r) if r.contains("chose for confidential"))
        );
        // … unless the patient chose it for confidential messages.
        facts.own.contacts[0].confidential = true;
        assert!(
            matches!(decide(&facts, REMINDER, ContactWindow::default(), noon_boston()), Decision::Send(d) if d.proxy.is_none() && d.channel == Channel::Voice)
        );
    }

    #[test]
    fn a_proxys_text_consent_covers_a_dependents_chart_number_only_for_what_the_proxy_may_hear() {
        // The child's chart holds a mobile, safe for texts (and chosen for confidential
        // messages, so only consent decides); the consent is the parent's, whose grant
        // covers scheduling only. The proxy has no contacts.
        let guardian = UserId::new();
        let mut mobile = contact(ContactKind::Mobile, true, false, false);
        mobile.confidential = true;
        let mut facts = patient(vec![mobile], false);
        facts.self_managed = false;
        facts.proxies.push((
            ProxyScopes { scheduling: true, ..ProxyScopes::default() },
            Recipient { proxy: Some(guardian), contacts: vec![], sms_consent: true },
        ));
        let decide_for =
            |facts: &PatientFacts, message| decide(facts, message, ContactWindow::default(), noon_boston());
        assert!(
            matches!(decide_for(&facts, REMINDER), Decision::Send(d) if d.proxy.is_none() && d.channel == Channel::Sms)
        );
        let sensitive = Message { purpose: Purpose::Appointments, sensitive: true };
        assert!(
            matches!(decide_for(&facts, sensitive), Decision::Block(r) if r.contains("consent")),
            "a sensitive visit's reminder is not texted on the strength of a proxy's consent"
        );
        let billing = Message { purpose: Purpose::Billing, sensitive: false };
        assert!(matches!(decide_for(&facts, billing), Decision::Block(r) if r.contains("consent")));
        facts.confidential_communication = true;
        assert!(matches!(decide_for(&facts, REMINDER), Decision::Block(r) if r.contains("consent")));
    }

    fn any_contact() -> impl Strategy<Value = Contact> {
        (0..4u8, any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(kind, sms, voicemail, email, opted_out, primary, confidential)| {
                let kind = [ContactKind::Mobile, ContactKind::Home, ContactKind::Work, ContactKind::Email]
                    [kind as usize];
                // The database refuses flags that cannot apply; random facts respect that.
                let mut c = contact(
                    kind,
                    sms && kind == ContactKind::Mobile,
                    voicemail && kind != ContactKind::Email,
                    email && kind == ContactKind::Email,
                );
                c.opted_out = opted_out;
                c.is_primary = primary;
                c.confidential = confidential;
                c
            })
    }

    fn any_recipient(proxy: bool) -> impl Strategy<Value = Recipient> {
        (prop::collection::vec(any_contact(), 0..4), any::<bool>()).prop_map(
            move |(contacts, sms_consent)| Recipient {
                proxy: proxy.then(UserId::new),
                contacts,
                sms_consent,
            },
        )
    }

    fn any_patient() -> impl Strategy<Value = PatientFacts> {
        (
            any::<bool>(),
            any::<bool>(),
            any_recipient(false),
            prop::collection::vec((any::<[bool; 4]>(), any_recipient(true)), 0..3),
            prop::option::of(0..3usize),
        )
            .prop_map(|(self_managed, confidential, own, proxies, preferred)| PatientFacts {
                self_managed,
                confidential_communication: confidential,
                timezone: chrono_tz::America::New_York,
                own,
                proxies: proxies
                    .into_iter()
                    .map(|(s, r)| {
                        (ProxyScopes { clinical: s[0], billing: s[1], scheduling: s[2], messaging: s[3] }, r)
                    })
                    .collect(),
                unconfirmed_proxies: 0,
                preferred: preferred.map(|i| Channel::ALL[i]),
            })
    }

    fn any_message() -> impl Strategy<Value = Message> {
        (0..3usize, any::<bool>()).prop_map(|(p, sensitive)| Message {
            purpose: [Purpose::Appointments, Purpose::Billing, Purpose::Messages][p],
            sensitive,
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// CON-01: whatever the configuration, a message goes only to a contact flagged
        /// safe for its channel (texts: consent and no STOP too), only to a recipient
        /// allowed to hear it, and when nothing is safe it is blocked, never sent.
        #[test]
        fn only_safe_channels_ever_carry_a_message(facts in any_patient(), message in any_message(), hour in 0..24i64) {
            let now = noon_boston() + TimeDelta::hours(hour);
            let decision = decide(&facts, message, ContactWindow::default(), now);
            let allowed: Vec<&Recipient> = if facts.self_managed || facts.confidential_communication || message.sensitive {
                vec![&facts.own]
            } else {
                facts.proxies.iter().filter(|(s, _)| s.covers(message.purpose)).map(|(_, r)| r).chain([&facts.own]).collect()
            };
            // The chart's own numbers: the patient's consent, or for a dependent (not
            // sensitive, not confidential) that of a proxy who may hear of the message.
            let own_consent = facts.own.sms_consent
                || (!facts.self_managed && !facts.confidential_communication && !message.sensitive
                    && facts.proxies.iter().any(|(s, r)| s.covers(message.purpose) && r.sms_consent));
            // A dependent's sensitive or confidential message: the chart's contacts the
            // patient chose for confidential messages only.
            let designated = !facts.self_managed && (facts.confidential_communication || message.sensitive);
            let usable = |r: &Recipient, c: &Contact, ch: Channel| (match ch {
                Channel::Sms => c.kind == ContactKind::Mobile && c.safe_for_sms && !c.opted_out
                    && if std::ptr::eq(r, &facts.own) { own_consent } else { r.sms_consent },
                Channel::Voice => c.kind != ContactKind::Email && c.safe_for_voicemail,
                Channel::Email => c.kind == ContactKind::Email && c.safe_for_email,
            }) && !(designated && std::ptr::eq(r, &facts.own) && !c.confidential);
            let any_usable = allowed.iter().any(|r| r.contacts.iter().any(|c| Channel::ALL.into_iter().any(|ch| usable(r, c, ch))));
            match decision {
                Decision::Send(d) => {
                    let recipient = allowed.iter().find(|r| r.proxy == d.proxy && r.contacts.contains(&d.contact));
                    prop_assert!(recipient.is_some(), "sent to someone not allowed: {d:?}");
                    prop_assert!(usable(recipient.expect("checked"), &d.contact, d.channel), "sent over an unsafe channel: {d:?}");
                    if d.channel != Channel::Email {
                        prop_assert!(ContactWindow::default().next_opening(now, facts.timezone).is_none());
                    }
                }
                Decision::Defer(at) => {
                    prop_assert!(any_usable);
                    prop_assert!(at > now);
                }
                Decision::Block(reason) => {
                    prop_assert!(!any_usable, "blocked although a safe contact existed: {reason}");
                    prop_assert!(reason.len() <= 300);
                }
            }
        }
    }
}
