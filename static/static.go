// Package static holds the files browsers fetch beside Kassa's pages, embedded in the binary.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
)

//go:embed kassa.css
var FS embed.FS

// CSSVersion is a short hash of the stylesheet: its URL changes when it does, so browsers may
// cache it for good.
var CSSVersion = func() string {
	b, err := FS.ReadFile("kassa.css")
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}()
