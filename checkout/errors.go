package checkout

import (
	"errors"
	"fmt"
)

// Error codes. Handlers map each to one HTTP status and one page, in one place.
const (
	EINVALID      = "invalid"      // the input is wrong; Fields says where
	ENOTFOUND     = "not_found"    // no such thing (or not yours to see)
	ECONFLICT     = "conflict"     // the thing is in a state that refuses this
	EUNAUTHORIZED = "unauthorized" // who you are is unknown
	EFORBIDDEN    = "forbidden"    // who you are may not do this
	EUNAVAILABLE  = "unavailable"  // a provider failed; nothing is lost, try again
	EINTERNAL     = "internal"     // Kassa's own fault
)

// Error is the one error type the domain returns to handlers.
type Error struct {
	Code    string
	Message string
	// Fields maps an input field (JSON name) to what is wrong with it.
	Fields map[string]string
	// Err is the cause, for logs; never shown to users.
	Err error
	// Shopper names Message in the catalogue for shopper pages, ShopperFields each of Fields'
	// texts as a whole sentence (see Message); empty where only an API client sees the error.
	Shopper       Message
	ShopperFields map[string]Message
}

func asError(err error, e **Error) bool { return errors.As(err, e) }

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err's *Error, or EINTERNAL.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err's *Error, or a generic one.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// ErrConflict is returned by a Store when a conditional update found the row in another state.
var ErrConflict = errors.New("checkout: concurrent change")

// ErrNotFound is returned by a Store for a missing row.
var ErrNotFound = errors.New("checkout: not found")

// fieldErrors collects validation failures and turns them into one EINVALID error.
type fieldErrors map[string]string

func (f fieldErrors) add(field, msg string) {
	if _, seen := f[field]; !seen {
		f[field] = msg
	}
}

func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Message: "The request has invalid fields.", Fields: f}
}
