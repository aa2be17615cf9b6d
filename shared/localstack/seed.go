package localstack

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/pipedrive/pipedrivefake"
)

// Seed fills both sandbox accounts before anyone connects them
// (scripts/dev --seed N,M), so the first sync has address books to bring
// together, as a real user's would: Persons Pipedrive persons owned by
// the sandbox user and Contacts Google contacts in the sandbox user's
// "Pipedrive" group, Overlap() of them the same people on both sides.
// The records are the same on every run, so runs can be compared.
type Seed struct {
	Persons, Contacts int
}

// MaxSeed bounds each side of a seed: the fakes hold everything in memory,
// and the generated names stay distinct up to 2 × MaxSeed people.
const MaxSeed = 30000

// Overlap is how many people are on both sides: 30 % of the smaller side,
// about what a salesperson's CRM and phone book share.
func (s Seed) Overlap() int { return min(s.Persons, s.Contacts) * 3 / 10 }

// Empty reports whether the seed adds nothing.
func (s Seed) Empty() bool { return s.Persons == 0 && s.Contacts == 0 }

// ParseSeed reads "N,M": N Pipedrive persons, M Google contacts.
func ParseSeed(v string) (Seed, error) {
	n, m, ok := strings.Cut(v, ",")
	if !ok {
		return Seed{}, fmt.Errorf("seed %q: want N,M (Pipedrive persons, Google contacts), e.g. 1000,1000", v)
	}
	var s Seed
	var err error
	if s.Persons, err = seedCount(n); err == nil {
		s.Contacts, err = seedCount(m)
	}
	if err != nil {
		return Seed{}, fmt.Errorf("seed %q: %w", v, err)
	}
	return s, nil
}

func seedCount(v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 || n > MaxSeed {
		return 0, fmt.Errorf("%q is not a count from 0 to %d", v, MaxSeed)
	}
	return n, nil
}

// Seeded is what a Seed put in the sandbox accounts.
type Seeded struct {
	Seed
	// Persons are the Pipedrive person ids and Contacts the Google
	// resource names; the first Overlap of each are the same people, in
	// the same order.
	Persons  []int64
	Contacts []string
	Overlap  int
	// Organizations were created in Pipedrive for the seeded persons; the
	// Google contacts also name a few that Pipedrive does not have yet.
	Organizations int
}

// seedBooks puts seed in the sandbox accounts of demo through the fakes'
// own seeding helpers: no API call, so no quota is spent and no webhook
// fires. People 0 … Overlap−1 are on both sides, then come the
// Pipedrive-only persons, then the Google-only contacts.
func seedBooks(g *googlefake.Server, pd *pipedrivefake.Server, demo *Demo, seed Seed) (*Seeded, error) {
	if seed.Persons < 0 || seed.Contacts < 0 || seed.Persons > MaxSeed || seed.Contacts > MaxSeed {
		return nil, fmt.Errorf("localstack: seed %d,%d: each side must be 0 to %d", seed.Persons, seed.Contacts, MaxSeed)
	}
	out := &Seeded{Seed: seed, Overlap: seed.Overlap()}
	orgs := map[string]int64{}
	for i := range seed.Persons {
		id, err := seedPerson(pd, demo.PipedriveUserID, orgs, seedPersonAt(i, false), i < out.Overlap)
		if err != nil {
			return nil, fmt.Errorf("localstack: seed Pipedrive person %d: %w", i, err)
		}
		out.Persons = append(out.Persons, id)
	}
	out.Organizations = len(orgs)
	for j := range seed.Contacts {
		// The Google-only contacts follow the Pipedrive-only persons.
		i := j
		if j >= out.Overlap {
			i = seed.Persons + j - out.Overlap
		}
		rn, err := seedContact(g, demo, seedPersonAt(i, j >= out.Overlap))
		if err != nil {
			return nil, fmt.Errorf("localstack: seed Google contact %d: %w", j, err)
		}
		out.Contacts = append(out.Contacts, rn)
	}
	return out, nil
}

