package googlefake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ErrSchema marks a response body that does not match the People API
// discovery document.
var ErrSchema = errors.New("googlefake: response does not match the discovery schema")

// Schemas holds the People API discovery document's schemas and the
// response schema of every method.
type Schemas struct {
	schemas  map[string]*schema
	response map[string]string // method id → schema name
}

type schema struct {
	ID                   string             `json:"id"`
	Type                 string             `json:"type"`
	Ref                  string             `json:"$ref"`
	Format               string             `json:"format"`
	Enum                 []string           `json:"enum"`
	Items                *schema            `json:"items"`
	Properties           map[string]*schema `json:"properties"`
	AdditionalProperties *schema            `json:"additionalProperties"`
}

type discoveryResource struct {
	Methods map[string]struct {
		ID       string `json:"id"`
		Response *struct {
			Ref string `json:"$ref"`
		} `json:"response"`
	} `json:"methods"`
	Resources map[string]discoveryResource `json:"resources"`
}

// ParseSchemas reads a discovery document.
func ParseSchemas(doc []byte) (*Schemas, error) {
	var d struct {
		Schemas   map[string]*schema           `json:"schemas"`
		Resources map[string]discoveryResource `json:"resources"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("googlefake: parse discovery document: %w", err)
	}
	s := &Schemas{schemas: d.Schemas, response: map[string]string{}}
	var walk func(map[string]discoveryResource)
	walk = func(rs map[string]discoveryResource) {
		for _, r := range rs {
			for _, m := range r.Methods {
				if m.Response != nil {
					s.response[m.ID] = m.Response.Ref
				}
			}
			walk(r.Resources)
		}
	}
	walk(d.Resources)
	if len(s.schemas) == 0 || len(s.response) == 0 {
		return nil, errors.New("googlefake: discovery document has no schemas or methods")
	}
	return s, nil
}

var (
	loadOnce   sync.Once
	loaded     *Schemas
	loadErr    error
	apiModule  = "google.golang.org/api"
	discovPath = filepath.Join("people", "v1", "people-api.json")
)

// LoadSchemas reads people/v1/people-api.json from the google.golang.org/api
// module this build uses, found with `go list -m`. It caches the result.
func LoadSchemas() (*Schemas, error) {
	loadOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", apiModule).Output()
		if err != nil {
			loadErr = fmt.Errorf("googlefake: locate %s: %w", apiModule, err)
			return
		}
		doc, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), discovPath))
		if err != nil {
			loadErr = fmt.Errorf("googlefake: read discovery document: %w", err)
			return
		}
		loaded, loadErr = ParseSchemas(doc)
	})
	return loaded, loadErr
}

// ValidateResponse checks one response body of the fake: People API bodies
// against the method's response schema (unknown or misspelled fields, wrong
// types and enum values fail), error bodies against Google's error shape,
// token endpoint bodies against the OAuth token response.
func (s *Schemas) ValidateResponse(method string, status int, body []byte) error {
	if method == MethodOAuthAuthorize { // a redirect, or a human-readable error page
		return nil
	}
	if status == http.StatusFound || status == http.StatusNotModified || (method == MethodOAuthRevoke && status == 200) {
		return nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("%w: %s: body is not JSON: %v", ErrSchema, method, err)
	}
	var errs []string
	switch {
	case strings.HasPrefix(method, "oauth2."):
		errs = checkKeys(v, "", set("access_token", "expires_in", "refresh_token", "scope", "token_type",
			"id_token", "refresh_token_expires_in", "error", "error_description"))
	case status >= 300:
		errs = validateErrorBody(v)
	default:
		name, ok := s.response[method]
		if !ok {
			return fmt.Errorf("%w: unknown method %q", ErrSchema, method)
		}
		s.validate(v, &schema{Ref: name}, name, &errs)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s (HTTP %d): %s", ErrSchema, method, status, strings.Join(errs, "; "))
	}
	return nil
}

func checkKeys(v any, path string, allowed map[string]bool) []string {
	m, ok := v.(map[string]any)
	if !ok {
		return []string{path + ": not an object"}
	}
	var errs []string
	for k := range m {
		if !allowed[k] {
			errs = append(errs, fmt.Sprintf("%s: unknown field %q", path, k))
		}
	}
	return errs
}

func validateErrorBody(v any) []string {
	errs := checkKeys(v, "", set("error"))
	m, _ := v.(map[string]any)
	e, ok := m["error"].(map[string]any)
	if !ok {
		return append(errs, "error: missing or not an object")
	}
	errs = append(errs, checkKeys(e, "error", set("code", "message", "status", "errors", "details"))...)
	if _, ok := e["code"].(json.Number); !ok {
		errs = append(errs, "error.code: missing or not a number")
	}
	if _, ok := e["message"].(string); !ok {
		errs = append(errs, "error.message: missing or not a string")
	}
	if _, ok := e["status"].(string); !ok {
		errs = append(errs, "error.status: missing or not a string")
	}
	if l, ok := e["errors"].([]any); ok {
		for i, it := range l {
			errs = append(errs, checkKeys(it, fmt.Sprintf("error.errors[%d]", i), set("message", "domain", "reason", "location", "locationType"))...)
		}
	}
	if l, ok := e["details"].([]any); ok {
		for i, it := range l {
			d, _ := it.(map[string]any)
			if t, _ := d["@type"].(string); !strings.HasPrefix(t, "type.googleapis.com/") {
				errs = append(errs, fmt.Sprintf("error.details[%d]: missing @type", i))
			}
		}
	}
	return errs
}

func (s *Schemas) validate(v any, sc *schema, path string, errs *[]string) {
	for sc.Ref != "" {
		next, ok := s.schemas[sc.Ref]
		if !ok {
			*errs = append(*errs, fmt.Sprintf("%s: unknown schema %q", path, sc.Ref))
			return
		}
		sc = next
	}
	bad := func(format string, a ...any) { *errs = append(*errs, path+": "+fmt.Sprintf(format, a...)) }
	switch sc.Type {
	case "any", "":
		if sc.Type == "" && sc.Properties == nil {
			return
		}
	}
	switch sc.Type {
	case "object", "":
		m, ok := v.(map[string]any)
		if !ok {
			bad("want object, got %T", v)
			return
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := path + "." + k
			switch {
			case sc.Properties[k] != nil:
				s.validate(m[k], sc.Properties[k], p, errs)
			case sc.AdditionalProperties != nil:
				s.validate(m[k], sc.AdditionalProperties, p, errs)
			default:
				*errs = append(*errs, fmt.Sprintf("%s: unknown field %q", path, k))
			}
		}
	case "array":
		l, ok := v.([]any)
		if !ok {
			bad("want array, got %T", v)
			return
		}
		for i, it := range l {
			if sc.Items != nil {
				s.validate(it, sc.Items, fmt.Sprintf("%s[%d]", path, i), errs)
			}
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			bad("want string, got %T", v)
			return
		}
		if len(sc.Enum) > 0 && !slicesContains(sc.Enum, str) {
			bad("value %q not in enum", str)
		}
		switch sc.Format {
		case "int64":
			if _, err := strconv.ParseInt(str, 10, 64); err != nil {
				bad("want int64 string, got %q", str)
			}
		case "uint64":
			if _, err := strconv.ParseUint(str, 10, 64); err != nil {
				bad("want uint64 string, got %q", str)
			}
		case "google-datetime":
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				bad("want RFC 3339 time, got %q", str)
			}
		case "byte":
			if _, err := base64.StdEncoding.DecodeString(str); err != nil {
				if _, err := base64.URLEncoding.DecodeString(str); err != nil {
					bad("want base64, got %q", str)
				}
			}
		}
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			bad("want integer, got %T", v)
			return
		}
		if _, err := n.Int64(); err != nil {
			bad("want integer, got %s", n)
		}
	case "number":
		if _, ok := v.(json.Number); !ok {
			if _, ok := v.(string); !ok { // NaN and Infinity come as strings
				bad("want number, got %T", v)
			}
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			bad("want boolean, got %T", v)
		}
	case "any":
	default:
		bad("unsupported schema type %q", sc.Type)
	}
}

// ValidatingHandler wraps h (normally a Server) and checks every response
// body with sch, reporting each mismatch to report.
func ValidatingHandler(h http.Handler, sch *Schemas, report func(error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := MethodOf(r)
		if method == "" {
			h.ServeHTTP(w, r)
			return
		}
		rec := &teeWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		if !rec.wrote {
			return // the request was abandoned (timeout fault)
		}
		if err := sch.ValidateResponse(method, rec.status, rec.buf.Bytes()); err != nil {
			report(err)
		}
	})
}

type teeWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
	buf    bytes.Buffer
}

func (t *teeWriter) WriteHeader(code int) {
	t.status, t.wrote = code, true
	t.ResponseWriter.WriteHeader(code)
}

func (t *teeWriter) Write(b []byte) (int, error) {
	t.wrote = true
	t.buf.Write(b)
	return t.ResponseWriter.Write(b)
}

func (t *teeWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// NewTestServer starts a fake on a loopback httptest server with discovery
// schema validation of every response; a mismatch fails t. It returns the
// fake and its base URL; the server closes when the test ends.
func NewTestServer(t testing.TB, opts ...Option) (*Server, string) {
	t.Helper()
	sch, err := LoadSchemas()
	if err != nil {
		t.Fatalf("googlefake.NewTestServer: %v", err)
	}
	s := New(opts...)
	var mu sync.Mutex
	done := false
	ts := httptest.NewServer(ValidatingHandler(s, sch, func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			t.Errorf("%v", err)
		}
	}))
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
		mu.Lock()
		done = true
		mu.Unlock()
	})
	return s, ts.URL
}
