-- Sign-in throttling by e-mail and source address instead of a lock on the account: one
-- address's failures slow that address down and never keep the owner out from another.
-- Keyed by the e-mail as typed (normalised), so an unknown e-mail is slowed exactly like a
-- known one and the answers tell nobody which accounts exist. `reported` is how many of
-- the failures the user has been told of at a sign-in.
CREATE TABLE sign_in_failures (
    email TEXT NOT NULL,
    address TEXT NOT NULL,
    failures BIGINT NOT NULL,
    reported BIGINT NOT NULL DEFAULT 0,
    first_at TIMESTAMPTZ NOT NULL,
    last_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (email, address)
);
CREATE INDEX sign_in_failures__address ON sign_in_failures (address, last_at);
CREATE INDEX sign_in_failures__last_at ON sign_in_failures (last_at);

ALTER TABLE credentials DROP COLUMN failed_attempts;
ALTER TABLE credentials DROP COLUMN locked_until;
