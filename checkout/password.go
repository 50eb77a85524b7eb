package checkout

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Argon2id at OWASP's first recommended setting (Password Storage Cheat Sheet): 19 MiB of
// memory, two passes, one lane. The parameters are stored with each hash, so raising them
// later leaves old hashes verifiable.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// HashPassword returns the password's argon2id hash in the PHC string format
// ($argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>), with a fresh random salt.
func HashPassword(password string) string {
	salt := randomBytes(argonSaltLen)
	key := argonKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// CheckPassword reports whether password matches a hash made by HashPassword, in constant
// time. A malformed hash never matches.
func CheckPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var version int
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<21 || t == 0 || t > 16 || p == 0 {
		return false
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 128 {
		return false
	}
	got := argonKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// hashSlots bounds the password hashes computed at once. Each takes 19 MiB and a core for tens
// of milliseconds; sign-ins are throttled per account and per address, not in total, so
// without a bound a crowd of addresses (an IPv6 /48 holds 65,536 /64s) signing in at once
// would allocate 19 MiB each until the process is killed. Beyond the bound they queue.
var hashSlots = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))

// idKey is argon2.IDKey; tests watch it.
var idKey = argon2.IDKey

func argonKey(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()
	return idKey(password, salt, time, memory, threads, keyLen)
}

// dummyHash is checked against when no operator has the email given, so a sign-in takes as
// long whether or not the account exists.
var dummyHash = sync.OnceValue(func() string { return HashPassword("kassa-no-such-operator") })

// GeneratePassword returns a random password of 20 characters from an unambiguous alphabet
// (about 100 bits).
func GeneratePassword() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := randomBytes(20)
	for i := range b {
		for int(b[i]) >= 256-256%len(alphabet) {
			b[i] = randomBytes(1)[0]
		}
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
