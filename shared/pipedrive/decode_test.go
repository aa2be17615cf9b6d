package pipedrive

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	want := time.Date(2025, 2, 17, 21, 26, 58, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2025-02-17T21:26:58Z", want, true},
		{"2025-02-17 21:26:58", want, true},
		{"1739827618", want, true},
		{"1739827618000", want, true},
		{"1739827618000000", want, true},
		{"2022-11-24T15:18:35.616Z", time.Date(2022, 11, 24, 15, 18, 35, 616e6, time.UTC), true},
		{"", time.Time{}, false},
		{"yesterday", time.Time{}, false},
		{"-5", time.Time{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseTime(tc.in)
			if (err == nil) != tc.ok || !got.Equal(tc.want) {
				t.Errorf("ParseTime(%q) = %v, %v", tc.in, got, err)
			}
		})
	}
}

func TestDecodePerson(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"v2", `{"id":1,"name":"A","owner_id":2,"org_id":3,"emails":[{"value":"a@b","label":"work","primary":true}]}`, true},
		{"v1 objects", `{"id":"1","owner_id":{"id":2,"value":2},"org_id":{"value":3},"email":[{"value":""}]}`, true},
		{"no id", `{"name":"A"}`, false},
		{"not object", `[1]`, false},
		{"null", `null`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := DecodePerson([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v", err)
			}
			if err != nil && !errors.Is(err, ErrBadPerson) {
				t.Errorf("unclassified: %v", err)
			}
			if tc.ok && (p.OwnerID != 2 && tc.name != "v2" || p.OrgID == nil || *p.OrgID != 3) {
				t.Errorf("got %+v", p)
			}
		})
	}
}

func FuzzDecodePerson(f *testing.F) {
	for _, s := range []string{`{"id":1}`, `{"id":"7","postal_address":"x","postal_address_locality":"y","phone":["1"]}`,
		`{"id":1,"owner_id":{"value":"2"},"update_time":1739827618,"custom_fields":{"a":1}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePerson(b)
		if err != nil {
			if !errors.Is(err, ErrBadPerson) {
				t.Fatalf("unclassified: %v", err)
			}
			return
		}
		if p.ID <= 0 {
			t.Fatalf("accepted id %d", p.ID)
		}
		for _, f := range append(append(p.Emails, p.Phones...), p.IM...) {
			if f.Value == "" {
				t.Fatal("empty item kept")
			}
		}
	})
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2025-02-17T21:26:58Z", "2025-02-17 21:26:58", "1739827618", "1e20", "NaN"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { _, _ = ParseTime(s) })
}

// TestIMUnderEitherKey: the IM list is read under "im" (v2 schema, PHP SDK
// model) and "ims" (v2 GET descriptions, migration guide), by the typed
// decoder and by the lenient one alike.
func TestIMUnderEitherKey(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   []string
		syncOn bool
	}{
		{"im", `{"id":1,"im":[{"value":"ada","label":"skype","primary":true}]}`, []string{"ada"}, true},
		{"ims", `{"id":1,"ims":[{"value":"ada","label":"skype","primary":true}]}`, []string{"ada"}, true},
		{"im wins over ims", `{"id":1,"im":[{"value":"a"}],"ims":[{"value":"b"}]}`, []string{"a"}, true},
		{"null im, ims set", `{"id":1,"im":null,"ims":[{"value":"b"}]}`, []string{"b"}, true},
		{"ims null", `{"id":1,"ims":null}`, nil, true},
		{"job_title alone shows contact sync", `{"id":1,"job_title":null}`, nil, true},
		{"no contact-sync key", `{"id":1,"name":"A"}`, nil, false},
	}
	values := func(fs []Field) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.Value)
		}
		return out
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p Person
			if err := json.Unmarshal([]byte(tc.in), &p); err != nil {
				t.Fatal(err)
			}
			if got := values(p.IM); !slices.Equal(got, tc.want) || p.HasContactSyncFields != tc.syncOn {
				t.Errorf("Unmarshal: im %v contact sync %v, want %v %v", got, p.HasContactSyncFields, tc.want, tc.syncOn)
			}
			d, err := DecodePerson([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if got := values(d.IM); !slices.Equal(got, tc.want) || d.HasContactSyncFields != tc.syncOn {
				t.Errorf("DecodePerson: im %v contact sync %v, want %v %v", got, d.HasContactSyncFields, tc.want, tc.syncOn)
			}
		})
	}
}

// FuzzPersonJSON: the typed person decoder (GET and list answers) never
// panics, and where it and the lenient decoder both accept a body they
// agree on whether contact sync is on and on the IM handles.
func FuzzPersonJSON(f *testing.F) {
	for _, s := range []string{`{"id":1,"im":[{"value":"a"}]}`, `{"id":1,"ims":[{"value":"a","label":"skype"}],"im":null}`,
		`{"id":2,"ims":"x"}`, `{"id":3,"ims":[1,"b",{"value":""}]}`, `{"id":4,"postal_address":{"value":"x"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Person
		if json.Unmarshal(b, &p) != nil {
			return
		}
		d, err := DecodePerson(b)
		if err != nil {
			return
		}
		if p.HasContactSyncFields != d.HasContactSyncFields {
			t.Fatalf("contact sync: typed %v, lenient %v", p.HasContactSyncFields, d.HasContactSyncFields)
		}
		var typed []string
		for _, f := range p.IM {
			if strings.TrimSpace(f.Value) != "" {
				typed = append(typed, f.Value)
			}
		}
		var lenient []string
		for _, f := range d.IM {
			lenient = append(lenient, f.Value)
		}
		if !slices.Equal(typed, lenient) {
			t.Fatalf("im: typed %q, lenient %q", typed, lenient)
		}
	})
}

func TestSplitName(t *testing.T) {
	tests := []struct{ in, first, last string }{
		{"", "", ""},
		{"  Cher ", "Cher", ""},
		{"Ada Lovelace", "Ada", "Lovelace"},
		{"Anna  Maria\tSchmidt", "Anna", "Maria Schmidt"},
		{"Jürgen von der Müller-Lüdenscheidt", "Jürgen", "von der Müller-Lüdenscheidt"},
	}
	for _, tc := range tests {
		if f, l := SplitName(tc.in); f != tc.first || l != tc.last {
			t.Errorf("SplitName(%q) = %q, %q; want %q, %q", tc.in, f, l, tc.first, tc.last)
		}
	}
}

// TestLooseIDDepth: an id is read from an object one level deep (v1's
// owner_id and org_id), never deeper: each level read the whole rest
// again, and 9,000 levels (150 kB) took minutes for one webhook.
func TestLooseIDDepth(t *testing.T) {
	p, err := DecodePerson([]byte(`{"id":1,"owner_id":{"id":2,"name":"Pat","value":2},"org_id":{"value":{"value":3}}}`))
	if err != nil || p.OwnerID != 2 || p.OrgID != nil {
		t.Fatalf("got %+v, %v; want owner 2 and no organization", p, err)
	}
	deep := strings.Repeat(`{"value":`, 9000) + "3" + strings.Repeat("}", 9000)
	start := time.Now()
	if p, err := DecodePerson([]byte(`{"id":1,"owner_id":` + deep + `,"org_id":` + deep + `}`)); err != nil || p.OwnerID != 0 {
		t.Fatalf("got %+v, %v", p, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a 270 kB person took %v to read", d)
	}
}
