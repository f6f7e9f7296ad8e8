-- Changes to second factors are identity changes: keep them in the row history too,
-- without the secrets themselves.
CREATE TRIGGER totp_credentials_history AFTER INSERT OR UPDATE OR DELETE ON totp_credentials
    FOR EACH ROW EXECUTE FUNCTION record_row_history('secret_ciphertext', 'last_used_step');
CREATE TRIGGER recovery_codes_history AFTER INSERT OR UPDATE OR DELETE ON recovery_codes
    FOR EACH ROW EXECUTE FUNCTION record_row_history('code_hash');
CREATE TRIGGER passkeys_history AFTER INSERT OR UPDATE OR DELETE ON passkeys
    FOR EACH ROW EXECUTE FUNCTION record_row_history('passkey');
