package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/handlers"
)

// The OpenAPI document is the merchant-facing description of the API. These tests keep it
// honest from three sides: it lists exactly the routes the server registers (TestOpenAPICovers…),
// it is well-formed and its examples satisfy its own schemas (TestOpenAPIDocument…,
// TestOpenAPIExamples…), and real answers of the running server satisfy the schemas it
// documents for them (TestOpenAPIMatchesLiveAnswers). The schemas are checked by the small
// JSON Schema validator at the end of this file, which knows only the keywords the document is
// allowed to use; TestOpenAPIDocumentIsValid refuses any other keyword, so nothing in the
// document goes unchecked.

// openAPIPath names the document in messages: apidoc/openapi.json merged with its fragments.
const openAPIPath = "the OpenAPI document (handlers/apidoc/*.json)"

// apiPrefixes are the route prefixes the document must describe completely.
var apiPrefixes = []string{"/api/", "/oauth/", "/callbacks/"}

// nonAPIRoutes are the registered routes that are not API, each with why it is left out. A new
// route outside apiPrefixes fails TestOpenAPICoversEveryRoute until it is documented or listed
// here. A path ending in "/" is a prefix; any other is exact. The provider simulators under
// /sandbox/ are mounted outside gin and so never appear in Routes().
var nonAPIRoutes = []struct{ path, why string }{
	{"/", "the demo store's HTML page"},
	{"/buy", "the demo store's HTML form"},
	{"/checkout/", "the shopper's HTML checkout pages and provider return URLs"},
	{"/l/", "a payment link's public HTML page, its form and its QR code images"},
	{"/brand/", "an application's accent colour as a stylesheet for its checkout pages"},
	{"/healthz", "a liveness probe for operators, not part of the merchant API"},
	{"/readyz", "a readiness probe for load balancers (database reachable and migrated), see docs/OPERATIONS.md"},
	{"/metrics", "Prometheus metrics for operators, see docs/OPERATIONS.md"},
	{"/static/", "stylesheets for the HTML pages"},
	{"/sandbox/", "the provider simulators (mounted outside gin)"},
	{"/orders/", "the demo store's order page (a merchant's own site, in sandbox mode)"},
	{"/demo/webhooks", "the demo store's own webhook endpoint: a merchant receiving Kassa's webhooks, not Kassa's API"},
	{"/dashboard", "the merchant dashboard's HTML home page (signed-in operators)"},
	{"/dashboard/", "the merchant dashboard's HTML pages and forms (signed-in operators)"},
}

