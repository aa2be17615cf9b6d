package pipedrivefake

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzStrictPersonBody: the fake's v2 body check never panics on what a
// client sends, and a body it accepts leaves the person as the docs
// promise: a name, and an address only with a value.
func FuzzStrictPersonBody(f *testing.F) {
	for _, s := range []string{`{"name":"A"}`, `{"first_name":"A","last_name":""}`, `{"name":"A","postal_address":{"value":"x","locality":null}}`,
		`{"name":"A","postal_address":{}}`, `{"name":"A","emails":[{"value":"a@b","primary":true,"label":"work"}]}`,
		`{"org_id":null}`, `{"name":"A","first_name":"B","last_name":"C"}`, `{"visible_to":3}`, `{"label_ids":[1,2.5]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pp, err := parseStrictPersonBody(b)
		if err != nil {
			return
		}
		p := &person{visibleTo: 3}
		if err := pp.apply(p, true, true, true, func(int64) bool { return true }); err != nil {
			return
		}
		if strings.TrimSpace(p.name) == "" {
			t.Fatalf("accepted a person without a name: %s", b)
		}
		if p.postalAddress != nil && strings.TrimSpace(p.postalAddress.Value) == "" {
			t.Fatalf("accepted an address without a value: %s", b)
		}
		var m map[string]json.RawMessage
		_ = json.Unmarshal(b, &m)
		for k := range m {
			if !personKeys[k] {
				t.Fatalf("accepted unknown key %q", k)
			}
		}
	})
}
