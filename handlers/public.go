package handlers

import (
	"net"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
)

// limitPublic rate-limits the pages and callbacks anyone may call without credentials (the
// checkout pages, provider returns, attempt status pages, the demo store, provider callbacks)
// per client address, so that a stranger cannot turn Kassa into a machine for calling the
// providers or writing to the database. Over the limit it answers 429 with Retry-After: a
// friendly page in the browser, JSON on callbacks. Pages and callbacks are counted
// separately, so a provider's burst of callbacks from one address never locks a shopper out
// and the other way round.
//
// The counters live in this process: each instance behind a load balancer keeps its own, so
// N instances allow up to N times the limit. That is deliberate: a counter in the database
// would turn every refused request into a write on the one SQLite writer, which is exactly the
// resource a flood must not reach; this limit protects, it does not meter.
func (s *Server) limitPublic(c *gin.Context) {
	l := s.PublicRateLimit
	if l == nil || l.Limit <= 0 {
		c.Next()
		return
	}
	class := "page "
	if isAPI(c) {
		class = "callback "
	}
	_, reset, ok := l.take(c.Request.Context(), class+clientAddress(c))
	if ok {
		c.Next()
		return
	}
	c.Header("Retry-After", strconv.Itoa(l.retryAfter(reset)))
	if isAPI(c) {
		c.AbortWithStatusJSON(http.StatusTooManyRequests, gin.H{"message": "Too many requests.", "code": "rate_limited"})
		return
	}
	s.errorPage(c, http.StatusTooManyRequests, "Too many requests",
		"This address has opened Kassa's pages very often in a short time. Please wait a minute, then reload the page. Nothing about your payment has changed.")
}

// clientAddress is the key a client is limited by: gin's ClientIP, which believes
// X-Forwarded-For and X-Real-IP only from Server.TrustedProxies (and otherwise takes the TCP
// peer). An IPv6 client is keyed by its /64, the block one subscriber usually holds, so that
// stepping through addresses within it does not reset the count.
func clientAddress(c *gin.Context) string {
	ip := net.ParseIP(c.ClientIP())
	if ip == nil {
		return c.ClientIP()
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}
