package checkout

import (
	"context"
	"encoding/hex"
	"errors"
	"net/mail"
	"strings"
	"sync"
	"time"
)

// Operator is a person who signs in to the dashboard. Every operator may do everything: the
// dashboard has one role.
type Operator struct {
	ID    string
	Email string
	// PasswordHash is an argon2id hash in PHC format (see HashPassword).
	PasswordHash string
	// PasswordChangedAt ends every session begun before it.
	PasswordChangedAt time.Time
	DisabledAt        time.Time // zero: active
	LastSignInAt      time.Time
	CreatedAt         time.Time
}

// Active reports whether the operator may sign in.
func (o *Operator) Active() bool { return o.DisabledAt.IsZero() }

// OperatorStore keeps operators and the failed sign-ins that throttle guessing.
type OperatorStore interface {
	CreateOperator(ctx context.Context, o *Operator) error
	// FindOperator and FindOperatorByEmail return ErrNotFound when there is none.
	FindOperator(ctx context.Context, id string) (*Operator, error)
	FindOperatorByEmail(ctx context.Context, email string) (*Operator, error)
	ListOperators(ctx context.Context) ([]Operator, error)
	SetOperatorPassword(ctx context.Context, id, hash string, at time.Time) error
	DisableOperator(ctx context.Context, id string, at time.Time) error
	TouchOperator(ctx context.Context, id string, at time.Time) error
	// RecordSignInFailure notes one failure under each key for the sign-in attempt, dropping
	// failures older than forget; ForgetSignInAttempt takes an attempt's notes back;
	// SignInFailures counts a key's failures since since.
	RecordSignInFailure(ctx context.Context, keys []string, attempt string, at, forget time.Time) error
	ForgetSignInAttempt(ctx context.Context, attempt string) error
	SignInFailures(ctx context.Context, key string, since time.Time) (int, error)
	ClearSignInFailures(ctx context.Context, key string) error
}

// Sign-in throttling: after AccountFailureLimit failures for one email, or AddressFailureLimit
// from one address, within ThrottleWindow, sign-in is refused for that email or address until
// the oldest failure leaves the window. The address limit is higher because offices and
// mobile carriers put many people behind one address.
const (
	ThrottleWindow      = 15 * time.Minute
	AccountFailureLimit = 5
	AddressFailureLimit = 20
)

// Operators is the dashboard's accounts: creating them, checking passwords, throttling.
type Operators struct {
	Store OperatorStore
	Now   func() time.Time

	// locks serialise the sign-ins of one account and of one address in this process, so
	// that a burst of guesses cannot all read the failure count before any is recorded.
	locks keyLocks
}

// keyLocks is a mutex per key, kept only while someone holds or waits for it.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	sync.Mutex
	users int
}

// lock takes key's mutex and returns its release.
func (k *keyLocks) lock(key string) func() {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyLock{}
	}
	l := k.m[key]
	if l == nil {
		l = &keyLock{}
		k.m[key] = l
	}
	l.users++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		if l.users--; l.users == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}

func (s *Operators) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// ErrSignIn is the one answer to a failed sign-in: it never says whether the email or the
// password was wrong.
var ErrSignIn = Errorf(EUNAUTHORIZED, "The email or password is not right.")

// ErrThrottled answers a sign-in while the account or address is throttled; it never says
// which of the two is.
var ErrThrottled = Errorf(EFORBIDDEN, "Too many failed sign-ins. Wait a few minutes and try again.")

// NormalizeEmail is how emails are compared: trimmed and lower-cased.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// MinPasswordLength is the shortest password an operator may choose (NIST SP 800-63B).
const MinPasswordLength = 12

// Create adds an operator. When password is empty one is generated; the password is returned
// so it can be shown once.
func (s *Operators) Create(ctx context.Context, email, password string) (*Operator, string, error) {
	email = NormalizeEmail(email)
	fe := fieldErrors{}
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > 254 {
		fe.add("email", "must be an email address")
	}
	if password == "" {
		password = GeneratePassword()
	} else if len(password) < MinPasswordLength || len(password) > 1024 {
		fe.add("password", "must be 12 to 1024 characters")
	}
	if err := fe.err(); err != nil {
		return nil, "", err
	}
	if _, err := s.Store.FindOperatorByEmail(ctx, email); err == nil {
		return nil, "", &Error{Code: ECONFLICT, Message: "An operator has this email already.", Fields: map[string]string{"email": "is taken"}}
	} else if !errors.Is(err, ErrNotFound) {
		return nil, "", err
	}
	now := s.now()
	o := &Operator{ID: "op_" + hex.EncodeToString(randomBytes(8)), Email: email, PasswordHash: HashPassword(password),
		PasswordChangedAt: now, CreatedAt: now}
	if err := s.Store.CreateOperator(ctx, o); err != nil {
		return nil, "", err
	}
	return o, password, nil
}