// seedPerson creates one Pipedrive person. On the people both sides share,
// the e-mail is typed with capitals and the phone in the international
// form with the trunk zero, as CRMs often hold them: the first sync must
// still see the Google contact as the same person.
func seedPerson(pd *pipedrivefake.Server, user int64, orgs map[string]int64, p seedRecord, shared bool) (int64, error) {
	email := p.email
	if shared {
		email = p.emailCapitalized()
	}
	in := pipedrive.PersonInput{FirstName: &p.given, LastName: &p.family,
		Emails: &[]pipedrive.Field{{Value: email, Label: "work", Primary: true}}}
	if p.phone != "" {
		in.Phones = &[]pipedrive.Field{{Value: p.phoneIntl(), Label: p.phoneLabel, Primary: true}}
	}
	if p.org != "" {
		id, ok := orgs[p.org]
		if !ok {
			var err error
			if id, err = pd.AddOrganization(user, p.org); err != nil {
				return 0, err
			}
			orgs[p.org] = id
		}
		in.SetOrg, in.OrgID = true, &id
	}
	return pd.SeedPerson(user, in)
}

// seedContact creates one Google contact in the group (and in My
// Contacts, where the Contacts app puts every contact it creates).
func seedContact(g *googlefake.Server, demo *Demo, p seedRecord) (string, error) {
	c := &people.Person{
		Names:          []*people.Name{{GivenName: p.given, FamilyName: p.family}},
		EmailAddresses: []*people.EmailAddress{{Value: p.email, Type: "work"}},
		Memberships: []*people.Membership{
			{ContactGroupMembership: &people.ContactGroupMembership{ContactGroupResourceName: "contactGroups/myContacts"}},
			{ContactGroupMembership: &people.ContactGroupMembership{ContactGroupResourceName: demo.GoogleGroup}},
		},
	}
	if p.phone != "" {
		c.PhoneNumbers = []*people.PhoneNumber{{Value: p.phoneNational(), Type: p.phoneLabel}}
	}
	if p.org != "" {
		c.Organizations = []*people.Organization{{Name: p.org}}
	}
	out, err := g.SeedContact(demo.GoogleUser, c)
	if err != nil {
		return "", err
	}
	return out.ResourceName, nil
}

// seedRecord is one generated person.
type seedRecord struct {
	given, family, org string
	email              string // lower case
	// phone is the national number without the trunk zero ("30 20000001"),
	// empty for people without one.
	phone, phoneLabel string
}

// seedOrgs are the organizations of the seeded people. The last
// seedGoogleOnlyOrgs appear only on Google-only contacts, so the first
// sync also creates organizations in Pipedrive.
var seedOrgs = []struct{ name, domain string }{
	{"Nordlicht Logistik GmbH", "nordlicht-logistik.example"},
	{"Bäckerei Sonnenschein", "baeckerei-sonnenschein.example"},
	{"Havelblick Immobilien AG", "havelblick.example"},
	{"Spreewerk Software GmbH", "spreewerk.example"},
	{"Kranich Reisen KG", "kranich-reisen.example"},
	{"Ostsee Solar GmbH", "ostsee-solar.example"},
	{"Müller & Partner Steuerberatung", "mueller-partner.example"},
	{"Lindenhof Hotels", "lindenhof-hotels.example"},
	{"Atlas Maschinenbau GmbH", "atlas-maschinenbau.example"},
	{"Blau Medien GmbH", "blau-medien.example"},
	{"Tegel Druck & Verlag", "tegel-druck.example"},
	{"Ring Elektro GmbH", "ring-elektro.example"},
	{"Polar Kältetechnik GmbH", "polar-kaelte.example"},
	{"Eichhorn Architekten", "eichhorn-architekten.example"},
	{"Brandenburger Biohof", "biohof-brandenburg.example"},
}

const seedGoogleOnlyOrgs = 2

