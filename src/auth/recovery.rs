//! Recovery codes: ten single-use codes, shown once, stored as SHA-256. Each has 80
//! random bits (16 characters from a 32-letter alphabet), far beyond online guessing under
//! the second-factor throttle. Generating a new set deletes the old one.

use rand::Rng as _;
use sha2::{Digest as _, Sha256};
use sqlx::PgConnection;

use crate::db::ids::UserId;

pub(crate) const COUNT: usize = 10;
/// No 0/O, 1/l/I: codes are read from paper.
const ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz23456789-";

fn hash(code: &str) -> Vec<u8> {
    Sha256::digest(normalize(code).as_bytes()).to_vec()
}

/// Lower case, without the dashes and spaces people type between groups.
fn normalize(code: &str) -> String {
    code.chars().filter(|c| !matches!(c, '-' | ' ')).flat_map(char::to_lowercase).collect()
}

/// One code: four groups of four characters.
fn new_code() -> String {
    let mut rng = rand::rng();
    let letters: Vec<char> = (0..16).map(|_| ALPHABET[rng.random_range(0..31)] as char).collect();
    letters.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-")
}

/// Replaces `user`'s codes with a new set and returns it (to be shown once).
pub(crate) async fn regenerate(conn: &mut PgConnection, user: UserId) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query!("DELETE FROM recovery_codes WHERE user_id = $1", user.as_uuid()).execute(&mut *conn).await?;
    let codes: Vec<String> = (0..COUNT).map(|_| new_code()).collect();
    let hashes: Vec<Vec<u8>> = codes.iter().map(|c| hash(c)).collect();
    sqlx::query!(
        "INSERT INTO recovery_codes (user_id, code_hash) SELECT $1, h FROM UNNEST($2::bytea[]) AS h",
        user.as_uuid(),
        &hashes
    )
    .execute(&mut *conn)
    .await?;
    Ok(codes)
}

/// Spends a code: true exactly once per code, even for concurrent attempts.
pub(crate) async fn spend(conn: &mut PgConnection, user: UserId, code: &str) -> Result<bool, sqlx::Error> {
    let spent = sqlx::query!(
        "UPDATE recovery_codes SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
        user.as_uuid(),
        hash(code)
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(spent == 1)
}

/// How many unused codes `user` has left.
pub(crate) async fn remaining(conn: &mut PgConnection, user: UserId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL"#,
        user.as_uuid()
    )
    .fetch_one(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_long_unique_and_typed_forgivingly() {
        let codes: std::collections::HashSet<String> = (0..1000).map(|_| new_code()).collect();
        assert_eq!(codes.len(), 1000);
        let code = codes.iter().next().expect("one").clone();
        assert_eq!(code.len(), 19);
        assert!(!code.contains(['0', 'o', '1', 'l', 'i']));
        assert_eq!(hash(&code), hash(&code.to_uppercase().replace('-', " ")));
    }
}
