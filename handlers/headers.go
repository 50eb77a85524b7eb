package handlers

import "net/http"

// denyFraming makes h's answers unframeable, as Kassa's own pages are (securityHeaders): the
// mounted simulators' pay pages carry Pay buttons too, and a page that frames them could
// trick a tester into pressing one. The directive is added as a second
// Content-Security-Policy header when h writes its answer; browsers enforce every policy
// they are sent, so h's own policy stays in force beside it.
func denyFraming(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&framingWriter{ResponseWriter: w}, r)
	})
}

type framingWriter struct {
	http.ResponseWriter
	done bool
}

func (f *framingWriter) header() {
	if f.done {
		return
	}
	f.done = true
	h := f.ResponseWriter.Header()
	h.Add("Content-Security-Policy", "frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
}

func (f *framingWriter) WriteHeader(status int) {
	f.header()
	f.ResponseWriter.WriteHeader(status)
}

func (f *framingWriter) Write(b []byte) (int, error) {
	f.header()
	return f.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushing, deadlines).
func (f *framingWriter) Unwrap() http.ResponseWriter { return f.ResponseWriter }

// strictTransport sends Strict-Transport-Security on every answer, for a Kassa whose base URL
// is https: browsers then never fetch a checkout page over plain http, where it could be
// altered on the way. A year, without includeSubDomains: Kassa's host need not speak for the
// merchant's other hosts.
func strictTransport(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		h.ServeHTTP(w, r)
	})
}
