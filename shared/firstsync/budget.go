package firstsync

import (
	"math"
	"time"

	"github.com/contactsync/contactsync/shared/google"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/store"
)

// Pipedrive's plans as the burst limit reveals them (facts §5: burst per
// 2 s by plan and token type; daily budget 30,000 × multiplier × seats).
type plan struct {
	Name                  string
	APIToken, OAuth, Mult int
}

var plans = []plan{
	{"lite", 20, 80, 1},
	{"growth", 40, 160, 2},
	{"premium", 100, 400, 5},
	{"ultimate", 120, 480, 7},
}

// dailyBase is the daily budget of one seat on a multiplier-1 plan.
const dailyBase = 30000

// Limits are the quotas a job keeps to.
type Limits struct {
	// Plan is the Pipedrive plan the burst limit says ("" unknown: Lite
	// assumed, the smallest budget).
	Plan string
	// Burst is Pipedrive requests per 2 s for the connection's token.
	Burst int
	// Daily is the company's daily token budget (one seat assumed: the
	// number of seats is not visible to the API; an API token's answers
	// tell what is left, which corrects it); Allowance the share of it a
	// job spends in one day.
	Daily, Allowance int
	// GoogleWrites and GoogleReads are the per-minute quotas.
	GoogleWrites, GoogleReads int
}

// limitsFrom reads the plan from the burst limit of the last answer.
func limitsFrom(rl pipedrive.RateLimit, oauth bool, q google.Quota, base int, share float64) Limits {
	l := Limits{Burst: rl.Limit, GoogleWrites: q.CriticalWritesPerMinute, GoogleReads: q.CriticalReadsPerMinute}
	mult := 1
	for _, p := range plans {
		if lim := p.APIToken; oauth && p.OAuth == rl.Limit || !oauth && lim == rl.Limit {
			l.Plan, mult = p.Name, p.Mult
		}
	}
	if l.Burst <= 0 {
		l.Burst = plans[0].APIToken
		if oauth {
			l.Burst = plans[0].OAuth
		}
	}
	l.Daily = base * mult
	if rl.DailyLeft > l.Daily {
		l.Daily = rl.DailyLeft // more seats than assumed
	}
	l.Allowance = int(math.Floor(float64(l.Daily) * share))
	return l
}

// Estimate is the time the quotas impose on a job of that work, started
// at start: Google's batch calls (6 critical writes each) against the
// per-minute write quota; Pipedrive's requests against the burst window,
// and its tokens against the daily allowance, spent from start and then
// from each day's reset (UTC midnight plus the margin the job waits).
// It is also the quota-bound minimum the benchmark compares with (with
// margin 0): no job can be faster.
func Estimate(l Limits, start time.Time, googleBatches, pdRequests, pdTokens, spentToday int, margin time.Duration) time.Duration {
	// A quota window lets its whole allowance through at once: n calls
	// take (n-1)/allowance whole windows.
	windows := func(n, per int, w time.Duration) time.Duration {
		if n <= 0 || per <= 0 {
			return 0
		}
		return time.Duration((n-1)/per) * w
	}
	g := windows(googleBatches, l.GoogleWrites/batchWrites, time.Minute)
	p := windows(pdRequests, l.Burst, 2*time.Second)
	if l.Allowance > 0 && pdTokens > 0 && pdRequests > 0 {
		left := max(l.Allowance-spentToday, 0)
		at, tokens := start, pdTokens
		for tokens > left {
			tokens -= left
			at = nextReset(at).Add(margin)
			left = l.Allowance
		}
		// the last day's share of the requests, at the burst rate
		last := (pdRequests*tokens + pdTokens - 1) / pdTokens
		if d := at.Sub(start) + windows(last, l.Burst, 2*time.Second); d > p {
			p = d
		}
	}
	return max(g, p)
}

// batchWrites is the critical-write cost of one batch call (facts §4).
const batchWrites = 6

