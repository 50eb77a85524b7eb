package handlers

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"
)

// The OpenAPI document is apidoc/openapi.json (info, servers, the payment API) merged with one
// fragment per feature (apidoc/<feature>.json, holding only "paths", "tags" and "components"),
// so that each feature's routes are described beside each other and not in one long file.
//
//go:embed apidoc/*.json
var apiDocFiles embed.FS

var openAPIDoc = mustMergeOpenAPI(apiDocFiles)

// OpenAPIDocument returns the merged OpenAPI 3.1 document that GET /api/openapi.json serves.
func OpenAPIDocument() []byte { return openAPIDoc }

func mustMergeOpenAPI(fsys fs.FS) []byte {
	doc, err := mergeOpenAPI(fsys)
	if err != nil {
		panic(err)
	}
	return doc
}

// mergeOpenAPI folds every fragment into the base document. A path, tag or component defined
// twice is an error rather than a silent overwrite.
func mergeOpenAPI(fsys fs.FS) ([]byte, error) {
	decode := func(name string) (map[string]any, error) {
		raw, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber() // keeps integers exact
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("openapi: %s: %w", name, err)
		}
		return m, nil
	}
	base, err := decode("apidoc/openapi.json")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(fsys, "apidoc/*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "apidoc/openapi.json" {
			continue
		}
		frag, err := decode(name)
		if err != nil {
			return nil, err
		}
		for key := range frag {
			if key != "paths" && key != "components" && key != "tags" {
				return nil, fmt.Errorf("openapi: %s: a fragment holds only paths, components and tags, not %q", name, key)
			}
		}
		if err := mergeObject(base, frag, "paths", name); err != nil {
			return nil, err
		}
		if comps, ok := frag["components"].(map[string]any); ok {
			baseComps, _ := base["components"].(map[string]any)
			if baseComps == nil {
				baseComps = map[string]any{}
				base["components"] = baseComps
			}
			for section := range comps {
				if err := mergeObject(baseComps, comps, section, name); err != nil {
					return nil, err
				}
			}
		}
		if tags, ok := frag["tags"].([]any); ok {
			baseTags, _ := base["tags"].([]any)
			seen := map[any]bool{}
			for _, t := range baseTags {
				if m, ok := t.(map[string]any); ok {
					seen[m["name"]] = true
				}
			}
			for _, t := range tags {
				if m, ok := t.(map[string]any); ok && seen[m["name"]] {
					return nil, fmt.Errorf("openapi: %s: tag %v is already defined", name, m["name"])
				}
				baseTags = append(baseTags, t)
			}
			base["tags"] = baseTags
		}
	}
	return json.MarshalIndent(base, "", "  ")
}

// mergeObject copies the members of src[key] into dst[key], refusing duplicates.
func mergeObject(dst, src map[string]any, key, file string) error {
	from, ok := src[key].(map[string]any)
	if !ok {
		return nil
	}
	into, _ := dst[key].(map[string]any)
	if into == nil {
		into = map[string]any{}
		dst[key] = into
	}
	for k, v := range from {
		if _, dup := into[k]; dup {
			return fmt.Errorf("openapi: %s: %s %q is already defined", file, key, k)
		}
		into[k] = v
	}
	return nil
}

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
