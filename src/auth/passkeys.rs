//! Passkeys (WebAuthn), through webauthn-rs: registration, use as a second factor, and
//! passwordless sign-in with a discoverable credential.
//!
//! User verification is required (a PIN or biometric on the authenticator), so a passkey
//! on its own is two factors. Ceremony state lives in `webauthn_ceremonies`, is bound to
//! the browser session that started it, and is deleted by the statement that reads it,
//! so it can be finished once. Counters are checked; a counter that goes backwards (a
//! cloned authenticator) disables the credential.

use serde_json::Value;
use sqlx::PgConnection;
use url::Url;
use uuid::Uuid;
use webauthn_rs::prelude::{
    AuthenticationResult, CreationChallengeResponse, CredentialID, DiscoverableAuthentication, Passkey,
    PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Webauthn, WebauthnBuilder, WebauthnError,
};
use webauthn_rs_proto::ResidentKeyRequirement;

use crate::db::ids::UserId;

/// The relying party: this site. Absent when the public address cannot be one (WebAuthn
/// needs a host name, not an IP address); passkeys are then unavailable, not fatal.
pub struct Passkeys {
    webauthn: Option<Webauthn>,
}

impl std::fmt::Debug for Passkeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passkeys")
    }
}

/// Why a ceremony failed; details are logged, people see one sentence.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PasskeyError {
    #[error("passkeys are not available at this address")]
    Unavailable,
    #[error("the passkey ceremony expired or was already used")]
    NoCeremony,
    #[error("the passkey did not verify")]
    Rejected(#[source] WebauthnError),
    #[error("this passkey is not known")]
    Unknown,
    /// The passkey is a disabled (or deleted) account's: it signs no one in.
    #[error("the account is disabled")]
    AccountDisabled,
    #[error("the signature counter went backwards: the passkey may have been copied")]
    CounterRegressed,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CeremonyKind {
    Register,
    Authenticate,
    Discover,
}

impl CeremonyKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::Authenticate => "authenticate",
            Self::Discover => "discover",
        }
    }
}

async fn save_ceremony(
    conn: &mut PgConnection,
    user: Option<UserId>,
    kind: CeremonyKind,
    state: Value,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::from(ulid::Ulid::new());
    sqlx::query!(
        "INSERT INTO webauthn_ceremonies (id, user_id, kind, state) VALUES ($1, $2, $3, $4)",
        id,
        user.map(|u| u.as_uuid()),
        kind.as_str(),
        state
    )
    .execute(conn)
    .await?;
    Ok(id)
}

/// Reads and deletes a ceremony in one statement: a second finish finds nothing.
/// Ceremonies older than five minutes are treated as gone.
async fn take_ceremony(
    conn: &mut PgConnection,
    id: Uuid,
    kind: CeremonyKind,
) -> Result<Option<Value>, sqlx::Error> {
    sqlx::query_scalar!(
        "DELETE FROM webauthn_ceremonies WHERE id = $1 AND kind = $2 AND created_at > now() - interval '5 minutes'
         RETURNING state",
        id,
        kind.as_str()
    )
    .fetch_optional(conn)
    .await
}

/// A stored passkey.
#[derive(Debug, Clone)]
pub struct StoredPasskey {
    pub id: Uuid,
    pub name: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    pub disabled: bool,
    passkey: Passkey,
}

/// The passkeys of `user` (the transaction names that user).
pub async fn list(conn: &mut PgConnection, user: UserId) -> Result<Vec<StoredPasskey>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT id, name, passkey, created_at, last_used_at, disabled_at FROM passkeys WHERE user_id = $1 ORDER BY created_at",
        user.as_uuid()
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(StoredPasskey {
                id: r.id,
                name: r.name,
                created_at: r.created_at,
                last_used_at: r.last_used_at,
                disabled: r.disabled_at.is_some(),
                passkey: serde_json::from_value(r.passkey).ok()?,
            })
        })
        .collect())
}

pub(crate) async fn count_usable(conn: &mut PgConnection, user: UserId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM passkeys WHERE user_id = $1 AND disabled_at IS NULL"#,
        user.as_uuid()
    )
    .fetch_one(conn)
    .await
}

pub async fn remove(conn: &mut PgConnection, user: UserId, id: Uuid) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query!("DELETE FROM passkeys WHERE id = $1 AND user_id = $2", id, user.as_uuid())
        .execute(conn)
        .await?
        .rows_affected()
        == 1)
}

pub async fn rename(
    conn: &mut PgConnection,
    user: UserId,
    id: Uuid,
    name: &str,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query!("UPDATE passkeys SET name = $3 WHERE id = $1 AND user_id = $2", id, user.as_uuid(), name)
        .execute(conn)
        .await?
        .rows_affected()
        == 1)
}

