package syncplan

import (
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/contact"
	"github.com/google/go-cmp/cmp"
)

// TestResumeAPlanInFlight: a run decides an update, stores its Planned,
// writes some of it and stops before its commit (a crash, or an error after
// one side was written); the user may edit either side before the retry.
// The retry, given the Planned, must end where the user's edits lead, as if
// the run had finished and the edits came after: our own writes are not
// the user's.
func TestResumeAPlanInFlight(t *testing.T) {
	b := phone("030 7654321", "mobile")
	c := phone("040 1111111", "home")
	d := phone("089 2222222", "work")
	ada := mk("Ada", "Lovelace", phone("030 1234567", "work"), email("ada@example.com"))
	with := func(opts ...opt) contact.Contact {
		return mk("Ada", "Lovelace", append([]opt{phone("030 1234567", "work"), email("ada@example.com")}, opts...)...)
	}
	king := func(opts ...opt) contact.Contact {
		return mk("Ada", "King", append([]opt{phone("030 1234567", "work"), email("ada@example.com")}, opts...)...)
	}
	later := t0.Add(time.Minute)

	tests := []struct {
		name   string
		base   contact.Contact
		pd, g  contact.Contact // when the run decided
		wrote  []Side          // the sides the run wrote before it stopped
		pdNow  *contact.Contact
		gNow   *contact.Contact
		pdGone bool // the user deleted the person since
		want   contact.Contact
		// acts are the retry's writes
		acts []act
		// unlink: the retry ends the pair (want then unchecked)
		unlink bool
		// before: what the retry did without the Planned (the old bug)
		before string
	}{
		{
			name: "phone added in Pipedrive, written to Google, then removed in Pipedrive",
			base: ada, pd: with(b), g: ada, wrote: []Side{Google},
			pdNow: ptr(ada),
			want:  ada, acts: []act{{Google, Update, "phones"}},
			before: "the phone came back to Pipedrive",
		},
		{
			name: "both sides edited, only Google written, nothing since",
			base: ada, pd: with(org("Acme")), g: king(), wrote: []Side{Google},
			want: king(org("Acme")), acts: []act{{Pipedrive, Update, "family"}},
		},
		{
			name: "phone removed in Google, nothing written yet, an e-mail added in Google since",
			base: with(b), pd: with(b), g: ada, wrote: nil,
			gNow: ptr(with(email("lovelace@example.com"))),
			want: with(email("lovelace@example.com")), acts: []act{{Pipedrive, Update, "phones,emails"}},
		},
		{
			name: "organization set in Pipedrive, written to Google, then the person deleted",
			base: ada, pd: with(org("Acme")), g: ada, wrote: []Side{Google},
			pdGone: true,
			acts:   []act{{Google, Delete, ""}}, unlink: true,
			before: "the person was created again from Google (edit beats delete)",
		},
		{
			name: "family changed in Google, not yet written to Pipedrive, then the person deleted",
			base: ada, pd: ada, g: king(), wrote: nil,
			pdGone: true,
			want:   king(), acts: []act{{Pipedrive, Create, "given,family,phones,emails"}},
		},
		{
			name: "organization set in Pipedrive, written to Google, then changed again in Pipedrive",
			base: ada, pd: with(org("Acme")), g: ada, wrote: []Side{Google},
			pdNow: ptr(with(org("Beta"))),
			want:  with(org("Beta")), acts: []act{{Google, Update, "org"}},
		},
		{
			name: "phone added in Google, not yet written to Pipedrive, another added in Pipedrive since",
			base: ada, pd: ada, g: with(c), wrote: nil,
			pdNow: ptr(with(d)),
			want:  with(c, d), acts: []act{{Pipedrive, Update, "phones"}, {Google, Update, "phones"}},
		},
		{
			name: "phone added in Google, written to Pipedrive, another added in Pipedrive since",
			base: ada, pd: ada, g: with(c), wrote: []Side{Pipedrive},
			pdNow: ptr(with(c, d)),
			want:  with(c, d), acts: []act{{Google, Update, "phones"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, err := Decide(Input{Base: ptr(tt.base), Pipedrive: present(tt.pd, t0), Google: present(tt.g, t0), Now: t0})
			if err != nil {
				t.Fatal(err)
			}
			if first.Planned == nil {
				t.Fatalf("the first plan (%s) has no Planned", first.History.Summary)
			}
			sides := map[Side]SideState{Pipedrive: present(tt.pd, t0), Google: present(tt.g, t0)}
			for _, s := range tt.wrote {
				sides[s] = present(written(t, first, s), later)
			}
			if tt.pdNow != nil {
				sides[Pipedrive] = present(*tt.pdNow, later.Add(time.Minute))
			}
			if tt.gNow != nil {
				sides[Google] = present(*tt.gNow, later.Add(time.Minute))
			}
			if tt.pdGone {
				sides[Pipedrive] = deleted
			}
			in := Input{Base: ptr(tt.base), Pipedrive: sides[Pipedrive], Google: sides[Google], Now: later, Planned: first.Planned}
			retry, err := Decide(in)
			if err != nil {
				t.Fatal(err)
			}
			var got []act
			for _, a := range retry.Actions {
				got = append(got, act{a.Side, a.Op, a.Fields.String()})
			}
			if d := cmp.Diff(tt.acts, got); d != "" {
				t.Errorf("retry's writes (-want +got):\n%s\n%s", d, retry.History.Summary)
			}
			if retry.Unlink != tt.unlink {
				t.Errorf("unlink = %v, want %v", retry.Unlink, tt.unlink)
			}
			if !tt.unlink {
				if retry.Base == nil {
					t.Fatalf("no base: %s", retry.History.Summary)
				}
				if d := cmp.Diff(tt.want, *retry.Base, cmpContent); d != "" {
					t.Errorf("base (-want +got):\n%s", d)
				}
				// after the retry's writes both sides hold the base
				for _, s := range []Side{Pipedrive, Google} {
					now := sides[s].Contact
					for _, a := range retry.Actions {
						if a.Side == s {
							now = a.Contact
						}
					}
					now.Unknown = 0
					if d := cmp.Diff(tt.want, now, cmpContent); d != "" {
						t.Errorf("%s after the retry (-want +got):\n%s", s, d)
					}
				}
			}
			if len(retry.Conflicts) != 0 {
				t.Errorf("conflicts %v: the run's own writes are not the user's", retry.Conflicts)
			}
			if tt.before != "" {
				in.Planned = nil
				old, err := Decide(in)
				if err != nil {
					t.Fatal(err)
				}
				if cmp.Equal(got, actsOf(old)) && old.Unlink == retry.Unlink {
					t.Errorf("without the Planned the retry decides the same (%s); the row shows nothing", old.History.Summary)
				}
			}
		})
	}
}

// TestResumeAfterTwoStops: the retry of a stopped run stops too, after its
// own plan was stored; the next retry resumes that plan, not the first.
func TestResumeAfterTwoStops(t *testing.T) {
	base := mk("Ada", "Lovelace", email("ada@example.com"))
	pd := mk("Ada", "Lovelace", email("ada@example.com"), org("Acme"))
	g := mk("Ada", "King", email("ada@example.com"))
	first, err := Decide(Input{Base: ptr(base), Pipedrive: present(pd, t0), Google: present(g, t0), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	gw := present(written(t, first, Google), t0.Add(time.Second))
	second, err := Decide(Input{Base: ptr(base), Pipedrive: present(pd, t0), Google: gw, Now: t0, Planned: first.Planned})
	if err != nil {
		t.Fatal(err)
	}
	if second.Planned == nil || second.Planned.Pipedrive.Fields != contact.Family || second.Planned.Google.Fields != 0 {
		t.Fatalf("second plan: %+v (%s)", second.Planned, second.History.Summary)
	}
	// nothing written, the organization changed in Google since
	gNow := present(mk("Ada", "King", email("ada@example.com"), org("Beta")), t0.Add(time.Minute))
	third, err := Decide(Input{Base: ptr(base), Pipedrive: present(pd, t0), Google: gNow, Now: t0, Planned: second.Planned})
	if err != nil {
		t.Fatal(err)
	}
	want := mk("Ada", "King", email("ada@example.com"), org("Beta"))
	if d := cmp.Diff(want, *third.Base, cmpContent); d != "" {
		t.Errorf("base (-want +got):\n%s", d)
	}
	if got := actsOf(third); !cmp.Equal(got, []act{{Pipedrive, Update, "family,org"}}) {
		t.Errorf("writes %v, want the Pipedrive update of family and org", got)
	}
}

// TestNoPlannedWithoutUpdates: creates, deletes and echoes store nothing.
func TestNoPlannedWithoutUpdates(t *testing.T) {
	ada := mk("Ada", "Lovelace", email("ada@example.com"))
	for _, in := range []Input{
		{Base: ptr(ada), Pipedrive: present(ada, t0), Google: present(ada, t0)},
		{Pipedrive: present(ada, t0), Google: absent},
		{Base: ptr(ada), Pipedrive: deleted, Google: present(ada, t0)},
	} {
		p, err := Decide(in)
		if err != nil {
			t.Fatal(err)
		}
		if p.Planned != nil {
			t.Errorf("%s: Planned %+v", p.History.Summary, p.Planned)
		}
	}
}

// written is what side s holds after the plan's write there.
func written(t *testing.T, p Plan, s Side) contact.Contact {
	t.Helper()
	for _, a := range p.Actions {
		if a.Side == s && a.Op == Update {
			c := a.Contact
			c.Unknown = 0
			return c
		}
	}
	t.Fatalf("the plan (%s) does not update %s", p.History.Summary, s)
	return contact.Contact{}
}

func actsOf(p Plan) []act {
	var out []act
	for _, a := range p.Actions {
		out = append(out, act{a.Side, a.Op, a.Fields.String()})
	}
	return out
}
