package handlers

import (
	_ "embed"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

//go:embed apidoc/openapi.json
var openAPIDoc []byte

// openAPI serves GET /api/openapi.json: the OpenAPI 3.1 description of every API route.
func (s *Server) openAPI(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "application/json; charset=utf-8", openAPIDoc)
}

// Route is one registered method and path, in OpenAPI's {param} form.
type Route struct{ Method, Path string }

// Routes lists every route the gin engine registers, for the test that the OpenAPI document
// covers them all.
func (s *Server) Routes() []Route {
	var out []Route
	for _, r := range s.engine().Routes() {
		parts := strings.Split(r.Path, "/")
		for i, p := range parts {
			if strings.HasPrefix(p, ":") || strings.HasPrefix(p, "*") {
				parts[i] = "{" + p[1:] + "}"
			}
		}
		out = append(out, Route{Method: r.Method, Path: strings.Join(parts, "/")})
	}
	return out
}