// List returns every operator.
func (s *Operators) List(ctx context.Context) ([]Operator, error) { return s.Store.ListOperators(ctx) }

// Find returns the operator with id.
func (s *Operators) Find(ctx context.Context, id string) (*Operator, error) {
	o, err := s.Store.FindOperator(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ENOTFOUND, "No operator has id %q.", id)
	}
	return o, err
}

func (s *Operators) byEmail(ctx context.Context, email string) (*Operator, error) {
	o, err := s.Store.FindOperatorByEmail(ctx, NormalizeEmail(email))
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ENOTFOUND, "No operator has email %q.", NormalizeEmail(email))
	}
	return o, err
}

// ResetPassword sets a new password (generated when empty) and returns it. Every session of
// the operator ends.
func (s *Operators) ResetPassword(ctx context.Context, email, password string) (string, error) {
	o, err := s.byEmail(ctx, email)
	if err != nil {
		return "", err
	}
	if password == "" {
		password = GeneratePassword()
	} else if len(password) < MinPasswordLength || len(password) > 1024 {
		return "", &Error{Code: EINVALID, Message: "The request has invalid fields.", Fields: map[string]string{"password": "must be 12 to 1024 characters"}}
	}
	if err := s.Store.SetOperatorPassword(ctx, o.ID, HashPassword(password), s.now()); err != nil {
		return "", err
	}
	// A new password also lifts the account's throttle: the owner proved who they are.
	if err := s.Store.ClearSignInFailures(ctx, accountKey(o.Email)); err != nil {
		return "", err
	}
	return password, nil
}

// Disable stops the operator from signing in and ends their sessions.
func (s *Operators) Disable(ctx context.Context, email string) error {
	o, err := s.byEmail(ctx, email)
	if err != nil {
		return err
	}
	return s.Store.DisableOperator(ctx, o.ID, s.now())
}

func accountKey(email string) string { return "account:" + NormalizeEmail(email) }
func addressKey(addr string) string  { return "address:" + addr }

// SignIn checks an email and password from a client at addr. Failures are counted per account
// and per address whether or not the account exists, so throttling reveals nothing either;
// while either is throttled even the right password is refused.
//
// Each attempt is recorded as a failure before its password is checked, and counted after that
// record is committed: of any number of attempts racing, on one instance or several sharing a
// database, the one counting last sees them all, so no more than the limit get their password
// checked. A right password takes its attempt's record back. Within a process the account's and
// the address's sign-ins are also serialised (always the account's lock first), so a burst on one
// instance is answered as if its guesses came one by one.
func (s *Operators) SignIn(ctx context.Context, email, password, addr string) (*Operator, error) {
	keys := []string{accountKey(email), addressKey(addr)}
	defer s.locks.lock(keys[0])()
	defer s.locks.lock(keys[1])()
	now := s.now()
	since := now.Add(-ThrottleWindow)
	attempt := randomID(20)
	if err := s.Store.RecordSignInFailure(ctx, keys, attempt, now, since); err != nil {
		return nil, err
	}
	limits := []int{AccountFailureLimit, AddressFailureLimit}
	for i, k := range keys {
		n, err := s.Store.SignInFailures(ctx, k, since)
		if err != nil {
			return nil, err
		}
		if n > limits[i] { // n counts this attempt too
			return nil, ErrThrottled
		}
	}
	o, err := s.Store.FindOperatorByEmail(ctx, NormalizeEmail(email))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	ok := false
	if o != nil {
		ok = CheckPassword(o.PasswordHash, password) && o.Active()
	} else {
		CheckPassword(dummyHash(), password) // spend the same time as a known account
	}
	if !ok {
		return nil, ErrSignIn // its record stays: it is a failure
	}
	if err := s.Store.ForgetSignInAttempt(ctx, attempt); err != nil {
		return nil, err
	}
	if err := s.Store.ClearSignInFailures(ctx, keys[0]); err != nil {
		return nil, err
	}
	if err := s.Store.TouchOperator(ctx, o.ID, now); err != nil {
		return nil, err
	}
	return o, nil
}

// SessionValid reports whether a session begun at signedIn may still act for o: the operator
// is active and has not changed password since.
func (o *Operator) SessionValid(signedIn time.Time) bool {
	return o.Active() && !signedIn.Before(o.PasswordChangedAt.Truncate(time.Millisecond))
}
