//! Typed ids. Every id is a ULID, stored as a Postgres `uuid` and shown as 26-character
//! ULID text in URLs; a `PatientId` cannot be passed where an `OrganizationId` is
//! expected. Parsing is strict (the path segment `/patients/{id}` rejects anything that
//! is not a ULID before a query runs).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgHasArrayType, PgTypeInfo, PgValueRef};
use sqlx::{Decode, Encode, Postgres, Type};
use ulid::Ulid;
use uuid::Uuid;

/// The text did not hold a ULID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id")]
pub struct InvalidId;

macro_rules! typed_ids {
    ($($(#[$meta:meta])* $name:ident;)*) => {$(
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Ulid);

        impl $name {
            /// A new id for a row about to be inserted.
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                Self(Ulid::new())
            }

            pub const fn from_ulid(ulid: Ulid) -> Self {
                Self(ulid)
            }

            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(Ulid::from(uuid))
            }

            pub fn as_uuid(&self) -> Uuid {
                Uuid::from(self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                if s.len() != 26 {
                    return Err(InvalidId);
                }
                let ulid = Ulid::from_string(s).map_err(|_| InvalidId)?;
                // The parser wraps values beyond 128 bits; only the canonical spelling counts.
                if !ulid.to_string().eq_ignore_ascii_case(s) {
                    return Err(InvalidId);
                }
                Ok(Self(ulid))
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.as_uuid()
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl Type<Postgres> for $name {
            fn type_info() -> PgTypeInfo {
                <Uuid as Type<Postgres>>::type_info()
            }
        }

        impl PgHasArrayType for $name {
            fn array_type_info() -> PgTypeInfo {
                <Uuid as PgHasArrayType>::array_type_info()
            }
        }

        impl Encode<'_, Postgres> for $name {
            fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
                <Uuid as Encode<'_, Postgres>>::encode_by_ref(&self.as_uuid(), buf)
            }
        }

        impl<'r> Decode<'r, Postgres> for $name {
            fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
                <Uuid as Decode<'r, Postgres>>::decode(value).map(Self::from_uuid)
            }
        }
    )*};
}

typed_ids! {
    /// A clinic (tenant).
    OrganizationId;
    /// A person who can sign in.
    UserId;
    MembershipId;
    ProviderId;
    ProviderLicenseId;
    StaffId;
    PatientId;
    ProxyAssignmentId;
    CareTeamMemberId;
    ContactMethodId;
    ConsentDocumentId;
    ConsentId;
    AuditEventId;
    AppointmentId;
    AppointmentTypeId;
    WorkingHoursId;
    ClinicalNoteId;
    NoteAddendumId;
    JobId;
    NotificationId;
    StaffTaskId;
    AdminTaskId;
    MemberApprovalId;
    ClinicLocationId;
    AllergyId;
    ProblemId;
    MedicationId;
    VitalsId;
    InsurancePolicyId;
    EmergencyContactId;
    OutboundEmailId;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text_and_uuid() {
        let id = PatientId::new();
        let text = id.to_string();
        assert_eq!(text.len(), 26);
        assert_eq!(text.parse::<PatientId>(), Ok(id));
        assert_eq!(text.to_lowercase().parse::<PatientId>(), Ok(id), "lower case is accepted");
        assert_eq!(PatientId::from_uuid(id.as_uuid()), id);
    }

    #[test]
    fn anything_but_a_ulid_is_rejected() {
        for bad in [
            "",
            "1",
            "../../etc/passwd",
            "01J9Z3K4M5N6P7Q8R9S0T1V2W",
            "01J9Z3K4M5N6P7Q8R9S0T1V2WXY",
            "ZZZZZZZZZZZZZZZZZZZZZZZZZZ",
        ] {
            assert_eq!(bad.parse::<PatientId>(), Err(InvalidId), "{bad}");
        }
    }
}