var (
	seedGiven = []string{"Anna", "Jürgen", "Fatma", "Lukas", "Sophie", "Mehmet", "Claire", "Tobias", "Ines", "Piotr",
		"Lena", "Karl", "Aylin", "Jonas", "Marta", "Felix", "Zoë", "Henrik", "Leonie", "Dmitri",
		"Greta", "Paul", "Sara", "Ole", "Hanna", "Emre", "Julia", "Moritz", "Élodie", "Niklas",
		"Katarzyna", "Ben", "Maja", "Stefan", "Ida", "Rafael", "Clara", "Tim", "Nora", "Yusuf"}
	seedFamily = []string{"Schmidt", "Müller", "Yılmaz", "Weber", "Nowak", "Becker", "Hoffmann", "Schäfer", "Koch", "Richter",
		"Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann",
		"Lange", "Schmitt", "Werner", "Krause", "Meier", "Lehmann", "Köhler", "Herrmann", "König", "Walter",
		"Kaya", "Dubois", "Peters", "Jansen", "Kowalski", "Fischer", "Vogel", "Friedrich", "Keller", "Günther"}
)

// seedPersonAt is person i, the same on every run. Names (and so e-mail
// addresses) are distinct for every i below 2 × MaxSeed: a double family
// name once the plain ones are used up (40 × 40 × 41 names). So only the
// people meant to be the same can match, by e-mail, phone or name.
func seedPersonAt(i int, googleOnly bool) seedRecord {
	nf, nl := len(seedGiven), len(seedFamily)
	p := seedRecord{given: seedGiven[i%nf], family: seedFamily[(i/nf)%nl]}
	if tier := i / (nf * nl); tier > 0 {
		p.family += "-" + seedFamily[(tier-1)%nl]
	}
	domain := "posteo.example"
	if i%4 != 3 { // three in four work for an organization
		orgs := seedOrgs[:len(seedOrgs)-seedGoogleOnlyOrgs]
		if googleOnly {
			orgs = seedOrgs
		}
		o := orgs[i%len(orgs)]
		p.org, domain = o.name, o.domain
	}
	p.email = ascii(p.given) + "." + ascii(p.family) + "@" + domain
	switch i % 5 {
	case 4: // no phone
	case 1, 3:
		p.phone, p.phoneLabel = fmt.Sprintf("151 %08d", 20000000+i), "mobile"
	default:
		p.phone, p.phoneLabel = fmt.Sprintf("30 %08d", 20000000+i), "work"
	}
	return p
}

// emailCapitalized is the e-mail as typed with capitals
// ("Anna.Schmidt@Nordlicht-Logistik.example").
func (p seedRecord) emailCapitalized() string {
	var b strings.Builder
	up := true
	for _, r := range p.email {
		if up {
			b.WriteString(strings.ToUpper(string(r)))
		} else {
			b.WriteRune(r)
		}
		up = r == '.' || r == '@' || r == '-'
	}
	return b.String()
}

// phoneIntl is the phone in the international form with the trunk zero in
// brackets ("+49 (0)30 2000 0001"), phoneNational as dialled in Germany
// ("030 20000001").
func (p seedRecord) phoneIntl() string {
	area, sub, _ := strings.Cut(p.phone, " ")
	return "+49 (0)" + area + " " + sub[:4] + " " + sub[4:]
}

func (p seedRecord) phoneNational() string { return "0" + p.phone }

// ascii spells a name for an e-mail address (ü → ue, é → e, ı → i).
func ascii(s string) string { return strings.ToLower(asciiNames.Replace(s)) }

var asciiNames = strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "ß", "ss", "Ä", "Ae", "Ö", "Oe", "Ü", "Ue",
	"é", "e", "É", "E", "ë", "e", "ı", "i", "ł", "l", "ś", "s", "ń", "n")

// errSeedWithDemo: the demo connection would sync the seeded books while
// the stack starts, and the point of seeding is to connect them yourself.
var errSeedWithDemo = errors.New("localstack: a seed is for a connection you make yourself: start without the demo connection (--no-demo)")
