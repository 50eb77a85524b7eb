package checkout

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"time"
)

// OAuthClient is a set of client credentials for dashboard operations (RFC 6749 §4.4).
type OAuthClient struct {
	ID         string
	SecretHash string
	Name       string
	CreatedAt  time.Time
	// RevokedAt, when set, is when the client was revoked: it gets no new access tokens and
	// its live ones were deleted then.
	RevokedAt time.Time
}

// AccessToken is a short-lived OAuth2 access token as stored: its id and the hash of its
// secret half.
type AccessToken struct {
	ID         string
	SecretHash string
	ClientID   string
	ExpiresAt  time.Time
	CreatedAt  time.Time
}

// AccessTokenTTL is how long an OAuth2 access token lives.
const AccessTokenTTL = time.Hour

const (
	oauthClientPrefix = "koc_"
	accessTokenPrefix = "kat_"
)

// NewOAuthClient creates client credentials and returns the secret, shown once.
func (s *Service) NewOAuthClient(ctx context.Context, name string) (*OAuthClient, Secret, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return nil, "", &Error{Code: EINVALID, Message: "The request has invalid fields.", Fields: map[string]string{"name": "must be 1 to 100 characters"}}
	}
	secret := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	c := &OAuthClient{ID: oauthClientPrefix + hex.EncodeToString(randomBytes(8)), SecretHash: hashSecret(secret), Name: name, CreatedAt: s.now()}
	if err := s.Store.CreateOAuthClient(ctx, c); err != nil {
		return nil, "", err
	}
	return c, Secret(secret), nil
}

// IssueAccessToken checks client credentials and issues an access token. Every failure is the
// same EUNAUTHORIZED (RFC 6749's invalid_client).
func (s *Service) IssueAccessToken(ctx context.Context, clientID, secret string) (Secret, time.Duration, error) {
	bad := Errorf(EUNAUTHORIZED, "Client authentication failed.")
	var c *OAuthClient
	err := ErrNotFound // an id that is not storable text names no client (and PostgreSQL would refuse it)
	if storableText(clientID) {
		c, err = s.Store.FindOAuthClient(ctx, clientID)
	}
	if errors.Is(err, ErrNotFound) {
		hashSecret(secret) // spend the same time as a known client
		return "", 0, bad
	} else if err != nil {
		return "", 0, err
	}
	if subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(c.SecretHash)) != 1 || !c.RevokedAt.IsZero() {
		return "", 0, bad
	}
	now := s.now()
	tokSecret := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	t := &AccessToken{ID: hex.EncodeToString(randomBytes(8)), SecretHash: hashSecret(tokSecret), ClientID: c.ID,
		ExpiresAt: now.Add(AccessTokenTTL), CreatedAt: now}
	if err := s.Store.CreateAccessToken(ctx, t); errors.Is(err, ErrNotFound) {
		return "", 0, bad // revoked (or deleted) since it was read
	} else if err != nil {
		return "", 0, err
	}
	return Secret(accessTokenPrefix + t.ID + "_" + tokSecret), AccessTokenTTL, nil
}

// AuthenticateAccessToken resolves an OAuth2 bearer access token to its client id.
func (s *Service) AuthenticateAccessToken(ctx context.Context, bearer string) (string, error) {
	unauth := Errorf(EUNAUTHORIZED, "Unauthenticated")
	rest, ok := strings.CutPrefix(bearer, accessTokenPrefix)
	if !ok {
		return "", unauth
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 16 || secret == "" {
		return "", unauth
	}
	t, err := s.Store.FindAccessToken(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return "", unauth
	} else if err != nil {
		return "", err
	}
	if subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(t.SecretHash)) != 1 || !s.now().Before(t.ExpiresAt) {
		return "", unauth
	}
	return t.ClientID, nil
}

// OAuthClients lists every OAuth client, revoked ones included.
func (s *Service) OAuthClients(ctx context.Context) ([]OAuthClient, error) {
	return s.Store.ListOAuthClients(ctx)
}

// RevokeOAuthClient revokes a client and, in the same transaction, deletes its access tokens,
// so its access ends now rather than when the last token would have expired.
func (s *Service) RevokeOAuthClient(ctx context.Context, id string) error {
	err := s.Store.RevokeOAuthClient(ctx, id, s.now())
	if errors.Is(err, ErrNotFound) {
		return Errorf(ENOTFOUND, "No OAuth client has id %q.", id)
	}
	return err
}
