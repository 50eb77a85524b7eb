package main

// Onecheckout limits each API key to 1000 requests a minute and 10 in flight. Several Kassa
// instances using one key divide those limits between them rather than share a counter: the
// client's pacing stays in memory, with no database round trip before every provider call,
// and the sum over the instances never exceeds what the provider allows. An operator running
// N instances sets KASSA_INSTANCES=N (the cost: an instance cannot borrow an idle one's share).
const (
	onecheckoutPerMinute = 1000
	onecheckoutInFlight  = 10
)

// onecheckoutShare returns one instance's share of the per-key limits (0: the documented
// ones) when instances run with the same key: each limit divided by instances, rounded down,
// and never below one.
func onecheckoutShare(perMinute, inFlight, instances int) (int, int) {
	if perMinute <= 0 {
		perMinute = onecheckoutPerMinute
	}
	if inFlight <= 0 {
		inFlight = onecheckoutInFlight
	}
	if instances > 1 {
		perMinute, inFlight = max(1, perMinute/instances), max(1, inFlight/instances)
	}
	return perMinute, inFlight
}
