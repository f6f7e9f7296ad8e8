//! The text and voice channels and the inbound-text settings.

use url::Url;

use super::ConfigError;

/// Where automated texts go.
#[derive(Debug, Clone)]
pub enum TextConfig {
    /// Stored in the database and shown at `/dev/outbox`. Development only.
    DevOutbox,
    /// AWS End User Messaging SMS (`pinpoint-sms-voice-v2` SendTextMessage) from an
    /// origination identity (a phone number, its ARN or a pool).
    EndUserMessaging { region: String, endpoint: Option<Url>, origination: String },
}

/// Where automated calls go.
#[derive(Debug, Clone)]
pub enum VoiceConfig {
    /// Stored in the database and shown at `/dev/outbox`. Development only.
    DevOutbox,
    /// Amazon Connect StartOutboundVoiceContact through a contact flow that reads the
    /// `message` contact attribute aloud.
    Connect {
        region: String,
        endpoint: Option<Url>,
        instance_id: String,
        contact_flow_id: String,
        source_phone: String,
    },
}

#[derive(Debug, Clone)]
pub struct MessagingConfig {
    pub text: TextConfig,
    pub voice: VoiceConfig,
    /// The SNS topic AWS End User Messaging delivers inbound texts to; inbound messages
    /// from any other topic are refused. Unset: the inbound endpoint answers 404.
    pub inbound_topic_arn: Option<String>,
    /// A PEM certificate trusted for SNS signatures instead of fetching the one the
    /// message names (tests and air-gapped installs).
    pub sns_certificate_file: Option<std::path::PathBuf>,
    /// Accept SNS signature version 1 (RSA with SHA-1). Off: only version 2 (SHA-256),
    /// which the topic must be set to send (`SignatureVersion=2`).
    pub sns_allow_sha1: bool,
}

/// The text and voice channels and the inbound-text settings.
pub(super) fn read(
    get: &impl Fn(&str) -> Option<String>,
    production: bool,
) -> Result<MessagingConfig, ConfigError> {
    let required =
        |name: &'static str, why: &str| get(name).ok_or_else(|| ConfigError::new(name, why.to_owned()));
    let endpoint = |name: &'static str| match get(name) {
        None => Ok(None),
        Some(raw) => Url::parse(&raw)
            .map(Some)
            .map_err(|_| ConfigError::new(name, format!("expected a URL, got {raw:?}"))),
    };
    let text = match get("LOCKDEV_SMS").as_deref() {
        None | Some("dev") if !production => TextConfig::DevOutbox,
        None | Some("dev") => {
            return Err(ConfigError::new(
                "LOCKDEV_SMS",
                "required in production: `aws` (the dev outbox keeps texts locally)",
            ));
        }
        Some("aws") => TextConfig::EndUserMessaging {
            region: required("LOCKDEV_AWS_REGION", "required with LOCKDEV_SMS=aws, e.g. us-east-1")?,
            endpoint: endpoint("LOCKDEV_SMS_ENDPOINT")?,
            origination: required(
                "LOCKDEV_SMS_ORIGINATION",
                "required with LOCKDEV_SMS=aws: the sending number, its ARN or a pool id",
            )?,
        },
        Some(other) => {
            return Err(ConfigError::new("LOCKDEV_SMS", format!("expected `dev` or `aws`, got {other:?}")));
        }
    };
    let voice = match get("LOCKDEV_VOICE").as_deref() {
        None | Some("dev") if !production => VoiceConfig::DevOutbox,
        None | Some("dev") => {
            return Err(ConfigError::new(
                "LOCKDEV_VOICE",
                "required in production: `connect` (the dev outbox keeps calls locally)",
            ));
        }
        Some("connect") => VoiceConfig::Connect {
            region: required("LOCKDEV_AWS_REGION", "required with LOCKDEV_VOICE=connect, e.g. us-east-1")?,
            endpoint: endpoint("LOCKDEV_CONNECT_ENDPOINT")?,
            instance_id: required("LOCKDEV_CONNECT_INSTANCE_ID", "required with LOCKDEV_VOICE=connect")?,
            contact_flow_id: required(
                "LOCKDEV_CONNECT_CONTACT_FLOW_ID",
                "required with LOCKDEV_VOICE=connect",
            )?,
            source_phone: required(
                "LOCKDEV_CONNECT_SOURCE_PHONE",
                "required with LOCKDEV_VOICE=connect: the calling number in E.164",
            )?,
        },
        Some(other) => {
            return Err(ConfigError::new(
                "LOCKDEV_VOICE",
                format!("expected `dev` or `connect`, got {other:?}"),
            ));
        }
    };
    Ok(MessagingConfig {
        text,
        voice,
        inbound_topic_arn: get("LOCKDEV_SMS_INBOUND_TOPIC_ARN"),
        sns_certificate_file: get("LOCKDEV_SNS_CERTIFICATE_FILE").map(std::path::PathBuf::from),
        sns_allow_sha1: match get("LOCKDEV_SNS_ALLOW_SHA1").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ConfigError::new(
                    "LOCKDEV_SNS_ALLOW_SHA1",
                    format!("expected `true` or `false`, got {other:?}"),
                ));
            }
        },
    })
}
