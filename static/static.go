// Package static holds the files browsers fetch beside Kassa's pages, embedded in the binary.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
)

//go:embed kassa.css dashboard.css dashboard.js link-print.css
var FS embed.FS

// CSSVersion is a short hash of the stylesheet: its URL changes when it does, so browsers may
// cache it for good.
var CSSVersion = func() string { return versions["kassa.css"] }()

var versions = map[string]string{}

func init() {
	entries, err := FS.ReadDir(".")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		b, err := FS.ReadFile(e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		versions[e.Name()] = hex.EncodeToString(sum[:6])
	}
}

// Version is a short hash of the named file, for its URL's ?v= so it can be cached for good;
// empty for a file that is not there.
func Version(name string) string { return versions[name] }