impl Passkeys {
    /// The relying party for `public_url` (its host is the RP ID, its origin the only
    /// origin accepted).
    pub fn new(public_url: &Url) -> Self {
        let rp_id = public_url.host_str().unwrap_or("localhost");
        let webauthn = WebauthnBuilder::new(rp_id, public_url).and_then(|b| b.rp_name("Lockdev").build());
        match webauthn {
            Ok(webauthn) => Self { webauthn: Some(webauthn) },
            Err(error) => {
                tracing::warn!(error.detail = %error, "passkeys are off: the public URL cannot be a WebAuthn relying party");
                Self { webauthn: None }
            }
        }
    }

    fn rp(&self) -> Result<&Webauthn, PasskeyError> {
        self.webauthn.as_ref().ok_or(PasskeyError::Unavailable)
    }

    /// Starts registering a new passkey for `user`; returns the ceremony id (for the
    /// session) and the options for `navigator.credentials.create`.
    pub(crate) async fn start_registration(
        &self,
        conn: &mut PgConnection,
        user: UserId,
        email: &str,
        display_name: &str,
    ) -> Result<(Uuid, CreationChallengeResponse), PasskeyError> {
        let existing: Vec<CredentialID> =
            list(&mut *conn, user).await?.iter().map(|p| p.passkey.cred_id().clone()).collect();
        let (mut options, state) = self
            .rp()?
            .start_passkey_registration(user.as_uuid(), email, display_name, Some(existing))
            .map_err(PasskeyError::Rejected)?;
        // Discoverable where the authenticator can store it, so "Sign in with a passkey"
        // finds the account without a typed address (the library asks for a
        // non-discoverable one; residency is not checked when the registration finishes).
        if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
            selection.resident_key = Some(ResidentKeyRequirement::Preferred);
            selection.require_resident_key = false;
        }
        let state = serde_json::to_value(&state).map_err(|_| PasskeyError::NoCeremony)?;
        let id = save_ceremony(conn, Some(user), CeremonyKind::Register, state).await?;
        Ok((id, options))
    }

    /// Finishes registration and stores the passkey under `name`.
    pub(crate) async fn finish_registration(
        &self,
        conn: &mut PgConnection,
        user: UserId,
        ceremony: Uuid,
        name: &str,
        response: &RegisterPublicKeyCredential,
    ) -> Result<Uuid, PasskeyError> {
        let state = take_ceremony(&mut *conn, ceremony, CeremonyKind::Register)
            .await?
            .ok_or(PasskeyError::NoCeremony)?;
        let state: PasskeyRegistration =
            serde_json::from_value(state).map_err(|_| PasskeyError::NoCeremony)?;
        let passkey =
            self.rp()?.finish_passkey_registration(response, &state).map_err(PasskeyError::Rejected)?;
        let credential_id: &[u8] = passkey.cred_id().as_ref();
        let id = sqlx::query_scalar!(
            "INSERT INTO passkeys (user_id, name, credential_id, passkey) VALUES ($1, $2, $3, $4) RETURNING id",
            user.as_uuid(),
            name,
            credential_id,
            serde_json::to_value(&passkey).map_err(|_| PasskeyError::NoCeremony)?
        )
        .fetch_one(conn)
        .await?;
        Ok(id)
    }

    /// Starts a second-factor check with `user`'s passkeys. `None` when they have none.
    pub(crate) async fn start_authentication(
        &self,
        conn: &mut PgConnection,
        user: UserId,
    ) -> Result<Option<(Uuid, RequestChallengeResponse)>, PasskeyError> {
        let keys: Vec<Passkey> =
            list(&mut *conn, user).await?.into_iter().filter(|p| !p.disabled).map(|p| p.passkey).collect();
        if keys.is_empty() {
            return Ok(None);
        }
        let (options, state) =
            self.rp()?.start_passkey_authentication(&keys).map_err(PasskeyError::Rejected)?;
        let state = serde_json::to_value(&state).map_err(|_| PasskeyError::NoCeremony)?;
        let id = save_ceremony(conn, Some(user), CeremonyKind::Authenticate, state).await?;
        Ok(Some((id, options)))
    }

    /// Finishes a second-factor check for `user`.
    pub(crate) async fn finish_authentication(
        &self,
        conn: &mut PgConnection,
        user: UserId,
        ceremony: Uuid,
        response: &PublicKeyCredential,
    ) -> Result<(), PasskeyError> {
        let state = take_ceremony(&mut *conn, ceremony, CeremonyKind::Authenticate)
            .await?
            .ok_or(PasskeyError::NoCeremony)?;
        let state: PasskeyAuthentication =
            serde_json::from_value(state).map_err(|_| PasskeyError::NoCeremony)?;
        let result = self.rp()?.finish_passkey_authentication(response, &state);
        self.after_use(conn, user, response, result).await
    }

    /// Starts a passwordless sign-in: any discoverable passkey of this site will do.
    pub(crate) async fn start_discovery(
        &self,
        conn: &mut PgConnection,
    ) -> Result<(Uuid, RequestChallengeResponse), PasskeyError> {
        let (options, state) =
            self.rp()?.start_discoverable_authentication().map_err(PasskeyError::Rejected)?;
        let state = serde_json::to_value(&state).map_err(|_| PasskeyError::NoCeremony)?;
        let id = save_ceremony(conn, None, CeremonyKind::Discover, state).await?;
        Ok((id, options))
    }

    /// Finishes a passwordless sign-in: whose passkey it was.
    pub(crate) async fn finish_discovery(
        &self,
        conn: &mut PgConnection,
        ceremony: Uuid,
        response: &PublicKeyCredential,
    ) -> Result<UserId, PasskeyError> {
        let state = take_ceremony(&mut *conn, ceremony, CeremonyKind::Discover)
            .await?
            .ok_or(PasskeyError::NoCeremony)?;
        let state: DiscoverableAuthentication =
            serde_json::from_value(state).map_err(|_| PasskeyError::NoCeremony)?;
        let (user_handle, credential_id) =
            self.rp()?.identify_discoverable_authentication(response).map_err(PasskeyError::Rejected)?;
        // The user handle (our user id) is only a claim of whose passkey this is: the
        // credential is looked for among that person's passkeys, and the signature checked
        // below against the stored public key is the proof.
        sqlx::query_scalar!("SELECT set_config('app.user_id', $1, true)", user_handle.to_string())
            .fetch_one(&mut *conn)
            .await?;
        let user = UserId::from_uuid(user_handle);
        let disabled = sqlx::query_scalar!(
            r#"SELECT (disabled_at IS NOT NULL OR deleted_at IS NOT NULL) AS "disabled!" FROM users WHERE id = $1"#,
            user.as_uuid()
        )
        .fetch_optional(&mut *conn)
        .await?
        .unwrap_or(true);
        if disabled {
            return Err(PasskeyError::AccountDisabled);
        }
        let passkey = list(&mut *conn, user)
            .await?
            .into_iter()
            .find(|p| !p.disabled && AsRef::<[u8]>::as_ref(p.passkey.cred_id()) == credential_id)
            .ok_or(PasskeyError::Unknown)?;
        let result = self.rp()?.finish_discoverable_authentication_v2(response, state, &passkey.passkey);
        self.after_use(conn, user, response, result).await?;
        Ok(user)
    }

    /// Records a use: the new counter and the time; disables the credential if its
    /// counter went backwards.
    async fn after_use(
        &self,
        conn: &mut PgConnection,
        user: UserId,
        response: &PublicKeyCredential,
        result: Result<AuthenticationResult, WebauthnError>,
    ) -> Result<(), PasskeyError> {
        let result = match result {
            Ok(result) => result,
            Err(WebauthnError::CredentialPossibleCompromise) => {
                let credential_id: &[u8] = response.raw_id.as_ref();
                sqlx::query!(
                    "UPDATE passkeys SET disabled_at = now() WHERE user_id = $1 AND credential_id = $2",
                    user.as_uuid(),
                    credential_id
                )
                .execute(&mut *conn)
                .await?;
                return Err(PasskeyError::CounterRegressed);
            }
            Err(error) => return Err(PasskeyError::Rejected(error)),
        };
        let credential_id: &[u8] = result.cred_id().as_ref();
        let row = sqlx::query!(
            "SELECT id, passkey FROM passkeys WHERE user_id = $1 AND credential_id = $2 AND disabled_at IS NULL",
            user.as_uuid(),
            credential_id
        )
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(PasskeyError::Unknown)?;
        let mut passkey: Passkey = serde_json::from_value(row.passkey).map_err(|_| PasskeyError::Unknown)?;
        passkey.update_credential(&result);
        sqlx::query!(
            "UPDATE passkeys SET passkey = $2, last_used_at = now() WHERE id = $1",
            row.id,
            serde_json::to_value(&passkey).map_err(|_| PasskeyError::Unknown)?
        )
        .execute(conn)
        .await?;
        Ok(())
    }
}
