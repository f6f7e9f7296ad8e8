-- Passwordless sign-in no longer asks the database whose a credential is: the
-- authenticator names the person (the user handle) and the credential is looked for among
-- that person's passkeys. The helper could not see the rows anyway (row-level security
-- is forced on its owner too), so it is dropped.
DROP FUNCTION passkey_owner(bytea);
