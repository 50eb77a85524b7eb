package webhooks

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
)

// RefusedError says a webhook target is an address Kassa does not send to: loopback,
// private, link-local (cloud metadata lives there), multicast or otherwise not on the public
// internet. Refusing these keeps a merchant's webhook URL from reaching into Kassa's own
// network (server-side request forgery).
type RefusedError struct {
	Host   string
	Addr   netip.Addr
	Reason string
}

func (e *RefusedError) Error() string {
	if e.Addr.IsValid() && e.Host != e.Addr.String() {
		return fmt.Sprintf("webhooks: %s resolves to %s, a %s address: refused", e.Host, e.Addr, e.Reason)
	}
	return fmt.Sprintf("webhooks: %s is a %s address: refused", e.Host, e.Reason)
}

// blocked are the ranges no webhook is sent to, beyond what netip's predicates name.
var blocked = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "\"this network\""},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (carrier-grade NAT)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("100::/64"), "discard"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
}

// CheckAddr returns a *RefusedError when ip is not a public unicast address. IPv6 forms that
// carry an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4) are judged by the IPv4
// address inside, so ::ffff:127.0.0.1 is loopback.
func CheckAddr(ip netip.Addr) error {
	ip = ip.WithZone("")
	refuse := func(reason string) error { return &RefusedError{Host: ip.String(), Addr: ip, Reason: reason} }
	if embedded, ok := embeddedIPv4(ip); ok {
		if err := CheckAddr(embedded); err != nil {
			return refuse(err.(*RefusedError).Reason)
		}
		return nil
	}
	switch {
	case !ip.IsValid():
		return refuse("invalid")
	case ip.IsLoopback():
		return refuse("loopback")
	case ip.IsPrivate():
		return refuse("private")
	case ip.IsLinkLocalUnicast():
		return refuse("link-local (cloud metadata)")
	case ip.IsUnspecified():
		return refuse("unspecified")
	case ip.IsMulticast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
		return refuse("multicast")
	}
	for _, b := range blocked {
		if b.prefix.Contains(ip) {
			return refuse(b.reason)
		}
	}
	return nil
}

var (
	nat64   = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4  = netip.MustParsePrefix("2002::/16")
	compat4 = netip.MustParsePrefix("::/96")
)

// embeddedIPv4 returns the IPv4 address an IPv6 address stands for, if it is one of the forms
// that reach an IPv4 host.
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	if ip.Is4In6() {
		return ip.Unmap(), true
	}
	if !ip.Is6() {
		return netip.Addr{}, false
	}
	b := ip.As16()
	switch {
	case nat64.Contains(ip), compat4.Contains(ip) && !ip.IsUnspecified() && !ip.IsLoopback():
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixTo4.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

// parseLooseIPv4 reads the spellings inet_aton accepts and some resolvers still honour:
// 1 to 4 parts, each decimal, octal (leading 0) or hex (0x), the last part filling the
// remaining bytes ("127.1", "2130706433", "0177.0.0.1", "0x7f000001").
func parseLooseIPv4(s string) (netip.Addr, bool) {
	parts := strings.Split(strings.TrimSuffix(s, "."), ".")
	if len(parts) == 0 || len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		base, digits := 10, p
		switch {
		case strings.HasPrefix(strings.ToLower(p), "0x"):
			base, digits = 16, p[2:]
			if digits == "" {
				digits = "0"
			}
		case len(p) > 1 && p[0] == '0':
			base, digits = 8, p[1:]
		}
		v, err := strconv.ParseUint(digits, base, 32)
		if err != nil || p == "" {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 255 {
			return netip.Addr{}, false
		}
		n |= v << (24 - 8*uint(i))
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*uint(5-len(vals))) {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

// localNames are host names that always mean this machine or its cloud's metadata service.
func localName(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	return h == "localhost" || strings.HasSuffix(h, ".localhost") || h == "metadata.google.internal" ||
		h == "metadata" || h == "instance-data" || strings.HasSuffix(h, ".internal")
}

// ErrInvalidURL is wrapped by CheckURL for URLs that are not absolute http(s) URLs.
var ErrInvalidURL = errors.New("webhooks: not an absolute http or https URL")

// CheckURL checks a webhook URL when it is set: an absolute http(s) URL, with no user
// information, whose host is not an address Kassa refuses (unless allowPrivate). An IP
// address must be written plainly: numeric spellings such as 2130706433 or 0177.0.0.1 are
// refused whatever they point at. Host names are checked again when dialled, after DNS
// resolution, so a name that resolves to 127.0.0.1 cannot slip through.
func CheckURL(raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" || len(raw) > 2048 {
		return ErrInvalidURL
	}
	if u.User != nil {
		return fmt.Errorf("%w: no user name or password in the URL", ErrInvalidURL)
	}
	host := u.Hostname()
	if host == "" {
		return ErrInvalidURL
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if allowPrivate {
			return nil
		}
		return CheckAddr(ip)
	}
	if ip, ok := parseLooseIPv4(host); ok {
		if allowPrivate {
			return nil
		}
		if err := CheckAddr(ip); err != nil {
			return &RefusedError{Host: host, Addr: ip, Reason: err.(*RefusedError).Reason}
		}
		return fmt.Errorf("%w: write the IP address %s as %s", ErrInvalidURL, host, ip)
	}
	if !allowPrivate && localName(host) {
		return &RefusedError{Host: host, Reason: "local"}
	}
	return nil
}

// dialControl refuses, at connect time, any address CheckAddr refuses: the address here is
// the one DNS resolution produced, so no name can smuggle a private address past the check.
func dialControl(allowPrivate bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		if allowPrivate {
			return nil
		}
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return &RefusedError{Host: host, Reason: "unparsable"}
		}
		return CheckAddr(ip)
	}
}
