package config

import (
	"reflect"
	"sort"
	"strings"
)

// Var describes one environment variable a config struct reads.
type Var struct {
	Name     string
	Default  string
	Required bool
}

// Vars lists the environment variables cfg (a pointer to one of the structs
// above) reads, sorted by name. Tests use it to keep Terraform and the README
// in step with the code.
func Vars(cfg any) []Var {
	seen := map[string]Var{}
	collect(reflect.TypeOf(cfg), seen)
	out := make([]Var, 0, len(seen))
	for _, v := range seen {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func collect(t reflect.Type, seen map[string]Var) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := range t.NumField() {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("env")
		if !ok {
			if f.Type.Kind() == reflect.Struct {
				collect(f.Type, seen)
			}
			continue
		}
		parts := strings.Split(tag, ",")
		v := Var{Name: strings.TrimSpace(parts[0])}
		for _, opt := range parts[1:] {
			opt = strings.TrimSpace(opt)
			switch {
			case opt == "required":
				v.Required = true
			case strings.HasPrefix(opt, "default="):
				v.Default = strings.TrimPrefix(opt, "default=")
			}
		}
		seen[v.Name] = v
	}
}

// All is one of each function's config, keyed by the function's registered name.
func All() map[string]any {
	return map[string]any{
		"Settings": &Settings{},
		"Intake":   &Intake{},
		"Poll":     &Poll{},
		"Apply":    &Apply{},
	}
}