// nextReset is the next UTC midnight after t: when Pipedrive resets the
// daily budget (PRL: "server midnight"; the zone is undocumented, UTC is
// assumed as in pipedrive.DailyBudgetRetryAt).
func nextReset(t time.Time) time.Time {
	u := t.UTC()
	return time.Date(u.Year(), u.Month(), u.Day()+1, 0, 0, 0, 0, time.UTC)
}

// spendDay returns fs's spend for the UTC day of now (0 on a new day).
func spendDay(fs *store.FirstSync, now time.Time) int {
	day := now.UTC().Truncate(24 * time.Hour)
	if !fs.SpentDay.Equal(day) {
		return 0
	}
	return fs.PipedriveSpent
}

// charge records tokens spent now.
func charge(fs *store.FirstSync, tokens int, now time.Time) {
	day := now.UTC().Truncate(24 * time.Hour)
	if !fs.SpentDay.Equal(day) {
		fs.SpentDay, fs.PipedriveSpent = day, 0
	}
	fs.PipedriveSpent += tokens
}

// reserve takes up to want tokens of today's allowance for a chunk, in
// whole writes of cost each, and returns how many writes it may make (0:
// the chain waits for the next day).
func reserve(fs *store.FirstSync, l Limits, writes, cost int, now time.Time) int {
	left := l.Allowance - spendDay(fs, now)
	n := min(writes, max(left, 0)/cost)
	if n > 0 {
		charge(fs, n*cost, now)
	}
	return n
}

// preview renders the plan's counts for the user, with the work's cost
// and the time the quotas impose.
func (r *Runner) preview(p Plan, l *listing, orgs []string, lim Limits) *store.Preview {
	c := p.Counts
	pv := &store.Preview{
		PipedriveListed: c.PipedriveListed, GoogleListed: c.GoogleListed, OutsideGroup: l.outsideGroup,
		CreateInGoogle: c.CreateInGoogle, CreateInPipedrive: c.CreateInPipedrive,
		Matched: c.Matched, MatchedBy: c.MatchedBy, AlreadyLinked: c.AlreadyLinked,
		UpdateInGoogle: c.UpdateInGoogle, UpdateInPipedrive: c.UpdateInPipedrive,
		Conflicts: c.Conflicts, Ambiguous: c.Ambiguous, Missing: c.Missing, OrgsToCreate: len(orgs),
		PipedrivePlan: lim.Plan,
	}
	names := l.names()
	for _, cf := range c.ConflictSample {
		pv.ConflictSample = append(pv.ConflictSample, store.PreviewConflict{Name: names["p"+cf.PID],
			Field: cf.Field, Pipedrive: cf.Pipedrive, Google: cf.Google, Winner: string(cf.Winner)})
	}
	for _, rv := range c.AmbiguousSample {
		a := store.PreviewAmbiguous{By: rv.By}
		for _, id := range rv.Persons {
			a.Pipedrive = append(a.Pipedrive, names["p"+id])
		}
		for _, id := range rv.Contacts {
			a.Google = append(a.Google, names["g"+id])
		}
		pv.AmbiguousSample = append(pv.AmbiguousSample, a)
	}
	batches := ceilDiv(c.CreateInGoogle, r.cfg.GoogleChunk) + ceilDiv(c.UpdateInGoogle, r.cfg.GoogleChunk)
	pdRequests := c.CreateInPipedrive + 2*c.UpdateInPipedrive + len(orgs)
	work := (c.CreateInPipedrive+len(orgs))*costWrite + c.UpdateInPipedrive*costPairWrite
	pv.GoogleBatches, pv.PipedriveTokens = batches, work+l.tokens
	now := r.now()
	est := Estimate(lim, now, batches, pdRequests, work, l.tokens, pipedrive.DailyBudgetMargin)
	pv.EstimateSeconds = est.Seconds()
	pv.EstimateDays = int(now.Add(est).UTC().Truncate(24*time.Hour).Sub(now.UTC().Truncate(24*time.Hour)) / (24 * time.Hour))
	return pv
}

func ceilDiv(a, b int) int {
	if b <= 0 {
		return 0
	}
	return (a + b - 1) / b
}
