package localstack

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/match"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/pipedrive/pipedrivefake"
)

func TestParseSeed(t *testing.T) {
	for in, want := range map[string]Seed{"60,60": {60, 60}, "1000, 700": {1000, 700}, "0,25": {0, 25}, "30000,0": {MaxSeed, 0}} {
		got, err := ParseSeed(in)
		if err != nil || got != want {
			t.Errorf("ParseSeed(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "60", "60;60", "a,1", "1,b", "-1,5", "5,30001", "1,2,3"} {
		if got, err := ParseSeed(in); err == nil {
			t.Errorf("ParseSeed(%q) = %+v, want an error", in, got)
		}
	}
	for s, want := range map[Seed]int{{60, 60}: 18, {1000, 1000}: 300, {1000, 200}: 60, {0, 50}: 0, {3, 3}: 0} {
		if got := s.Overlap(); got != want {
			t.Errorf("%+v.Overlap() = %d, want %d", s, got, want)
		}
	}
}

// sandbox is the sandbox accounts in fresh fakes, as the stack makes them.
func sandbox(t *testing.T) *Stack {
	t.Helper()
	s := &Stack{Google: googlefake.New(), Pipedrive: pipedrivefake.New()}
	t.Cleanup(s.Pipedrive.Close)
	demo, err := s.seedSandbox()
	if err != nil {
		t.Fatal(err)
	}
	s.Endpoints.Demo = demo
	return s
}

// seededBooks is both sides after a seed, as the sync core reads them.
type seededBooks struct {
	persons  map[int64]pipedrive.Person
	contacts map[string]*people.Person
	pd, g    []match.Record
	orgs     map[string]bool // Pipedrive's organizations
}

func readBooks(t *testing.T, s *Stack, sd *Seeded) seededBooks {
	t.Helper()
	m := contact.Mapper{DefaultRegion: "DE"}
	b := seededBooks{persons: map[int64]pipedrive.Person{}, contacts: map[string]*people.Person{}, orgs: map[string]bool{}}
	for _, id := range sd.Persons {
		p, ok := s.Pipedrive.Person(id)
		if !ok || p.IsDeleted || p.OwnerID != s.Endpoints.Demo.PipedriveUserID {
			t.Fatalf("seeded person %d: %+v, %v", id, p, ok)
		}
		org := ""
		if p.OrgID != nil {
			org, _ = s.Pipedrive.OrganizationName(*p.OrgID)
			b.orgs[org] = true
		}
		b.persons[id] = p
		b.pd = append(b.pd, match.Record{ID: fmt.Sprint(id), Contact: m.FromPipedrive(&p, org)})
	}
	members, err := s.Google.GroupMembers(googlefake.DemoUser, s.Endpoints.Demo.GoogleGroup)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(members)
	want := slices.Clone(sd.Contacts)
	slices.Sort(want)
	if !slices.Equal(members, want) {
		t.Fatalf("the group holds %d contacts, %d were seeded", len(members), len(sd.Contacts))
	}
	for _, rn := range sd.Contacts {
		c, err := s.Google.Contact(googlefake.DemoUser, rn)
		if err != nil {
			t.Fatal(err)
		}
		b.contacts[rn] = c
		b.g = append(b.g, match.Record{ID: rn, Contact: m.FromGoogle(c)})
	}
	return b
}

// TestSeedBooks: the seeded people shared by both sides are typed
// differently (e-mail case, phone format) and still match one to one with
// the sync core's matcher; nobody else matches.
func TestSeedBooks(t *testing.T) {
	s := sandbox(t)
	seed := Seed{Persons: 60, Contacts: 50}
	sd, err := seedBooks(s.Google, s.Pipedrive, s.Endpoints.Demo, seed)
	if err != nil {
		t.Fatal(err)
	}
	if sd.Overlap != 15 || len(sd.Persons) != 60 || len(sd.Contacts) != 50 {
		t.Fatalf("seeded %d persons, %d contacts, overlap %d", len(sd.Persons), len(sd.Contacts), sd.Overlap)
	}
	b := readBooks(t, s, sd)

	res := match.Match(b.pd, b.g, nil)
	var pairs []match.Pair
	for i := range sd.Overlap {
		pairs = append(pairs, match.Pair{PipedriveID: fmt.Sprint(sd.Persons[i]), GoogleID: sd.Contacts[i], By: match.ByEmail})
	}
	got := slices.Clone(res.Pairs)
	key := func(p match.Pair) string { return p.PipedriveID + " " + p.GoogleID }
	slices.SortFunc(got, func(a, b match.Pair) int { return strings.Compare(key(a), key(b)) })
	slices.SortFunc(pairs, func(a, b match.Pair) int { return strings.Compare(key(a), key(b)) })
	if !slices.Equal(got, pairs) || len(res.Ambiguous) != 0 || len(res.OnlyPipedrive) != 45 || len(res.OnlyGoogle) != 35 {
		t.Fatalf("matched %v (want %v), %d ambiguous, %d Pipedrive-only, %d Google-only",
			got, pairs, len(res.Ambiguous), len(res.OnlyPipedrive), len(res.OnlyGoogle))
	}

	m := contact.Mapper{DefaultRegion: "DE"}
	phones := 0
	for i := range sd.Overlap {
		p, c := b.persons[sd.Persons[i]], b.contacts[sd.Contacts[i]]
		pe, ge := p.Emails[0].Value, c.EmailAddresses[0].Value
		if pe == ge || !strings.EqualFold(pe, ge) {
			t.Errorf("pair %d: e-mails %q and %q, want the same in different case", i, pe, ge)
		}
		if len(p.Phones) != len(c.PhoneNumbers) {
			t.Fatalf("pair %d: %d phones in Pipedrive, %d in Google", i, len(p.Phones), len(c.PhoneNumbers))
		}
		if len(p.Phones) > 0 {
			pp, gp := p.Phones[0].Value, c.PhoneNumbers[0].Value
			if pp == gp || !strings.HasPrefix(pp, "+49 (0)") || !strings.HasPrefix(gp, "0") || m.PhoneKey(pp) != m.PhoneKey(gp) {
				t.Errorf("pair %d: phones %q and %q, want one number in two formats", i, pp, gp)
			}
			phones++
		}
	}
	if phones == 0 {
		t.Error("no pair has a phone")
	}

	// Organizations: some people have one, and a few of the Google-only
	// contacts work for one that Pipedrive does not know yet.
	withOrg, newOrgs := 0, map[string]bool{}
	for _, c := range b.contacts {
		if len(c.Organizations) > 0 {
			withOrg++
			if !b.orgs[c.Organizations[0].Name] {
				newOrgs[c.Organizations[0].Name] = true
			}
		}
	}
	if withOrg == 0 || withOrg == len(b.contacts) || len(newOrgs) == 0 || len(b.orgs) != sd.Organizations {
		t.Errorf("%d of %d contacts with an organization, %d organizations new to Pipedrive, %d in Pipedrive (reported %d)",
			withOrg, len(b.contacts), len(newOrgs), len(b.orgs), sd.Organizations)
	}
}

// TestSeedIsTheSameEveryRun: people compare runs, so a seed makes the
// same people every time, and different ones for every index.
func TestSeedIsTheSameEveryRun(t *testing.T) {
	seed := Seed{Persons: 40, Contacts: 30}
	var runs [2][]string
	for r := range runs {
		s := sandbox(t)
		sd, err := seedBooks(s.Google, s.Pipedrive, s.Endpoints.Demo, seed)
		if err != nil {
			t.Fatal(err)
		}
		b := readBooks(t, s, sd)
		for _, id := range sd.Persons {
			p := b.persons[id]
			runs[r] = append(runs[r], fmt.Sprintf("%s|%s|%v|%v", p.FirstName, p.LastName, p.Emails, p.Phones))
		}
		for _, rn := range sd.Contacts {
			c := b.contacts[rn]
			runs[r] = append(runs[r], fmt.Sprintf("%s|%s|%s|%v", c.Names[0].GivenName, c.Names[0].FamilyName, c.EmailAddresses[0].Value, len(c.Organizations)))
		}
	}
	if !slices.Equal(runs[0], runs[1]) {
		t.Errorf("two runs of one seed differ:\n%v\n%v", runs[0], runs[1])
	}

	names, emails := map[string]int{}, map[string]int{}
	for i := range 2 * MaxSeed {
		p := seedPersonAt(i, i%2 == 0)
		n, e := strings.ToLower(p.given+" "+p.family), strings.ToLower(p.email)
		if j, ok := names[n]; ok {
			t.Fatalf("people %d and %d are both %q", j, i, n)
		}
		if j, ok := emails[e]; ok {
			t.Fatalf("people %d and %d share an e-mail address", j, i)
		}
		names[n], emails[e] = i, i
	}
}
