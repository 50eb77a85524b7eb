package handlers

import (
	"bytes"
	"encoding/json"
)

// duplicateKey returns the first name that appears twice in one object of the JSON document
// body, at any depth. encoding/json silently keeps the last of two equal keys, so
// {"amount":100,"amount":200} would be read as 200 by Kassa and possibly as 100 by whatever
// checked the request before it (a merchant's proxy, a signature or audit log); refusing such a
// body keeps every reader in agreement. Names are compared exactly, as RFC 8259 does. body must
// already be known to be valid JSON; on a syntax error it reports no duplicate.
func duplicateKey(body []byte) (string, bool) {
	type container struct {
		object    bool
		expectKey bool
		keys      map[string]bool
	}
	var stack []*container
	// valueDone notes that the current container's member value is complete.
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].expectKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false // io.EOF, or a syntax error the decoder proper reports
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].expectKey {
			top := stack[n-1]
			if tok == json.Delim('}') {
				stack = stack[:n-1]
				valueDone()
				continue
			}
			key, _ := tok.(string)
			if top.keys[key] {
				return key, true
			}
			top.keys[key] = true
			top.expectKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &container{object: true, expectKey: true, keys: map[string]bool{}})
		case json.Delim('['):
			stack = append(stack, &container{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}
