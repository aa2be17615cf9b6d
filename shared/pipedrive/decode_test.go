package pipedrive

import (
	"errors"
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
