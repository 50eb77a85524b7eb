package handlers

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// RateLimiter counts requests per key (an API client token, a public client's address) in
// fixed one-minute windows. A fixed window gives merchants exact X-RateLimit-Remaining and
// X-RateLimit-Reset figures, which a token bucket cannot.
type RateLimiter struct {
	// Limit is the number of requests per key per window; zero or less disables limiting.
	Limit  int
	Window time.Duration
	Now    func() time.Time
	// Counter, when set, keeps the counts in the database, so that several instances behind
	// a load balancer enforce one limit; without it the counts live in this process.
	Counter RateCounter
	// Log reports a counter that fails; the request is then let through (a database hiccup
	// must not turn every API call into a 429).
	Log interface {
		ErrorContext(ctx context.Context, msg string, args ...any)
	}

	mu        sync.Mutex
	windows   map[string]*rateWindow
	lastSweep time.Time
}

type rateWindow struct {
	start time.Time
	count int
}

// RateCounter counts one request against key in the window starting at windowStart and
// returns the window's count, this request included (db.DB implements it).
type RateCounter interface {
	CountRequest(ctx context.Context, key string, windowStart time.Time) (int, error)
}

// NewRateLimiter allows limit requests per key per minute.
func NewRateLimiter(limit int) *RateLimiter {
	return &RateLimiter{Limit: limit, Window: time.Minute, Now: time.Now, windows: map[string]*rateWindow{}}
}

// take counts one request for key and reports what is left and when the window resets.
func (r *RateLimiter) take(ctx context.Context, key string) (remaining int, reset time.Time, ok bool) {
	now := r.Now()
	if r.Counter != nil {
		start := now.Truncate(r.Window)
		n, err := r.Counter.CountRequest(ctx, key, start)
		if err != nil {
			if r.Log != nil {
				r.Log.ErrorContext(ctx, "rate limit counter unavailable: request let through", "err", err)
			}
			return r.Limit, start.Add(r.Window), true
		}
		return max(0, r.Limit-n), start.Add(r.Window), n <= r.Limit
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.windows[key]
	if w == nil || now.Sub(w.start) >= r.Window {
		// Forget ended windows once there are many, at most once a window, so that a flood
		// of new keys costs neither unbounded memory nor a sweep per request.
		if len(r.windows) > 10_000 && now.Sub(r.lastSweep) >= r.Window {
			r.lastSweep = now
			for k, old := range r.windows {
				if now.Sub(old.start) >= r.Window {
					delete(r.windows, k)
				}
			}
		}
		w = &rateWindow{start: now.Truncate(r.Window)}
		r.windows[key] = w
	}
	reset = w.start.Add(r.Window)
	if w.count >= r.Limit {
		return 0, reset, false
	}
	w.count++
	return r.Limit - w.count, reset, true
}

// retryAfter is the whole number of seconds until reset, at least 1.
func (r *RateLimiter) retryAfter(reset time.Time) int {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	return max(int(reset.Sub(now()).Seconds())+1, 1)
}

// rateLimit answers 429 with Retry-After once a token has used up its window.
func (s *Server) rateLimit(c *gin.Context) {
	if s.RateLimit == nil || s.RateLimit.Limit <= 0 {
		c.Next()
		return
	}
	remaining, reset, ok := s.RateLimit.take(c.Request.Context(), principal(c).TokenID)
	h := c.Writer.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.RateLimit.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	if !ok {
		h.Set("Retry-After", strconv.Itoa(s.RateLimit.retryAfter(reset)))
		c.AbortWithStatusJSON(http.StatusTooManyRequests, gin.H{"message": "Too many requests.", "code": "rate_limited"})
		return
	}
	c.Next()
}
