package applier_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/queue"
)

// burstEvent is an edit in Pipedrive or a delivery of a change message.
type burstEvent struct {
	at   time.Time
	edit bool
	pid  string
	seq  int // edit number (edits), order of publication (deliveries)
}

// BenchmarkBurst replays the burst of the issue "never lose a change": 200
// real edits of 40 synced persons made over a minute, each followed by its
// webhook and nine more deliveries (Pipedrive's retries after 3, 30 and 150
// s, duplicates, older events of other persons arriving late): 2,000
// deliveries, applied one at a time as the connection's ordering key hands
// them over, against Google's real per-user quotas (in the fake and in the
// client) in virtual time. It prints Google reads and writes per real edit,
// the 429s seen, the time to converge and its ratio to the quota-bound
// time of the 200 edits, and fails when a target is missed.
//
//	go run ./scripts/withemulators -- go test -run '^$' -bench Burst -benchtime 1x ./shared/applier/
func BenchmarkBurst(b *testing.B) {
	const persons, edits, perEdit = 40, 200, 10
	for i := 0; i < b.N; i++ {
		e := newEnv(b, envOptions{quotas: true})
		pids, rns := e.syncedMany(persons)
		e.advance(2 * time.Minute) // setup's quota windows are over
		e.g.ResetStats()
		start := e.clock()

		r := rand.New(rand.NewPCG(uint64(i)+1, 7))
		var events []burstEvent
		retries := []time.Duration{0, 3 * time.Second, 30 * time.Second, 150 * time.Second}
		for k := range edits {
			at := start.Add(time.Duration(k) * 300 * time.Millisecond)
			pid := pids[r.IntN(persons)]
			events = append(events, burstEvent{at: at, edit: true, pid: pid, seq: k})
			for j := range perEdit {
				switch {
				case j < len(retries): // the webhook and Pipedrive's retries
					events = append(events, burstEvent{at: at.Add(retries[j]), pid: pid})
				default: // late or duplicated events of other persons
					events = append(events, burstEvent{at: at.Add(time.Duration(r.IntN(20)) * time.Second), pid: pids[r.IntN(persons)]})
				}
			}
		}
		sort.SliceStable(events, func(a, c int) bool { return events[a].at.Before(events[c].at) })

		// One worker: Pub/Sub hands the connection's next message over only
		// when the previous one is acknowledged. Edits happen at their time
		// whether or not the worker keeps up.
		var queueOf []burstEvent
		delivered := 0
		next := 0
		for next < len(events) || len(queueOf) > 0 {
			now := e.clock()
			for next < len(events) && !events[next].at.After(now) {
				if ev := events[next]; ev.edit {
					e.pdEdit(ev.pid, pipedrive.PersonInput{Name: ptr(fmt.Sprintf("Burst Edit%d", ev.seq))})
				} else {
					queueOf = append(queueOf, ev)
				}
				next++
			}
			if len(queueOf) == 0 {
				e.vclock.Set(events[next].at)
				continue
			}
			ev := queueOf[0]
			queueOf = queueOf[1:]
			if err := e.deliver(pd, ev.pid, queue.Upsert); err != nil {
				b.Fatalf("delivery %d: %v", delivered, err)
			}
			delivered++
		}
		took := e.clock().Sub(start)

		for j, pid := range pids {
			p, _ := e.pdPerson(pid)
			gp, _ := e.gContact(rns[j])
			if got := gp.Names[0].DisplayName; !strings.EqualFold(got, p.Name) {
				b.Fatalf("not converged: Pipedrive %q, Google %q", p.Name, got)
			}
		}
		st := e.gStats()
		reads, writes := st.TotalCalls()-st.Writes, st.Writes
		readsPerEdit, writesPerEdit := float64(reads)/edits, float64(writes)/edits
		// The quota-bound time of the 200 edits, each a read and an update
		// (1 critical read; 1 critical read and 1 critical write): the
		// per-minute quotas allow the last call in the minute after
		// ceil(calls/quota)-1 full minutes.
		q := googlefake.DefaultQuota
		bound := time.Duration(max(
			math.Ceil(float64(2*edits)/float64(q.CriticalReadsPerMinute))-1,
			math.Ceil(float64(edits)/float64(q.CriticalWritesPerMinute))-1)) * time.Minute
		ratio := took.Seconds() / bound.Seconds()
		met := readsPerEdit <= 1 && writesPerEdit <= 1 && st.RateLimited == 0 && ratio <= 1
		b.ReportMetric(readsPerEdit, "google-reads/edit")
		b.ReportMetric(writesPerEdit, "google-writes/edit")
		b.ReportMetric(float64(st.RateLimited), "429s")
		b.ReportMetric(took.Seconds(), "converge-s")
		b.ReportMetric(ratio, "ratio-to-quota-bound")
		fmt.Printf("burst: deliveries=%d real_edits=%d google_reads_per_edit=%.2f google_writes_per_edit=%.2f 429s=%d converged_in=%v quota_bound=%v ratio=%.2f target(reads<=1 writes<=1 429s=0 ratio<=1) met=%v\n",
			delivered, edits, readsPerEdit, writesPerEdit, st.RateLimited, took.Round(time.Second), bound, ratio, met)
		if !met {
			b.Errorf("burst targets missed")
		}
	}
}
