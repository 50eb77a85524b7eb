package checkout

import (
	"testing"
	"time"
)

// TestPasswordHashesBounded: with every hashing slot taken, a password check waits for one
// instead of allocating argon2's 19 MiB beside the others. (The wait below only bounds how
// long the test looks for a check that should not start; the check starting fails at once.)
func TestPasswordHashesBounded(t *testing.T) {
	hash := HashPassword("correct horse battery")
	entered := make(chan struct{}, 1)
	real := idKey
	idKey = func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
		entered <- struct{}{}
		return real(password, salt, time, memory, threads, keyLen)
	}
	t.Cleanup(func() { idKey = real })
	for range cap(hashSlots) {
		hashSlots <- struct{}{}
	}
	done := make(chan bool)
	go func() { done <- CheckPassword(hash, "correct horse battery") }()
	select {
	case <-entered:
		t.Fatalf("a password hash started while all %d slots were taken", cap(hashSlots))
	case <-time.After(2 * time.Second):
	}
	<-hashSlots // one slot frees: the check runs
	<-entered
	if !<-done {
		t.Fatal("the right password did not match")
	}
	for len(hashSlots) > 0 {
		<-hashSlots
	}
}
