package googlefake

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

type discoveryMethod struct {
	ID         string `json:"id"`
	Parameters map[string]struct {
		Location    string `json:"location"`
		Description string `json:"description"`
	} `json:"parameters"`
	Request *struct {
		Ref string `json:"$ref"`
	} `json:"request"`
}

type discoveryDoc struct {
	Resources map[string]discoveryRes `json:"resources"`
	Schemas   map[string]struct {
		Properties map[string]struct {
			Description string `json:"description"`
		} `json:"properties"`
	} `json:"schemas"`
}

type discoveryRes struct {
	Methods   map[string]discoveryMethod `json:"methods"`
	Resources map[string]discoveryRes    `json:"resources"`
}

func loadDiscovery(t *testing.T) (*discoveryDoc, map[string]discoveryMethod) {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", apiModule).Output()
	if err != nil {
		t.Fatalf("locate %s: %v", apiModule, err)
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), discovPath))
	if err != nil {
		t.Fatal(err)
	}
	var d discoveryDoc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	methods := map[string]discoveryMethod{}
	var walk func(map[string]discoveryRes)
	walk = func(rs map[string]discoveryRes) {
		for _, r := range rs {
			for _, m := range r.Methods {
				methods[m.ID] = m
			}
			walk(r.Resources)
		}
	}
	walk(d.Resources)
	return &d, methods
}

var (
	validList = regexp.MustCompile(`Valid (?:values|fields) are:((?:\s*\*\s*[A-Za-z.]+)+)`)
	defaults  = regexp.MustCompile("Defaults to ((?:`[A-Za-z]+`(?:, and |, | and )?)+)")
	backticks = regexp.MustCompile("`([A-Za-z]+)`")
)

func names(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestMaskRulesMatchDiscovery: every field mask the fake checks accepts
// exactly the values the discovery document lists for that method and
// mask, defaults to what the document says, and is required where the
// document requires it (unless the same text allows it empty); every
// method takes exactly the document's query parameters.
func TestMaskRulesMatchDiscovery(t *testing.T) {
	d, methods := loadDiscovery(t)
	for key, rule := range maskRules {
		method, param, _ := strings.Cut(key, " ")
		m, ok := methods[method]
		if !ok {
			t.Errorf("%s: no such method in the discovery document", key)
			continue
		}
		desc := m.Parameters[param].Description
		if desc == "" && m.Request != nil {
			desc = d.Schemas[m.Request.Ref].Properties[param].Description
		}
		if desc == "" {
			t.Errorf("%s: the document describes no such mask", key)
			continue
		}
		vm := validList.FindStringSubmatch(desc)
		if vm == nil {
			t.Errorf("%s: no list of valid values in %q", key, desc)
			continue
		}
		var want []string
		for _, f := range strings.Split(vm[1], "*") {
			if f = strings.TrimSpace(f); f != "" {
				want = append(want, f)
			}
		}
		sort.Strings(want)
		if got := names(rule.valid); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s valid values:\n fake %v\n  doc %v", key, got, want)
		}
		if dm := defaults.FindStringSubmatch(desc); dm != nil {
			var def []string
			for _, b := range backticks.FindAllStringSubmatch(dm[1], -1) {
				def = append(def, b[1])
			}
			sort.Strings(def)
			if got := names(rule.def); strings.Join(got, ",") != strings.Join(def, ",") {
				t.Errorf("%s default:\n fake %v\n  doc %v", key, got, def)
			}
		} else if rule.def != nil {
			t.Errorf("%s: fake has a default %v the document does not give", key, names(rule.def))
		}
		docRequired := strings.HasPrefix(desc, "Required.")
		allowsEmpty := strings.Contains(desc, "Defaults to all fields if not set") || strings.Contains(desc, "left empty")
		if docRequired && !rule.required && !allowsEmpty {
			t.Errorf("%s: required by the document, optional in the fake", key)
		}
		if rule.required && !docRequired {
			t.Errorf("%s: required by the fake, optional in the document", key)
		}
	}
	for method, params := range methodParams {
		m, ok := methods[method]
		if !ok {
			t.Errorf("%s: no such method in the discovery document", method)
			continue
		}
		want := map[string]bool{}
		for p, spec := range m.Parameters {
			if spec.Location == "query" {
				want[p] = true
			}
		}
		if got, w := names(params), names(want); strings.Join(got, ",") != strings.Join(w, ",") {
			t.Errorf("%s query parameters:\n fake %v\n  doc %v", method, got, w)
		}
	}
	for method := range handlers {
		if _, ok := methodParams[method]; !ok {
			t.Errorf("%s: served without a query parameter table", method)
		}
	}
}