func isAPIRoute(path string) bool {
	for _, p := range apiPrefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

func isExcludedRoute(path string) bool {
	for _, ex := range nonAPIRoutes {
		if path == ex.path || (strings.HasSuffix(ex.path, "/") && ex.path != "/" && strings.HasPrefix(path, ex.path)) {
			return true
		}
	}
	return false
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// loadDoc reads the document with numbers kept as json.Number, so integers are checked exactly.
func loadDoc(t *testing.T) (map[string]any, []byte) {
	t.Helper()
	raw := handlers.OpenAPIDocument()
	v, err := decodeJSON(raw)
	if err != nil {
		t.Fatalf("%s is not JSON: %v", openAPIPath, err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s is not a JSON object", openAPIPath)
	}
	return doc, raw
}

func decodeJSON(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return v, nil
}

// operations lists the document's operations as "METHOD /path" → operation object.
func operations(doc map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	paths, _ := doc["paths"].(map[string]any)
	for path, item := range paths {
		item, _ := item.(map[string]any)
		for _, m := range httpMethods {
			if op, ok := item[m].(map[string]any); ok {
				out[strings.ToUpper(m)+" "+path] = op
			}
		}
	}
	return out
}

func TestOpenAPICoversEveryRoute(t *testing.T) {
	doc, _ := loadDoc(t)
	documented := operations(doc)
	registered := map[string]bool{}
	for _, r := range newEnv(t).server.Routes() {
		key := r.Method + " " + r.Path
		switch {
		case isAPIRoute(r.Path):
			registered[key] = true
			if documented[key] == nil {
				t.Errorf("route %s is registered but not in %s", key, openAPIPath)
			}
		case !isExcludedRoute(r.Path):
			t.Errorf("route %s is neither under %v nor in nonAPIRoutes: document it or exclude it with a reason", key, apiPrefixes)
		}
	}
	for key := range documented {
		if !registered[key] {
			t.Errorf("%s documents %s, which the server does not register", openAPIPath, key)
		}
		if path := strings.SplitN(key, " ", 2)[1]; !isAPIRoute(path) {
			t.Errorf("%s documents %s, outside the API prefixes %v", openAPIPath, key, apiPrefixes)
		}
	}
	// The guard itself: the API routes this test was written against are all present.
	for _, key := range []string{"POST /api/payment/checkout", "GET /api/payment/{id}", "GET /api/payment/{id}/instructions", "POST /callbacks/{provider}", "GET /api/openapi.json"} {
		if !registered[key] {
			t.Errorf("expected registered route %s missing from Routes()", key)
		}
	}
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc, _ := loadDoc(t)
	v := &schemaValidator{root: doc}
	fail := func(format string, args ...any) { t.Helper(); t.Errorf(format, args...) }

	if doc["openapi"] != "3.1.0" {
		fail("openapi = %v, want 3.1.0", doc["openapi"])
	}
	info, _ := doc["info"].(map[string]any)
	if s, _ := info["title"].(string); s == "" {
		fail("info.title missing")
	}
	if s, _ := info["version"].(string); s == "" {
		fail("info.version missing")
	}

	// Every $ref anywhere resolves.
	refs := 0
	walkJSON(doc, "#", func(node map[string]any, at string) {
		ref, ok := node["$ref"]
		if !ok {
			return
		}
		refs++
		s, isString := ref.(string)
		if !isString {
			fail("%s: $ref is not a string", at)
			return
		}
		if _, err := v.resolve(s); err != nil {
			fail("%s: %v", at, err)
		}
	})
	if refs == 0 {
		fail("no $ref at all: the document is expected to share components")
	}

	// Security schemes and the scopes operations ask for.
	components, _ := doc["components"].(map[string]any)
	schemes, _ := components["securitySchemes"].(map[string]any)
	if len(schemes) == 0 {
		fail("no components.securitySchemes")
	}
	if cs, _ := schemes["clientToken"].(map[string]any); cs["type"] != "http" || cs["scheme"] != "bearer" {
		fail("securitySchemes.clientToken must be http bearer: %v", cs)
	}
	clientScopes := map[string]bool{}
	for _, s := range checkout.Scopes {
		clientScopes[string(s)] = true
	}
	checkSecurity := func(at string, sec any) {
		list, ok := sec.([]any)
		if !ok {
			fail("%s: security is not an array", at)
			return
		}
		for _, req := range list {
			req, _ := req.(map[string]any)
			for name, scopes := range req {
				scheme, ok := schemes[name].(map[string]any)
				if !ok {
					fail("%s: security names undefined scheme %q", at, name)
					continue
				}
				scopes, _ := scopes.([]any)
				for _, sc := range scopes {
					sc, _ := sc.(string)
					switch scheme["type"] {
					case "oauth2":
						flows, _ := scheme["flows"].(map[string]any)
						found := false
						for _, f := range flows {
							f, _ := f.(map[string]any)
							fs, _ := f["scopes"].(map[string]any)
							_, in := fs[sc]
							found = found || in
						}
						if !found {
							fail("%s: scope %q is not a scope of %s's flows", at, sc, name)
						}
					default:
						if name == "clientToken" && !clientScopes[sc] {
							fail("%s: %q is not a client token scope %v", at, sc, checkout.Scopes)
						}
					}
				}
			}
		}
	}
	if oa, ok := schemes["oauth2"].(map[string]any); ok {
		flows, _ := oa["flows"].(map[string]any)
		cc, _ := flows["clientCredentials"].(map[string]any)
		if oa["type"] != "oauth2" || cc["tokenUrl"] != "/oauth/token" {
			fail("securitySchemes.oauth2 must be a clientCredentials flow with tokenUrl /oauth/token: %v", oa)
		}
		if operations(doc)["POST /oauth/token"] == nil {
			fail("securitySchemes.oauth2 names /oauth/token, which is not documented")
		}
	}

	// Operations.
	ids := map[string]string{}
	ops := operations(doc)
	if len(ops) == 0 {
		fail("no operations")
	}
	paramName := regexp.MustCompile(`\{([^}]+)\}`)
	for key, op := range ops {
		path := strings.SplitN(key, " ", 2)[1]
		id, _ := op["operationId"].(string)
		switch {
		case id == "":
			fail("%s has no operationId", key)
		case ids[id] != "":
			fail("operationId %q used by %s and %s", id, ids[id], key)
		default:
			ids[id] = key
		}
		if s, _ := op["summary"].(string); s == "" {
			fail("%s has no summary", key)
		}
		sec, hasSec := op["security"]
		if !hasSec {
			fail("%s states no security (use [] for a public operation)", key)
		} else {
			checkSecurity(key, sec)
		}

		// Path parameters match the template exactly; every parameter is well-formed.
		declared := map[string]bool{}
		var params []any
		if item, ok := doc["paths"].(map[string]any)[path].(map[string]any); ok {
			if ps, ok := item["parameters"].([]any); ok {
				params = append(params, ps...)
			}
		}
		if ps, ok := op["parameters"].([]any); ok {
			params = append(params, ps...)
		}
		seen := map[string]bool{}
		for i, p := range params {
			p, err := v.deref(p)
			at := fmt.Sprintf("%s parameters[%d]", key, i)
			if err != nil {
				fail("%s: %v", at, err)
				continue
			}
			name, _ := p["name"].(string)
			in, _ := p["in"].(string)
			if name == "" || !slices.Contains([]string{"path", "query", "header", "cookie"}, in) {
				fail("%s: bad name/in %q/%q", at, name, in)
			}
			if seen[in+" "+name] {
				fail("%s: %s parameter %q declared twice", at, in, name)
			}
			seen[in+" "+name] = true
			if _, ok := p["schema"]; !ok {
				fail("%s (%s): no schema", at, name)
			}
			if in == "path" {
				declared[name] = true
				if p["required"] != true {
					fail("%s: path parameter %q must be required", at, name)
				}
			}
		}
		for _, m := range paramName.FindAllStringSubmatch(path, -1) {
			if !declared[m[1]] {
				fail("%s: path parameter {%s} not declared", key, m[1])
			}
			delete(declared, m[1])
		}
		for name := range declared {
			fail("%s: declares path parameter %q that is not in the path", key, name)
		}

		if rb, ok := op["requestBody"]; ok {
			rb, err := v.deref(rb)
			if err != nil {
				fail("%s requestBody: %v", key, err)
			} else if content, _ := rb["content"].(map[string]any); len(content) == 0 {
				fail("%s requestBody has no content", key)
			}
		}

		responses, _ := op["responses"].(map[string]any)
		if len(responses) == 0 {
			fail("%s has no responses", key)
		}
		has2xx := false
		for code, r := range responses {
			n, err := strconv.Atoi(code)
			if code != "default" && (err != nil || n < 100 || n > 599) {
				fail("%s: response key %q is not a status code", key, code)
			}
			has2xx = has2xx || (n >= 200 && n < 300)
			r, err := v.deref(r)
			if err != nil {
				fail("%s %s: %v", key, code, err)
				continue
			}
			if d, _ := r["description"].(string); d == "" {
				fail("%s %s: response has no description", key, code)
			}
			content, _ := r["content"].(map[string]any)
			if len(content) == 0 && n != http.StatusNoContent {
				fail("%s %s: response has no content; every answer but 204 has a JSON body", key, code)
			}
			if len(content) > 0 && n == http.StatusNoContent {
				fail("%s 204 must not have content", key)
			}
		}
		if !has2xx {
			fail("%s documents no success response", key)
		}
	}

	// Tags used by operations are declared.
	declaredTags := map[string]bool{}
	tags, _ := doc["tags"].([]any)
	for _, tg := range tags {
		tg, _ := tg.(map[string]any)
		name, _ := tg["name"].(string)
		declaredTags[name] = true
	}
	for key, op := range ops {
		tl, _ := op["tags"].([]any)
		if len(tl) == 0 {
			fail("%s has no tag", key)
		}
		for _, tg := range tl {
			if s, _ := tg.(string); !declaredTags[s] {
				fail("%s: tag %v is not declared in tags", key, tg)
			}
		}
	}

	// Every schema keeps to the keywords the validator checks.
	for _, s := range collectSchemas(t, v, doc) {
		for _, e := range v.checkKeywords(s.schema, s.at) {
			fail("%s", e)
		}
	}
}

// schemaAt is one schema found in the document and where.
type schemaAt struct {
	schema any
	at     string
}

// mediaLike is a media type, parameter or header object: something with a schema and examples.
type mediaLike struct {
	node   map[string]any
	at     string
	isBody bool // a request or response body, which must carry an example
}

// collectMediaLike walks the document's structure (not every JSON object, so a schema
// property that happens to be called "schema" is not mistaken for one) and returns every
// parameter, header and media type, dereferenced.
func collectMediaLike(t *testing.T, v *schemaValidator, doc map[string]any) []mediaLike {
	t.Helper()
	var out []mediaLike
	deref := func(n any, at string) map[string]any {
		m, err := v.deref(n)
		if err != nil {
			t.Errorf("%s: %v", at, err)
		}
		return m
	}
	content := func(r map[string]any, at string) {
		c, _ := r["content"].(map[string]any)
		for mt, m := range c {
			m, _ := m.(map[string]any)
			out = append(out, mediaLike{node: m, at: at + " " + mt, isBody: true})
		}
	}
	headers := func(r map[string]any, at string) {
		hs, _ := r["headers"].(map[string]any)
		for name, h := range hs {
			out = append(out, mediaLike{node: deref(h, at), at: at + " header " + name})
		}
	}
	for key, op := range operations(doc) {
		var params []any
		path := strings.SplitN(key, " ", 2)[1]
		if item, ok := doc["paths"].(map[string]any)[path].(map[string]any); ok {
			if ps, ok := item["parameters"].([]any); ok {
				params = append(params, ps...)
			}
		}
		if ps, ok := op["parameters"].([]any); ok {
			params = append(params, ps...)
		}
		for i, p := range params {
			out = append(out, mediaLike{node: deref(p, key), at: fmt.Sprintf("%s parameters[%d]", key, i)})
		}
		if rb, ok := op["requestBody"]; ok {
			content(deref(rb, key), key+" requestBody")
		}
		responses, _ := op["responses"].(map[string]any)
		for code, r := range responses {
			r := deref(r, key+" "+code)
			content(r, key+" "+code)
			headers(r, key+" "+code)
		}
	}
	return out
}

// collectSchemas returns every schema in the document: the components and every schema of a
// parameter, header or media type, with their subschemas.
func collectSchemas(t *testing.T, v *schemaValidator, doc map[string]any) []schemaAt {
	var out []schemaAt
	var add func(s any, at string)
	add = func(s any, at string) {
		out = append(out, schemaAt{s, at})
		m, ok := s.(map[string]any)
		if !ok {
			return
		}
		if ps, ok := m["properties"].(map[string]any); ok {
			for name, p := range ps {
				add(p, at+".properties."+name)
			}
		}
		if ap, ok := m["additionalProperties"].(map[string]any); ok {
			add(ap, at+".additionalProperties")
		}
		if it, ok := m["items"]; ok {
			add(it, at+".items")
		}
		for _, kw := range []string{"oneOf", "anyOf"} {
			if list, ok := m[kw].([]any); ok {
				for i, sub := range list {
					add(sub, fmt.Sprintf("%s.%s[%d]", at, kw, i))
				}
			}
		}
	}
	components, _ := doc["components"].(map[string]any)
	schemas, _ := components["schemas"].(map[string]any)
	for name, s := range schemas {
		add(s, "#/components/schemas/"+name)
	}
	for _, m := range collectMediaLike(t, v, doc) {
		if s, ok := m.node["schema"]; ok {
			add(s, m.at+" schema")
		}
	}
	return out
}

func TestOpenAPIExamplesValidate(t *testing.T) {
	doc, _ := loadDoc(t)
	v := &schemaValidator{root: doc}
	checked := 0
	check := func(schema, example any, at string) {
		t.Helper()
		checked++
		for _, e := range v.validate(schema, example, "") {
			t.Errorf("example %s does not validate: %s", at, e)
		}
	}
	for _, m := range collectMediaLike(t, v, doc) {
		schema, ok := m.node["schema"]
		if !ok {
			t.Errorf("%s has no schema", m.at)
			continue
		}
		n := 0
		if ex, ok := m.node["example"]; ok {
			check(schema, ex, m.at)
			n++
		}
		if exs, ok := m.node["examples"]; ok {
			exs, isMap := exs.(map[string]any)
			if !isMap {
				t.Errorf("%s: examples must be a map of Example objects", m.at)
			}
			for name, ex := range exs {
				ex, err := v.deref(ex)
				if err != nil {
					t.Errorf("%s examples.%s: %v", m.at, name, err)
					continue
				}
				val, ok := ex["value"]
				if !ok {
					t.Errorf("%s examples.%s has no value", m.at, name)
					continue
				}
				if s, _ := ex["summary"].(string); s == "" {
					t.Errorf("%s examples.%s has no summary", m.at, name)
				}
				check(schema, val, m.at+" examples."+name)
				n++
			}
		}
		if m.isBody && n == 0 {
			t.Errorf("%s has no example", m.at)
		}
	}
	// Examples and defaults inside schemas are checked too.
	for _, s := range collectSchemas(t, v, doc) {
		m, ok := s.schema.(map[string]any)
		if !ok {
			continue
		}
		if exs, ok := m["examples"].([]any); ok {
			for i, ex := range exs {
				check(m, ex, fmt.Sprintf("%s.examples[%d]", s.at, i))
			}
		}
		if def, ok := m["default"]; ok {
			check(m, def, s.at+".default")
		}
	}
	if checked < 30 {
		t.Errorf("only %d examples checked; the document is expected to carry one per body", checked)
	}
}

func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t)
	_, want := loadDoc(t)
	resp, err := http.Get(e.srv.URL + "/api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/openapi.json: %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("served document (%d bytes) differs from %s (%d bytes)", len(got), openAPIPath, len(want))
	}
	// It is public: no token is needed, and a token is not refused.
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/openapi.json", nil)
	req.Header.Set("Authorization", "Bearer "+e.token)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("with a token: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

// liveDoc checks real answers against the document.
type liveDoc struct {
	t   *testing.T
	doc map[string]any
	v   *schemaValidator
	e   *env
	// seen records which documented "METHOD path status" a real answer exercised.
	seen map[string]bool
}

// operationFor finds the documented operation for a concrete method and path, preferring the
// template with the most literal segments.
func (l *liveDoc) operationFor(method, path string) (string, map[string]any) {
	best, bestLiterals := "", -1
	var bestOp map[string]any
	for key, op := range operations(l.doc) {
		m, tmpl := strings.SplitN(key, " ", 2)[0], strings.SplitN(key, " ", 2)[1]
		if m != method {
			continue
		}
		ts, ps := strings.Split(tmpl, "/"), strings.Split(path, "/")
		if len(ts) != len(ps) {
			continue
		}
		literals, match := 0, true
		for i := range ts {
			if strings.HasPrefix(ts[i], "{") {
				if ps[i] == "" {
					match = false
				}
				continue
			}
			if ts[i] != ps[i] {
				match = false
				break
			}
			literals++
		}
		if match && literals > bestLiterals {
			best, bestLiterals, bestOp = key, literals, op
		}
	}
	return best, bestOp
}

// do sends req, checks the answer's status is documented for the operation and that its body
// and headers satisfy the documented response, and returns the status and decoded body.
func (l *liveDoc) do(req *http.Request) (int, any, http.Header) {
	l.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	key, op := l.operationFor(req.Method, req.URL.Path)
	if op == nil {
		l.t.Fatalf("%s %s is not documented", req.Method, req.URL.Path)
	}
	at := fmt.Sprintf("%s (%s %s) answered %d", key, req.Method, req.URL.RequestURI(), resp.StatusCode)
	responses, _ := op["responses"].(map[string]any)
	r, ok := responses[strconv.Itoa(resp.StatusCode)]
	if !ok {
		l.t.Errorf("%s, which is not documented: %s", at, raw)
		return resp.StatusCode, nil, resp.Header
	}
	l.seen[key+" "+strconv.Itoa(resp.StatusCode)] = true
	rm, err := l.v.deref(r)
	if err != nil {
		l.t.Fatal(err)
	}
	hs, _ := rm["headers"].(map[string]any)
	for name, h := range hs {
		h, err := l.v.deref(h)
		if err != nil {
			l.t.Fatal(err)
		}
		val := resp.Header.Get(name)
		if val == "" {
			if h["required"] == true {
				l.t.Errorf("%s without the required header %s", at, name)
			}
			continue
		}
		var inst any = val
		if s, _ := l.v.deref(h["schema"]); s["type"] == "integer" || s["type"] == "number" {
			inst = json.Number(val)
		}
		for _, e := range l.v.validate(h["schema"], inst, "") {
			l.t.Errorf("%s header %s = %q: %s", at, name, val, e)
		}
	}
	content, _ := rm["content"].(map[string]any)
	if len(content) == 0 {
		if len(raw) != 0 {
			l.t.Errorf("%s with a body, but none is documented: %s", at, raw)
		}
		return resp.StatusCode, nil, resp.Header
	}
	ct := resp.Header.Get("Content-Type")
	mt, _, _ := strings.Cut(ct, ";")
	media, ok := content[strings.TrimSpace(mt)].(map[string]any)
	if !ok {
		l.t.Errorf("%s with Content-Type %q, not documented", at, ct)
		return resp.StatusCode, nil, resp.Header
	}
	body, err := decodeJSON(raw)
	if err != nil {
		l.t.Errorf("%s with a body that is not JSON: %q", at, raw)
		return resp.StatusCode, nil, resp.Header
	}
	for _, e := range l.v.validate(media["schema"], body, "") {
		l.t.Errorf("%s with a body the documented schema refuses: %s\n%s", at, e, raw)
	}
	// Every JSON error of the merchant API also has the one documented error shape.
	if resp.StatusCode >= 400 && strings.HasPrefix(req.URL.Path, "/api/") {
		for _, e := range l.v.validate(map[string]any{"$ref": "#/components/schemas/Error"}, body, "") {
			l.t.Errorf("%s with a body that is not an Error: %s\n%s", at, e, raw)
		}
	}
	return resp.StatusCode, body, resp.Header
}

func (l *liveDoc) request(method, path, token, contentType, body string, headers ...string) *http.Request {
	req, err := http.NewRequest(method, l.e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		l.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}

// expect sends a JSON request and fails unless the answer has status want (and is documented).
func (l *liveDoc) expect(want int, method, path, token, body string, headers ...string) map[string]any {
	l.t.Helper()
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	status, got, _ := l.do(l.request(method, path, token, ct, body, headers...))
	if status != want {
		l.t.Fatalf("%s %s: %d %v, want %d", method, path, status, got, want)
	}
	m, _ := got.(map[string]any)
	return m
}

// mediaExamples returns the example values of an operation's request body or response.
func (l *liveDoc) mediaExamples(key, status string) map[string]any {
	l.t.Helper()
	op := operations(l.doc)[key]
	var node any = op["requestBody"]
	if status != "" {
		node = op["responses"].(map[string]any)[status]
	}
	m, err := l.v.deref(node)
	if err != nil {
		l.t.Fatal(err)
	}
	media, _ := m["content"].(map[string]any)["application/json"].(map[string]any)
	out := map[string]any{}
	if ex, ok := media["example"]; ok {
		out["example"] = ex
	}
	exs, _ := media["examples"].(map[string]any)
	for name, ex := range exs {
		ex, _ := l.v.deref(ex)
		out[name] = ex["value"]
	}
	if len(out) == 0 {
		l.t.Fatalf("%s %s has no example", key, status)
	}
	return out
}

func TestOpenAPIMatchesLiveAnswers(t *testing.T) {
	e := newEnv(t)
	doc, _ := loadDoc(t)
	l := &liveDoc{t: t, doc: doc, v: &schemaValidator{root: doc}, e: e, seen: map[string]bool{}}
	ctx := context.Background()

	// Every documented create-payment example, posted for the test application, is created
	// and answered as documented. expiresAt must lie 5 minutes to 30 days ahead, so an
	// example's fixed date is moved to an hour from now.
	var paymentID string
	examples := l.mediaExamples("POST /api/payment/checkout", "")
	names := make([]string, 0, len(examples))
	for name := range examples {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		body, _ := examples[name].(map[string]any)
		body["clientId"] = e.app.ClientID
		if _, ok := body["expiresAt"]; ok {
			body["expiresAt"] = time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		}
		raw, _ := json.Marshal(body)
		status, got, h := l.do(l.request("POST", "/api/payment/checkout", e.token, "application/json", string(raw)))
		if status != http.StatusCreated {
			t.Fatalf("example %q: %d %v", name, status, got)
		}
		p := got.(map[string]any)
		if p["amount"] != body["amount"] || p["reference"] != body["reference"] || p["clientId"] != e.app.ClientID {
			t.Errorf("example %q created %v", name, p)
		}
		if h.Get("Location") != "/api/payment/"+p["id"].(string) {
			t.Errorf("Location %q", h.Get("Location"))
		}
		paymentID = p["id"].(string)
	}

	// The payment, its events and instructions (Onecheckout's sandbox is mounted).
	l.expect(200, "GET", "/api/payment/"+paymentID, e.token, "")
	l.expect(200, "GET", "/api/payment/"+paymentID+"/instructions?provider=onecheckout", e.token, "")
	got := l.expect(200, "GET", "/api/payment/"+paymentID, e.token, "")
	if atts, _ := got["attempts"].([]any); len(atts) != 1 {
		t.Errorf("after instructions the payment has attempts %v, want one", got["attempts"])
	}
	l.expect(200, "GET", "/api/payment/"+paymentID+"/events", e.token, "")
	l.expect(422, "GET", "/api/payment/"+paymentID+"/instructions", e.token, "")
	l.expect(422, "GET", "/api/payment/"+paymentID+"/instructions?provider=nope", e.token, "")

	// Cancel, then the conflicts a cancelled payment answers.
	l.expect(200, "POST", "/api/payment/"+paymentID+"/cancel", e.token, "")
	l.expect(409, "POST", "/api/payment/"+paymentID+"/cancel", e.token, "")
	fresh := l.expect(201, "POST", "/api/payment/checkout", e.token, `{"amount": 500, "currencyCode": "USD", "reference": "R-2", "clientId": "`+e.app.ClientID+`"}`)
	l.expect(200, "POST", "/api/payment/"+fresh["id"].(string)+"/cancel", e.token, "")
	l.expect(409, "GET", "/api/payment/"+fresh["id"].(string)+"/instructions?provider=onecheckout", e.token, "")

	// Authentication and permission errors.
	create := `{"amount": 10000, "currencyCode": "USD", "reference": "ORDER-123", "clientId": "` + e.app.ClientID + `"}`
	if got := l.expect(401, "POST", "/api/payment/checkout", "", create); got["message"] != "Unauthenticated" {
		t.Errorf("401 message %v", got["message"])
	}
	l.expect(401, "GET", "/api/payment/"+paymentID, e.token+"x", "")
	getOnly, _, _ := e.svc.NewToken(ctx, e.app.ClientID, []checkout.Scope{checkout.ScopePaymentsGet}, "", time.Time{})
	if got := l.expect(403, "POST", "/api/payment/checkout", getOnly.Reveal(), create); got["message"] != "Insufficient permissions" {
		t.Errorf("403 message %v", got["message"])
	}
	l.expect(403, "GET", "/api/payment/"+paymentID+"/instructions?provider=onecheckout", getOnly.Reveal(), "")
	l.expect(403, "POST", "/api/payment/checkout", e.token, strings.Replace(create, e.app.ClientID, strings.Repeat("a", 32), 1))
	l.expect(404, "GET", "/api/payment/pay_nope", e.token, "")
	l.expect(404, "GET", "/api/payment/pay_nope/events", e.token, "")
	l.expect(404, "POST", "/api/payment/pay_nope/cancel", e.token, "")
	other, _ := e.svc.NewApp(ctx, "Other", "")
	otherTok, _, _ := e.svc.NewToken(ctx, other.ClientID, []checkout.Scope{checkout.ScopeAll}, "", time.Time{})
	l.expect(404, "GET", "/api/payment/"+paymentID, otherTok.Reveal(), "")

	// Bad bodies.
	invalid := l.expect(422, "POST", "/api/payment/checkout", e.token, `{"amount": 10.5, "currencyCode": "usd", "reference": "", "clientId": "`+e.app.ClientID+`"}`)
	errs, _ := invalid["errors"].(map[string]any)
	for _, f := range []string{"amount", "currencyCode", "reference"} {
		if errs[f] == nil {
			t.Errorf("422 has no error for %s: %v", f, invalid)
		}
	}
	l.expect(422, "POST", "/api/payment/checkout", e.token, `{"amount": 100, "currencyCode": 840, "reference": "R", "clientId": "`+e.app.ClientID+`"}`)
	l.expect(400, "POST", "/api/payment/checkout", e.token, `{"amount": `)
	l.expect(413, "POST", "/api/payment/checkout", e.token, `{"reference": "`+strings.Repeat("x", 70<<10)+`"}`)

	// Idempotency: replay, conflict, and a key that is too long.
	first := l.expect(201, "POST", "/api/payment/checkout", e.token, create, "Idempotency-Key", "openapi-1")
	status, replay, h := l.do(l.request("POST", "/api/payment/checkout", e.token, "application/json", create, "Idempotency-Key", "openapi-1"))
	if status != 201 || replay.(map[string]any)["id"] != first["id"] || h.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: %d %v, Idempotent-Replayed %q", status, replay, h.Get("Idempotent-Replayed"))
	}
	l.expect(409, "POST", "/api/payment/checkout", e.token, strings.Replace(create, "10000", "10001", 1), "Idempotency-Key", "openapi-1")
	l.expect(422, "POST", "/api/payment/checkout", e.token, create, "Idempotency-Key", strings.Repeat("k", 256))

	// Rate limiting: the headers on every authenticated answer, then 429.
	rl := handlers.NewRateLimiter(2)
	frozen := time.Date(2026, 11, 21, 12, 0, 10, 0, time.UTC)
	rl.Now = func() time.Time { return frozen }
	e.server.RateLimit = rl
	_, _, h = l.do(l.request("GET", "/api/payment/"+paymentID, e.token, "", ""))
	if h.Get("X-RateLimit-Limit") != "2" || h.Get("X-RateLimit-Remaining") != "1" || h.Get("X-RateLimit-Reset") == "" {
		t.Errorf("rate limit headers %v", h)
	}
	l.expect(404, "GET", "/api/payment/pay_nope", e.token, "")
	_, _, h = l.do(l.request("GET", "/api/payment/"+paymentID, e.token, "", ""))
	if h.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After: %v", h)
	}
	if !l.seen["GET /api/payment/{id} 429"] {
		t.Errorf("the third request within the limit of 2 was not answered 429")
	}
	e.server.RateLimit = nil

	// Each payment operation's documented scope is the one the server enforces: a token with
	// every other scope is refused 403, a token with only that scope is let through.
	for key, op := range operations(doc) {
		sec, _ := op["security"].([]any)
		if len(sec) != 1 {
			continue
		}
		scopes, ok := sec[0].(map[string]any)["clientToken"].([]any)
		if !ok {
			continue
		}
		if len(scopes) != 1 {
			t.Errorf("%s documents client token scopes %v, want exactly one", key, scopes)
			continue
		}
		want := checkout.Scope(scopes[0].(string))
		var others []checkout.Scope
		for _, sc := range checkout.Scopes {
			if sc != want && sc != checkout.ScopeAll {
				others = append(others, sc)
			}
		}
		without, _, _ := e.svc.NewToken(ctx, e.app.ClientID, others, "", time.Time{})
		only, _, _ := e.svc.NewToken(ctx, e.app.ClientID, []checkout.Scope{want}, "", time.Time{})
		method, path := strings.SplitN(key, " ", 2)[0], strings.ReplaceAll(strings.SplitN(key, " ", 2)[1], "{id}", paymentID)
		if status, _, _ := l.do(l.request(method, path, without.Reveal(), "", "")); status != http.StatusForbidden {
			t.Errorf("%s with a token of scopes %v: %d, want 403", key, others, status)
		}
		if status, _, _ := l.do(l.request(method, path, only.Reveal(), "", "")); status == http.StatusForbidden || status == http.StatusUnauthorized {
			t.Errorf("%s with a token of scope %s only: %d", key, want, status)
		}
	}

	// Provider callbacks: only providers that send notifications have an endpoint.
	for _, p := range []string{"onecheckout", "enkash", "paypal"} {
		status, _, _ := l.do(l.request("POST", "/callbacks/"+p, "", "application/json", `{}`))
		if status != http.StatusNotFound {
			t.Errorf("callback for %s (not configured or without callbacks): %d", p, status)
		}
	}

	// The document itself.
	status, served, _ := l.do(l.request("GET", "/api/openapi.json", "", "", ""))
	if status != 200 || served.(map[string]any)["openapi"] != "3.1.0" {
		t.Errorf("GET /api/openapi.json: %d", status)
	}

	for _, must := range []string{
		"POST /api/payment/checkout 201", "POST /api/payment/checkout 400", "POST /api/payment/checkout 401",
		"POST /api/payment/checkout 403", "POST /api/payment/checkout 409", "POST /api/payment/checkout 413",
		"POST /api/payment/checkout 422", "GET /api/payment/{id} 200", "GET /api/payment/{id} 404",
		"GET /api/payment/{id}/instructions 200", "GET /api/payment/{id}/instructions 422",
		"POST /api/payment/{id}/cancel 200", "POST /api/payment/{id}/cancel 409",
	} {
		if !l.seen[must] {
			t.Errorf("no live answer exercised %s", must)
		}
	}
}

func TestOpenAPIMatchesLiveDashboardAnswers(t *testing.T) {
	e := newEnv(t)
	doc, _ := loadDoc(t)
	l := &liveDoc{t: t, doc: doc, v: &schemaValidator{root: doc}, e: e, seen: map[string]bool{}}
	ctx := context.Background()
	client, secret, err := e.svc.NewOAuthClient(ctx, "ops")
	if err != nil {
		t.Fatal(err)
	}
	form := func(status int, body, basicID, basicSecret, contentType string) map[string]any {
		t.Helper()
		req := l.request("POST", "/oauth/token", "", contentType, body)
		if basicID != "" {
			req.SetBasicAuth(basicID, basicSecret)
		}
		got, out, _ := l.do(req)
		if got != status {
			t.Fatalf("POST /oauth/token %s: %d %v, want %d", body, got, out, status)
		}
		m, _ := out.(map[string]any)
		return m
	}
	const formType = "application/x-www-form-urlencoded"
	// Both documented request examples work, once completed with real credentials.
	tok := form(200, "grant_type=client_credentials", client.ID, secret.Reveal(), formType)
	form(200, "grant_type=client_credentials&client_id="+client.ID+"&client_secret="+secret.Reveal(), "", "", formType)
	form(401, "grant_type=client_credentials", client.ID, "wrong", formType)
	form(401, "grant_type=client_credentials", "", "", formType)
	form(400, "grant_type=password", client.ID, secret.Reveal(), formType)
	form(400, "grant_type=client_credentials&client_secret=x", client.ID, secret.Reveal(), formType)
	form(400, `{"grant_type": "client_credentials"}`, client.ID, secret.Reveal(), "application/json")
	access := tok["access_token"].(string)

	// Applications: every documented create example, then read, change, rotate.
	var clientID string
	for name, body := range l.mediaExamples("POST /api/payment-applications", "") {
		raw, _ := json.Marshal(body)
		created := l.expect(201, "POST", "/api/payment-applications", access, string(raw))
		if created["name"] != body.(map[string]any)["name"] || created["webhookSecret"] == nil {
			t.Errorf("example %q created %v", name, created)
		}
		clientID = created["clientId"].(string)
	}
	l.expect(200, "GET", "/api/payment-applications", access, "")
	l.expect(200, "GET", "/api/payment-applications/"+clientID, access, "")
	l.expect(404, "GET", "/api/payment-applications/nope", access, "")
	for _, body := range l.mediaExamples("PATCH /api/payment-applications/{clientId}", "") {
		raw, _ := json.Marshal(body)
		l.expect(200, "PATCH", "/api/payment-applications/"+clientID, access, string(raw))
	}
	l.expect(200, "PATCH", "/api/payment-applications/"+clientID, access, `{"name": null}`)
	l.expect(422, "PATCH", "/api/payment-applications/"+clientID, access, `{"accentColor": "blue", "logoUrl": "http://x.example/l.png"}`)
	l.expect(422, "POST", "/api/payment-applications", access, `{"name": ""}`)
	l.expect(400, "POST", "/api/payment-applications", access, `{"name": `)
	l.expect(404, "PATCH", "/api/payment-applications/nope", access, `{"name": "x"}`)
	rotated := l.expect(200, "POST", "/api/payment-applications/"+clientID+"/rotate-webhook-secret", access, "")
	if rotated["webhookSecret"] == nil {
		t.Errorf("rotate answered no secret: %v", rotated)
	}
	l.expect(404, "POST", "/api/payment-applications/nope/rotate-webhook-secret", access, "")

	// Client tokens: create from every documented example (a fixed expiry moved to tomorrow),
	// list, use, revoke.
	var tokenID, token string
	for name, body := range l.mediaExamples("POST /api/payment-applications/{clientId}/tokens", "") {
		b := body.(map[string]any)
		if _, ok := b["expiresAt"]; ok {
			b["expiresAt"] = time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
		}
		raw, _ := json.Marshal(b)
		created := l.expect(201, "POST", "/api/payment-applications/"+clientID+"/tokens", access, string(raw))
		if created["label"] != b["label"] {
			t.Errorf("example %q created %v", name, created)
		}
		if slices.Contains(b["scopes"].([]any), any("*")) {
			tokenID, token = created["id"].(string), created["token"].(string)
		}
	}
	invalid := l.expect(422, "POST", "/api/payment-applications/"+clientID+"/tokens", access, `{"scopes": ["payments.delete"]}`)
	if errs, _ := invalid["errors"].(map[string]any); errs["scopes"] == nil {
		t.Errorf("unknown scope: %v", invalid)
	}
	l.expect(404, "POST", "/api/payment-applications/nope/tokens", access, `{"scopes": ["*"]}`)
	l.expect(200, "GET", "/api/payment-applications/"+clientID+"/tokens", access, "")
	l.expect(404, "GET", "/api/payment-applications/nope/tokens", access, "")
	create := `{"amount": 700, "currencyCode": "USD", "reference": "R-3", "clientId": "` + clientID + `"}`
	p1 := l.expect(201, "POST", "/api/payment/checkout", token, create)
	p2 := l.expect(201, "POST", "/api/payment/checkout", token, create)
	l.expect(204, "DELETE", "/api/payment-applications/"+clientID+"/tokens/"+tokenID, access, "")
	l.expect(204, "DELETE", "/api/payment-applications/"+clientID+"/tokens/"+tokenID, access, "")
	l.expect(404, "DELETE", "/api/payment-applications/"+clientID+"/tokens/0000000000000000", access, "")
	l.expect(401, "GET", "/api/payment/"+p1["id"].(string), token, "")
	listed := l.expect(200, "GET", "/api/payment-applications/"+clientID+"/tokens", access, "")
	if data, _ := listed["data"].([]any); len(data) < 2 {
		t.Errorf("token list %v", listed)
	}

	// Payments, paged by anchor. Two payments made in the same millisecond are ordered by id,
	// so the test checks the pages cover both exactly once rather than which comes first.
	page := l.expect(200, "GET", "/api/payments?limit=1&clientId="+clientID, access, "")
	first := page["payments"].([]any)[0].(map[string]any)["id"]
	next := page["next_anchor"]
	if page["count"] != json.Number("2") || next == first || (next != p1["id"] && next != p2["id"]) {
		t.Errorf("first page %v", page)
	}
	page = l.expect(200, "GET", "/api/payments?limit=1&clientId="+clientID+"&anchor="+next.(string), access, "")
	second := page["payments"].([]any)[0].(map[string]any)["id"]
	if page["next_anchor"] != "" || second != next || second == first {
		t.Errorf("last page %v", page)
	}
	l.expect(200, "GET", "/api/payments?status=paid&created_from=2026-01-01T00:00:00Z&created_to=2099-01-01T00:00:00Z", access, "")
	for _, q := range []string{"limit=0", "limit=x", "limit=2000", "status=lost", "anchor=pay_nope", "created_from=yesterday"} {
		l.expect(422, "GET", "/api/payments?"+q, access, "")
	}

	// The two kinds of token are not interchangeable.
	l.expect(401, "GET", "/api/payments", e.token, "")
	l.expect(401, "GET", "/api/payment/"+p2["id"].(string), access, "")
	l.expect(401, "GET", "/api/payment-applications", "", "")

	liveLinks(t, l, access)

	for key := range operations(doc) {
		if strings.HasPrefix(key, "GET /api/payment-applications") || strings.HasPrefix(key, "POST /api/payment-applications") ||
			strings.HasPrefix(key, "PATCH ") || strings.HasPrefix(key, "DELETE ") || key == "GET /api/payments" || key == "POST /oauth/token" {
			ok := false
			for seen := range l.seen {
				ok = ok || strings.HasPrefix(seen, key+" 2")
			}
			if !ok {
				t.Errorf("no live success answer exercised %s", key)
			}
		}
	}
}

// TestSchemaValidator makes sure the validator the document is checked with refuses what it
// should; otherwise the tests above could pass vacuously.
func TestSchemaValidator(t *testing.T) {
	root := map[string]any{"components": map[string]any{"schemas": map[string]any{
		"Status": map[string]any{"type": "string", "enum": []any{"open", "paid"}},
	}}}
	v := &schemaValidator{root: root}
	schema := mustJSON(t, `{
		"type": "object",
		"required": ["id", "amount", "status"],
		"additionalProperties": false,
		"properties": {
			"id": {"type": "string", "pattern": "^pay_[a-z0-9]{4}$"},
			"amount": {"type": "integer", "minimum": 1, "maximum": 100},
			"status": {"$ref": "#/components/schemas/Status"},
			"label": {"type": "string", "minLength": 1, "maxLength": 3},
			"kind": {"const": "redirect"},
			"paidAt": {"type": ["string", "null"], "format": "date-time"},
			"tags": {"type": "array", "items": {"type": "string"}},
			"meta": {"type": "object", "additionalProperties": {"type": "string"}},
			"either": {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 0}]},
			"any": {"anyOf": [{"type": "boolean"}, {"type": "null"}]}
		}
	}`)
	good := `{"id": "pay_ab12", "amount": 100, "status": "paid", "label": "abc", "kind": "redirect",
		"paidAt": "2026-11-21T12:00:00.123Z", "tags": ["x"], "meta": {"a": "b"}, "either": 2.5, "any": null}`
	if errs := v.validate(schema, mustJSON(t, good), ""); len(errs) != 0 {
		t.Fatalf("valid instance refused: %v", errs)
	}
	if errs := v.validate(schema, mustJSON(t, `{"id": "pay_ab12", "amount": 1, "status": "open", "paidAt": null}`), ""); len(errs) != 0 {
		t.Fatalf("valid instance with null refused: %v", errs)
	}
	for name, bad := range map[string]string{
		"missing required":      `{"id": "pay_ab12", "amount": 100}`,
		"additional property":   `{"id": "pay_ab12", "amount": 100, "status": "paid", "extra": 1}`,
		"pattern":               `{"id": "pay_AB12", "amount": 100, "status": "paid"}`,
		"integer":               `{"id": "pay_ab12", "amount": 10.5, "status": "paid"}`,
		"integer as string":     `{"id": "pay_ab12", "amount": "10", "status": "paid"}`,
		"minimum":               `{"id": "pay_ab12", "amount": 0, "status": "paid"}`,
		"maximum":               `{"id": "pay_ab12", "amount": 101, "status": "paid"}`,
		"enum through ref":      `{"id": "pay_ab12", "amount": 1, "status": "lost"}`,
		"minLength":             `{"id": "pay_ab12", "amount": 1, "status": "paid", "label": ""}`,
		"maxLength in runes":    `{"id": "pay_ab12", "amount": 1, "status": "paid", "label": "äöüß"}`,
		"const":                 `{"id": "pay_ab12", "amount": 1, "status": "paid", "kind": "push"}`,
		"date-time":             `{"id": "pay_ab12", "amount": 1, "status": "paid", "paidAt": "2026-11-21"}`,
		"type array":            `{"id": "pay_ab12", "amount": 1, "status": "paid", "paidAt": 5}`,
		"items":                 `{"id": "pay_ab12", "amount": 1, "status": "paid", "tags": [1]}`,
		"additional schema":     `{"id": "pay_ab12", "amount": 1, "status": "paid", "meta": {"a": 1}}`,
		"oneOf matches two":     `{"id": "pay_ab12", "amount": 1, "status": "paid", "either": 3}`,
		"oneOf matches none":    `{"id": "pay_ab12", "amount": 1, "status": "paid", "either": "x"}`,
		"anyOf matches none":    `{"id": "pay_ab12", "amount": 1, "status": "paid", "any": 0}`,
		"not an object at all":  `[1]`,
		"null for an object":    `null`,
		"object for an integer": `{"id": "pay_ab12", "amount": {}, "status": "paid"}`,
	} {
		if errs := v.validate(schema, mustJSON(t, bad), ""); len(errs) == 0 {
			t.Errorf("%s: accepted %s", name, bad)
		}
	}
	if errs := v.validate(map[string]any{"$ref": "#/components/schemas/Nope"}, "x", ""); len(errs) == 0 {
		t.Error("an unresolvable $ref was accepted")
	}
	if errs := v.checkKeywords(mustJSON(t, `{"type": "string", "format": "email"}`), "s"); len(errs) == 0 {
		t.Error("an unchecked format was allowed")
	}
	if errs := v.checkKeywords(mustJSON(t, `{"type": "array", "items": {"type": "string"}, "minItems": 1}`), "s"); len(errs) == 0 {
		t.Error("an unchecked keyword was allowed")
	}
	if errs := v.checkKeywords(mustJSON(t, `{"type": "object", "properties": {"a": {"type": "string"}}}`), "s"); len(errs) == 0 {
		t.Error("an object schema without an explicit additionalProperties was allowed")
	}
	if errs := v.checkKeywords(mustJSON(t, `{"type": "object", "required": ["b"], "properties": {"a": {"type": "string"}}, "additionalProperties": false}`), "s"); len(errs) == 0 {
		t.Error("a required property missing from properties was allowed")
	}
}

func mustJSON(t *testing.T, s string) any {
	t.Helper()
	v, err := decodeJSON([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// walkJSON calls fn for every JSON object in v.
func walkJSON(v any, at string, fn func(map[string]any, string)) {
	switch v := v.(type) {
	case map[string]any:
		fn(v, at)
		for k, c := range v {
			walkJSON(c, at+"/"+k, fn)
		}
	case []any:
		for i, c := range v {
			walkJSON(c, fmt.Sprintf("%s/%d", at, i), fn)
		}
	}
}

// schemaValidator is a JSON Schema (2020-12) validator for the subset of keywords the document
// uses: $ref, type (a name or an array of names), enum, const, required, properties,
// additionalProperties, items, minimum, maximum, minLength, maxLength, pattern (Go's RE2, which
// agrees with ECMA-262 on the simple patterns used), format "date-time", oneOf and anyOf.
type schemaValidator struct {
	root map[string]any
}

// schemaKeywords are the keywords validate checks; annotations are allowed and ignored.
var (
	schemaKeywords = []string{"$ref", "type", "enum", "const", "required", "properties", "additionalProperties",
		"items", "minimum", "maximum", "minLength", "maxLength", "pattern", "format", "oneOf", "anyOf"}
	schemaAnnotations = []string{"title", "description", "examples", "default", "deprecated", "readOnly", "writeOnly", "$comment"}
	schemaFormats     = []string{"date-time"}
)

// resolve follows a local JSON pointer reference.
func (v *schemaValidator) resolve(ref string) (any, error) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("$ref %q is not a local reference", ref)
	}
	var node any = v.root
	for _, part := range strings.Split(rest, "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		switch n := node.(type) {
		case map[string]any:
			c, ok := n[part]
			if !ok {
				return nil, fmt.Errorf("$ref %q does not resolve (no %q)", ref, part)
			}
			node = c
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(n) {
				return nil, fmt.Errorf("$ref %q does not resolve (no index %q)", ref, part)
			}
			node = n[i]
		default:
			return nil, fmt.Errorf("$ref %q does not resolve", ref)
		}
	}
	return node, nil
}

// deref returns n, or what its $ref names (following chains), as an object.
func (v *schemaValidator) deref(n any) (map[string]any, error) {
	for range 10 {
		m, ok := n.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("not an object: %v", n)
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return m, nil
		}
		var err error
		if n, err = v.resolve(ref); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("$ref chain too long")
}

// checkKeywords reports keywords outside the checked subset, formats the validator cannot
// check, patterns Go cannot compile, object schemas that leave additionalProperties implicit
// and required properties missing from properties.
func (v *schemaValidator) checkKeywords(s any, at string) []string {
	m, ok := s.(map[string]any)
	if !ok {
		if _, isBool := s.(bool); isBool {
			return nil
		}
		return []string{at + ": schema is neither an object nor a boolean"}
	}
	var errs []string
	for k := range m {
		if !slices.Contains(schemaKeywords, k) && !slices.Contains(schemaAnnotations, k) {
			errs = append(errs, fmt.Sprintf("%s: keyword %q is not checked by the test's validator; use %v", at, k, schemaKeywords))
		}
	}
	if f, ok := m["format"]; ok && !slices.Contains(schemaFormats, fmt.Sprint(f)) {
		errs = append(errs, fmt.Sprintf("%s: format %v is not checked; use one of %v or a pattern", at, f, schemaFormats))
	}
	if p, ok := m["pattern"].(string); ok {
		if _, err := regexp.Compile(p); err != nil {
			errs = append(errs, fmt.Sprintf("%s: pattern %q: %v", at, p, err))
		}
	}
	if props, ok := m["properties"].(map[string]any); ok {
		if _, ok := m["additionalProperties"]; !ok {
			errs = append(errs, at+": object schema must state additionalProperties")
		}
		req, _ := m["required"].([]any)
		for _, r := range req {
			if _, ok := props[fmt.Sprint(r)]; !ok {
				errs = append(errs, fmt.Sprintf("%s: required property %v is not in properties", at, r))
			}
		}
	}
	return errs
}

// validate returns what is wrong with instance x under schema s; nil means valid.
func (v *schemaValidator) validate(s any, x any, at string) []string {
	if at == "" {
		at = "$"
	}
	if b, ok := s.(bool); ok {
		if !b {
			return []string{at + ": no value is allowed here"}
		}
		return nil
	}
	m, ok := s.(map[string]any)
	if !ok {
		return []string{at + ": schema is not an object"}
	}
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }

	if ref, ok := m["$ref"].(string); ok {
		target, err := v.resolve(ref)
		if err != nil {
			bad("%v", err)
		} else {
			errs = append(errs, v.validate(target, x, at)...)
		}
	}
	if t, ok := m["type"]; ok {
		var types []string
		switch t := t.(type) {
		case string:
			types = []string{t}
		case []any:
			for _, e := range t {
				types = append(types, fmt.Sprint(e))
			}
		}
		if !slices.ContainsFunc(types, func(name string) bool { return hasType(x, name) }) {
			bad("%s is not of type %v", describe(x), types)
			return errs // the other keywords would only repeat it
		}
	}
	if e, ok := m["enum"].([]any); ok && !slices.ContainsFunc(e, func(c any) bool { return jsonEqual(c, x) }) {
		bad("%s is not one of %v", describe(x), e)
	}
	if c, ok := m["const"]; ok && !jsonEqual(c, x) {
		bad("%s is not %v", describe(x), c)
	}
	switch x := x.(type) {
	case map[string]any:
		req, _ := m["required"].([]any)
		for _, r := range req {
			if _, ok := x[fmt.Sprint(r)]; !ok {
				bad("required property %q missing", r)
			}
		}
		props, _ := m["properties"].(map[string]any)
		names := make([]string, 0, len(x))
		for k := range x {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if ps, ok := props[k]; ok {
				errs = append(errs, v.validate(ps, x[k], at+"."+k)...)
			} else if ap, ok := m["additionalProperties"]; ok {
				if b, isBool := ap.(bool); isBool && !b {
					bad("property %q is not allowed", k)
				} else {
					errs = append(errs, v.validate(ap, x[k], at+"."+k)...)
				}
			}
		}
	case []any:
		if it, ok := m["items"]; ok {
			for i, e := range x {
				errs = append(errs, v.validate(it, e, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	case string:
		n := utf8.RuneCountInString(x)
		if min, ok := intKeyword(m, "minLength"); ok && n < min {
			bad("%q is shorter than %d", x, min)
		}
		if max, ok := intKeyword(m, "maxLength"); ok && n > max {
			bad("%q is longer than %d", x, max)
		}
		if p, ok := m["pattern"].(string); ok {
			re, err := regexp.Compile(p)
			if err != nil {
				bad("pattern %q: %v", p, err)
			} else if !re.MatchString(x) {
				bad("%q does not match %s", x, p)
			}
		}
		if f, ok := m["format"].(string); ok {
			switch f {
			case "date-time":
				if _, err := time.Parse(time.RFC3339Nano, x); err != nil || !strings.Contains(x, "T") {
					bad("%q is not an RFC 3339 date-time", x)
				}
			default:
				bad("format %q is not supported by this validator", f)
			}
		}
	case json.Number:
		n, _ := new(big.Float).SetString(x.String())
		if min, ok := m["minimum"].(json.Number); ok {
			if lo, _ := new(big.Float).SetString(min.String()); n == nil || lo == nil || n.Cmp(lo) < 0 {
				bad("%s is less than %s", x, min)
			}
		}
		if max, ok := m["maximum"].(json.Number); ok {
			if hi, _ := new(big.Float).SetString(max.String()); n == nil || hi == nil || n.Cmp(hi) > 0 {
				bad("%s is more than %s", x, max)
			}
		}
	}
	if list, ok := m["oneOf"].([]any); ok {
		matched := 0
		var why []string
		for i, sub := range list {
			if e := v.validate(sub, x, at); len(e) == 0 {
				matched++
			} else {
				why = append(why, fmt.Sprintf("[%d] %s", i, strings.Join(e, "; ")))
			}
		}
		if matched != 1 {
			bad("matches %d of oneOf's %d schemas, want exactly 1 (%s)", matched, len(list), strings.Join(why, " | "))
		}
	}
	if list, ok := m["anyOf"].([]any); ok {
		if !slices.ContainsFunc(list, func(sub any) bool { return len(v.validate(sub, x, at)) == 0 }) {
			bad("matches none of anyOf's %d schemas", len(list))
		}
	}
	return errs
}

func intKeyword(m map[string]any, k string) (int, bool) {
	n, ok := m[k].(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return int(i), err == nil
}

func hasType(x any, name string) bool {
	switch name {
	case "null":
		return x == nil
	case "boolean":
		_, ok := x.(bool)
		return ok
	case "object":
		_, ok := x.(map[string]any)
		return ok
	case "array":
		_, ok := x.([]any)
		return ok
	case "string":
		_, ok := x.(string)
		return ok
	case "number":
		_, ok := x.(json.Number)
		return ok
	case "integer":
		n, ok := x.(json.Number)
		if !ok {
			return false
		}
		f, ok := new(big.Float).SetString(n.String())
		return ok && f.IsInt()
	}
	return false
}

// jsonEqual compares decoded JSON values, numbers by value.
func jsonEqual(a, b any) bool {
	switch a := a.(type) {
	case json.Number:
		bn, ok := b.(json.Number)
		if !ok {
			return false
		}
		x, ok1 := new(big.Float).SetString(a.String())
		y, ok2 := new(big.Float).SetString(bn.String())
		return ok1 && ok2 && x.Cmp(y) == 0
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return false
		}
		for k, av := range a {
			if bv, ok := bm[k]; !ok || !jsonEqual(av, bv) {
				return false
			}
		}
		return true
	case []any:
		bs, ok := b.([]any)
		if !ok || len(a) != len(bs) {
			return false
		}
		for i := range a {
			if !jsonEqual(a[i], bs[i]) {
				return false
			}
		}
		return true
	default:
		return a == b
	}
}

func describe(x any) string {
	b, _ := json.Marshal(x)
	if len(b) > 60 {
		return string(b[:60]) + "…"
	}
	return string(b)
}
