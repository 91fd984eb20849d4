-- Drops the plaintext e-mail and display name once every row carries its
-- envelopes (the application converts them after migration 7); refuses
-- (and keeps the plaintext) if any row was not converted.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM users WHERE email_enc IS NULL OR display_name_enc IS NULL
               OR email_bidx IS NULL) THEN
        RAISE EXCEPTION 'users with plaintext personal data remain; run the server once to convert them';
    END IF;
END $$;
DROP INDEX users_email_live;
ALTER TABLE users DROP COLUMN email, DROP COLUMN display_name;
ALTER TABLE users ALTER COLUMN email_enc SET NOT NULL,
                  ALTER COLUMN email_bidx SET NOT NULL,
                  ALTER COLUMN email_key_version SET NOT NULL,
                  ALTER COLUMN display_name_enc SET NOT NULL,
                  ALTER COLUMN display_name_key_version SET NOT NULL;
