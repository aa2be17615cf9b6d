package applier_test

import (
	"fmt"
	"testing"

	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/queue"
)

// BenchmarkApply applies changes against the Firestore emulator and the
// fakes and reports, per applied change, the Firestore document reads and
// writes (counted on the gRPC connection as Firestore bills them), the
// Google People API reads and writes (the fake's counters) and the
// Pipedrive API calls. It fails when a SPEC section 7 target is missed:
// at most 3 Firestore reads and 2 writes per change; an echo costs zero
// API writes; one Pipedrive edit costs at most one Google read and write.
//
//	go run ./scripts/withemulators -- go test -run '^$' -bench Apply ./shared/applier/
func BenchmarkApply(b *testing.B) {
	type tc struct {
		name string
		// setup prepares the env; step makes one change (outside the
		// counters: UI edits are not API traffic) and returns what to apply.
		setup func(e *env)
		step  func(e *env, i int) (queue.Side, string)
		// maxGReads, maxGWrites: -1 = not checked
		maxGReads, maxGWrites int
		echo                  bool
	}
	var pid, rn string
	cases := []tc{
		{
			name:  "pipedrive-edit",
			setup: func(e *env) { pid, _ = e.ada() },
			step: func(e *env, i int) (queue.Side, string) {
				e.pdEdit(pid, pipedrive.PersonInput{Name: ptr(fmt.Sprintf("Ada King%d", i))})
				return pd, pid
			},
			maxGReads: 1, maxGWrites: 1,
		},
		{
			name:  "google-echo",
			setup: func(e *env) { _, rn = e.ada() },
			step:  func(e *env, i int) (queue.Side, string) { return gg, rn },
			echo:  true, maxGReads: -1, maxGWrites: 0,
		},
		{
			name:  "pipedrive-echo",
			setup: func(e *env) { pid, _ = e.ada() },
			step:  func(e *env, i int) (queue.Side, string) { return pd, pid },
			echo:  true, maxGReads: -1, maxGWrites: 0,
		},
		{
			name:  "google-edit",
			setup: func(e *env) { _, rn = e.ada() },
			step: func(e *env, i int) (queue.Side, string) {
				if _, err := e.g.EditContact(googlefake.DemoUser, rn, func(p *people.Person) {
					p.Names[0].FamilyName = fmt.Sprintf("King%d", i)
				}); err != nil {
					e.t.Fatal(err)
				}
				return gg, rn
			},
			maxGReads: -1, maxGWrites: 0,
		},
		{
			name:  "pipedrive-create",
			setup: warm,
			step: func(e *env, i int) (queue.Side, string) {
				return pd, e.pdAdd(pipedrive.PersonInput{Name: ptr(fmt.Sprintf("Person %d", i)), Emails: emails(fmt.Sprintf("p%d@example.com", i))})
			},
			maxGReads: -1, maxGWrites: 1,
		},
		{
			name:  "google-create",
			setup: warm,
			step: func(e *env, i int) (queue.Side, string) {
				return gg, e.gSeed(&people.Person{Names: []*people.Name{{GivenName: "Contact", FamilyName: fmt.Sprint(i)}},
					EmailAddresses: []*people.EmailAddress{{Value: fmt.Sprintf("g%d@example.com", i)}}})
			},
			maxGReads: -1, maxGWrites: 0,
		},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			e := newEnv(b, envOptions{})
			c.setup(e)
			var total traffic
			i := 0
			for ; b.Loop(); i++ {
				side, id := c.step(e, i)
				before := e.traffic()
				e.apply(side, id, queue.Upsert)
				d := e.traffic().sub(before)
				total = traffic{total.fsReads + d.fsReads, total.fsWrites + d.fsWrites, total.gReads + d.gReads,
					total.gWrites + d.gWrites, total.pCall + d.pCall, total.pWrites + d.pWrites}
				if d.fsReads > 3 || d.fsWrites > 2 {
					b.Errorf("change %d: %d Firestore reads, %d writes; budget 3 and 2", i, d.fsReads, d.fsWrites)
				}
				if c.maxGReads >= 0 && d.gReads > c.maxGReads || c.maxGWrites >= 0 && d.gWrites > c.maxGWrites {
					b.Errorf("change %d: %d Google reads, %d writes; want ≤ %d and ≤ %d", i, d.gReads, d.gWrites, c.maxGReads, c.maxGWrites)
				}
				if c.echo && d.gWrites+d.pWrites != 0 {
					b.Errorf("echo %d wrote %d to Google and %d to Pipedrive", i, d.gWrites, d.pWrites)
				}
			}
			n := float64(max(i, 1))
			b.ReportMetric(float64(total.fsReads)/n, "fs-reads/op")
			b.ReportMetric(float64(total.fsWrites)/n, "fs-writes/op")
			b.ReportMetric(float64(total.gReads)/n, "google-reads/op")
			b.ReportMetric(float64(total.gWrites)/n, "google-writes/op")
			b.ReportMetric(float64(total.pCall)/n, "pipedrive-calls/op")
			b.ReportMetric(float64(total.pWrites)/n, "pipedrive-writes/op")
		})
	}
}

// warm makes the first measured change find the connection's clients open
// and this instance holding the user's Google pacing, as every change after
// an instance's first does: opening the clients reads the two sealed
// credentials, and taking over the pacing writes one field, once per
// instance and connection.
func warm(e *env) {
	e.apply(pd, "999999999", queue.Upsert)
	e.apply(gg, "people/c999999999", queue.Upsert)
}
