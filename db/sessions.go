package db

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base32"
	"encoding/gob"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
)

// SessionStore is a gorilla/sessions store whose sessions live in the sessions table. The
// cookie carries only the signed session id, so nothing a shopper holds can be read or
// forged, and ending a session server-side really ends it.
type SessionStore struct {
	db      *DB
	codecs  []securecookie.Codec
	Options *sessions.Options
}

var _ sessions.Store = (*SessionStore)(nil)

// NewSessionStore signs cookie ids with hashKey (32 or 64 random bytes).
func (db *DB) NewSessionStore(hashKey []byte, opts sessions.Options) *SessionStore {
	codecs := securecookie.CodecsFromPairs(hashKey)
	for _, c := range codecs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			sc.MaxAge(opts.MaxAge)
		}
	}
	return &SessionStore{db: db, codecs: codecs, Options: &opts}
}

// Get returns the session for name, cached per request.
func (s *SessionStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

// New loads the session named by the request's cookie, or starts an empty one. A cookie that
// does not verify, or names a session that expired or was deleted, yields a new session.
func (s *SessionStore) New(r *http.Request, name string) (*sessions.Session, error) {
	sess := sessions.NewSession(s, name)
	opts := *s.Options
	sess.Options = &opts
	sess.IsNew = true
	c, err := r.Cookie(name)
	if err != nil {
		return sess, nil
	}
	var id string
	if err := securecookie.DecodeMulti(name, c.Value, &id, s.codecs...); err != nil {
		return sess, nil
	}
	var data []byte
	err = s.db.read.QueryRowContext(r.Context(), `SELECT data FROM sessions WHERE id = ? AND expires_at > ?`,
		id, ms(s.db.now())).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return sess, nil
	} else if err != nil {
		return sess, fmt.Errorf("db: load session: %w", err)
	}
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&sess.Values); err != nil {
		return sess, nil // a session written by an incompatible version: start afresh
	}
	sess.ID = id
	sess.IsNew = false
	return sess, nil
}

// Save stores the session and sets its cookie; a negative MaxAge deletes both. A new session
// with nothing in it is neither stored nor given a cookie.
func (s *SessionStore) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	ctx := r.Context()
	if sess.Options.MaxAge < 0 {
		if sess.ID != "" {
			if _, err := s.db.exec(ctx, `DELETE FROM sessions WHERE id = ?`, sess.ID); err != nil {
				return fmt.Errorf("db: delete session: %w", err)
			}
		}
		http.SetCookie(w, sessions.NewCookie(sess.Name(), "", sess.Options))
		return nil
	}
	if sess.IsNew && len(sess.Values) == 0 {
		return nil // nothing to keep: a request that needs no session creates none
	}
	if sess.ID == "" {
		sess.ID = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(securecookie.GenerateRandomKey(32))
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(sess.Values); err != nil {
		return fmt.Errorf("db: encode session: %w", err)
	}
	maxAge := sess.Options.MaxAge
	if maxAge == 0 {
		maxAge = 86400 // a browser-session cookie still needs an end on the server
	}
	now := s.db.now()
	expires := now.Add(time.Duration(maxAge) * time.Second)
	if sess.IsNew {
		if _, err := s.db.exec(ctx, `INSERT INTO sessions (id, data, expires_at) VALUES (?, ?, ?)`,
			sess.ID, buf.Bytes(), ms(expires)); err != nil {
			return fmt.Errorf("db: save session: %w", err)
		}
	} else {
		// A loaded session is only ever updated: if it was deleted (signed out) or expired
		// since this request loaded it, saving must not bring it back, and its cookie goes.
		res, err := s.db.exec(ctx, `UPDATE sessions SET data = ?, expires_at = ? WHERE id = ? AND expires_at > ?`,
			buf.Bytes(), ms(expires), sess.ID, ms(now))
		if err != nil {
			return fmt.Errorf("db: save session: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("db: save session: %w", err)
		} else if n == 0 {
			opts := *sess.Options
			opts.MaxAge = -1
			http.SetCookie(w, sessions.NewCookie(sess.Name(), "", &opts))
			return nil
		}
	}
	encoded, err := securecookie.EncodeMulti(sess.Name(), sess.ID, s.codecs...)
	if err != nil {
		return err
	}
	http.SetCookie(w, sessions.NewCookie(sess.Name(), encoded, sess.Options))
	return nil
}

// DeleteExpiredSessions removes sessions past their expiry and returns how many.
func (db *DB) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	res, err := db.exec(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, ms(db.now()))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// CountSessions returns how many sessions are stored, expired or not.
func (db *DB) CountSessions(ctx context.Context) (int, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions`).Scan(&n)
	return n, err
}
