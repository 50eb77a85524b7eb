-- A sign-in attempt is recorded before its password is checked (see checkout.Operators.SignIn),
-- tagged with the attempt's id so a successful one can take its record back.
ALTER TABLE signin_failures ADD COLUMN attempt TEXT NOT NULL DEFAULT '';
CREATE INDEX signin_failures_attempt ON signin_failures (attempt);
