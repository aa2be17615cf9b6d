package settings

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/contactsync/contactsync/shared/match"
	"github.com/contactsync/contactsync/shared/store"
)

// The first sync as the page shows it, from what the job keeps on the
// connection document (store.FirstSync): the preview before Save, the
// progress while the first sync (or a full reconcile) runs, and what it did
// once finished. Nothing is read beyond the connection: the page refreshes
// itself while a job runs and stays cheap. Names and values in the
// preview's samples are the owner's own data; they go to the owner's page
// only, never to a log.

// previewStalled is how long a preview may list before the page stops
// waiting for it (its step was lost, or its function gave up): the user can
// start another.
const previewStalled = 15 * time.Minute

// Bounds of the preview's samples on the page.
const (
	maxConflictsShown = 10
	maxAmbiguousShown = 5
	maxNamesShown     = 6
)

// fillFirstSync fills the preview (setup only), the progress (while the
// connection is in its first sync or a reconcile) or the finished job's
// line.
func (h *Handler) fillFirstSync(c *store.Connection, v *connView) {
	fs := c.FirstSync
	if fs == nil {
		return
	}
	lang, now := v.lang, h.now()
	switch {
	case fs.Mode == store.FirstSyncPreview:
		if v.Setup {
			v.Preview = previewView(lang, fs, now)
		}
	case v.State.Kind == "first_sync":
		switch fs.Phase {
		case store.PhaseListing, store.PhaseWriting, store.PhaseWaiting:
			v.Progress = progressView(lang, fs, now)
			if fs.Mode == store.FirstSyncRun {
				// The job counts its links once a chunk is through; every
				// link of a connection in its first sync is one it wrote.
				v.Progress.LinksDone = max(v.Progress.LinksDone, min(v.Linked, v.Progress.LinksTotal))
			}
			if v.Progress.Reconcile {
				v.State.Title, v.State.ToDo = tr(lang, "reconcile.title"), tr(lang, "reconcile.todo")
			}
		}
	case fs.Phase == store.PhaseDone && fs.Preview != nil && !fs.FinishedAt.IsZero() && !v.Setup:
		v.Finished = finishedView(lang, fs)
	}
}

// previewView is a preview job in words: being prepared, failed, or its
// counts (nil for a job in no phase a preview has).
func previewView(lang string, fs *store.FirstSync, now time.Time) *FirstSyncPreview {
	p := &FirstSyncPreview{At: fs.FinishedAt}
	switch fs.Phase {
	case store.PhaseListing:
		if now.Sub(fs.StartedAt) < previewStalled {
			p.Running = true
		} else {
			p.Failed = shown{Text: tr(lang, "preview.stalled")}
		}
		return p
	case store.PhaseFailed:
		p.Failed = shown{Text: tr(lang, "preview.stalled")}
		if fs.Reason != "" {
			p.Failed = storedText(fs.Reason).in(lang)
		}
		return p
	case store.PhasePreview:
	default:
		return nil
	}
	pv := fs.Preview
	if pv == nil {
		return nil
	}
	n := func(i int) int64 { return int64(i) }
	p.PipedriveListed, p.GoogleListed = n(pv.PipedriveListed), n(pv.GoogleListed)
	p.ToGoogle, p.ToPipedrive = n(pv.CreateInGoogle), n(pv.CreateInPipedrive)
	p.Matched, p.MatchedBy = n(pv.Matched), matchedBy(lang, pv.MatchedBy)
	p.AlreadyLinked = n(pv.AlreadyLinked)
	p.UpdateGoogle, p.UpdatePipedrive = n(pv.UpdateInGoogle), n(pv.UpdateInPipedrive)
	p.Conflicts, p.Ambiguous = n(pv.Conflicts), n(pv.Ambiguous)
	p.OutsideGroup, p.Missing, p.OrgsToCreate = n(pv.OutsideGroup), n(pv.Missing), n(pv.OrgsToCreate)
	for _, cf := range pv.ConflictSample[:min(len(pv.ConflictSample), maxConflictsShown)] {
		p.ConflictSample = append(p.ConflictSample, PreviewConflict{
			Name:   nameOr(lang, cf.Name),
			Text:   tr(lang, "preview.conflict", conflictField(lang, cf.Field), valueOr(lang, cf.Pipedrive), valueOr(lang, cf.Google)),
			Winner: winnerText(lang, cf.Winner),
		})
	}
	p.ConflictsMore = max(0, p.Conflicts-int64(len(p.ConflictSample)))
	for _, a := range pv.AmbiguousSample[:min(len(pv.AmbiguousSample), maxAmbiguousShown)] {
		p.AmbiguousSample = append(p.AmbiguousSample, PreviewAmbiguous{
			Text: tr(lang, "preview.ambiguous_group", ruleText(lang, "same", a.By), names(lang, a.Pipedrive), names(lang, a.Google)),
		})
	}
	p.Estimate = time.Duration(pv.EstimateSeconds * float64(time.Second))
	p.EstimateText = durationText(lang, p.Estimate)
	if budgetBinds(pv) {
		p.Budget = tr(lang, "preview.budget", pv.PipedriveTokens)
	}
	p.Plan = tr(lang, "preview.plan_unknown")
	if pv.PipedrivePlan != "" {
		p.Plan = tr(lang, "preview.plan", planName(pv.PipedrivePlan))
	}
	return p
}

// budgetBinds says the estimate runs past one of Pipedrive's daily resets:
// the job takes more than the share of the daily budget it may spend in a
// day. (The preview does not store the allowance; crossing a reset is
// what the estimate counts. A short job that happens to straddle midnight
// UTC would be said to wait for the reset too; the estimate's own time is
// right either way.)
func budgetBinds(pv *store.Preview) bool {
	return pv.EstimateDays > 0 && pv.PipedriveTokens > 0
}

// progressView is a running first sync or reconcile in words.
func progressView(lang string, fs *store.FirstSync, now time.Time) *FirstSyncProgress {
	n := func(i int) int64 { return int64(i) }
	p := &FirstSyncProgress{
		Reconcile: fs.Mode == store.FirstSyncReconcile, Phase: fs.Phase, Title: tr(lang, "progress."+fs.Phase),
		PipedriveDone: n(fs.PipedriveDone), PipedriveTotal: n(fs.PipedriveTotal),
		GoogleDone: n(fs.GoogleDone), GoogleTotal: n(fs.GoogleTotal),
		LinksDone: n(fs.LinksDone), LinksTotal: n(fs.LinksTotal),
	}
	if fs.Phase == store.PhaseWaiting {
		p.ResumeAt = fs.ResumeAt
		if fs.Reason != "" {
			p.Reason = storedText(fs.Reason).in(lang)
		}
	}
	if fs.Rate > 0 {
		p.PerMinute = int64(math.Round(fs.Rate))
	}
	if fs.Phase != store.PhaseListing && !fs.ETA.IsZero() {
		p.Left = fs.ETA.Sub(now)
		// Past the estimate, what is left at the rate measured so far.
		if left := fs.PipedriveTotal - fs.PipedriveDone + fs.GoogleTotal - fs.GoogleDone; p.Left <= 0 && left > 0 && fs.Rate > 0 {
			p.Left = time.Duration(float64(left) / fs.Rate * float64(time.Minute))
		}
		if p.Left > 0 {
			p.LeftText = tr(lang, "progress.left", durationText(lang, p.Left))
		} else {
			p.Left = 0
		}
	}
	return p
}

// finishedView is what a finished first sync or reconcile did, from the
// counts it planned.
func finishedView(lang string, fs *store.FirstSync) *FirstSyncDone {
	pv := fs.Preview
	d := &FirstSyncDone{At: fs.FinishedAt, Title: tr(lang, "finished.first")}
	if fs.Mode == store.FirstSyncReconcile {
		d.Title = tr(lang, "finished.reconcile")
	}
	d.Text = tr(lang, "finished.counts", pv.CreateInGoogle, pv.CreateInPipedrive, pv.Matched, trN(lang, "finished.held", int64(pv.Ambiguous)))
	return d
}

// durationText says d in words, rounded as a person would: minutes under an
// hour, tens of minutes under a day, hours beyond ("about 1 day and 3
// hours").
func durationText(lang string, d time.Duration) string {
	const day = 24 * time.Hour
	if d < time.Minute {
		return tr(lang, "duration.under_minute")
	}
	var parts []string
	switch r := d.Round(10 * time.Minute); {
	case d < time.Hour:
		parts = append(parts, trN(lang, "unit.minutes", int64((d+time.Minute-1)/time.Minute)))
	case r < day:
		parts = append(parts, trN(lang, "unit.hours", int64(r/time.Hour)))
		if m := int64(r % time.Hour / time.Minute); m > 0 {
			parts = append(parts, trN(lang, "unit.minutes", m))
		}
	default:
		r = d.Round(time.Hour)
		parts = append(parts, trN(lang, "unit.days", int64(r/day)))
		if h := int64(r % day / time.Hour); h > 0 {
			parts = append(parts, trN(lang, "unit.hours", h))
		}
	}
	s := parts[0]
	if len(parts) == 2 {
		s = tr(lang, "duration.and", parts[0], parts[1])
	}
	return tr(lang, "duration.about", s)
}

// matchedBy says how many twins each rule found, in the rules' order.
func matchedBy(lang string, by map[string]int) string {
	var rules []string
	for _, r := range match.Rules {
		rules = append(rules, string(r))
	}
	var others []string
	for r := range by {
		if !slices.Contains(rules, r) {
			others = append(others, r)
		}
	}
	slices.Sort(others)
	var out []string
	for _, r := range append(rules, others...) {
		if n := by[r]; n > 0 {
			out = append(out, trN(lang, "preview.matched_by", int64(n), ruleText(lang, "by", r)))
		}
	}
	return strings.Join(out, ", ")
}

// ruleText names a matching rule as the words of form say it: "by" (by
// e-mail address) or "same" (Same e-mail address); an unknown rule as
// written.
func ruleText(lang, form, rule string) string {
	key := "rule." + form + "." + strings.ReplaceAll(rule, "+", "_")
	if _, ok := catalog[langEN][key]; ok {
		return tr(lang, key)
	}
	return rule
}

// conflictField names a conflict's field: "first name", "label of
// ada@example.com (e-mail addresses)", "which of the phone numbers is the
// main one".
func conflictField(lang, f string) string {
	if i, j := strings.Index(f, "["), strings.LastIndex(f, "]"); i > 0 && j > i {
		return tr(lang, "preview.field.label", f[i+1:j], fieldNames(lang, []string{f[:i]}))
	}
	if name, ok := strings.CutSuffix(f, ".primary"); ok {
		return tr(lang, "preview.field.primary", fieldNames(lang, []string{name}))
	}
	return fieldNames(lang, []string{f})
}

// winnerText says which side's value a conflict keeps.
func winnerText(lang, side string) string {
	switch side {
	case "pipedrive", "google":
		return tr(lang, "preview.winner."+side)
	}
	return ""
}

func valueOr(lang, v string) string {
	if strings.TrimSpace(v) == "" {
		return tr(lang, "preview.empty")
	}
	return v
}

func nameOr(lang, name string) string {
	if strings.TrimSpace(name) == "" {
		return tr(lang, "review.no_name")
	}
	return name
}

// names lists the names of a group's records (the first few).
func names(lang string, ns []string) string {
	if len(ns) == 0 {
		return "–"
	}
	out := make([]string, 0, min(len(ns), maxNamesShown))
	for _, n := range ns[:min(len(ns), maxNamesShown)] {
		out = append(out, nameOr(lang, n))
	}
	s := strings.Join(out, ", ")
	if more := len(ns) - len(out); more > 0 {
		s += " " + trN(lang, "preview.more", int64(more))
	}
	return s
}

// planName is a Pipedrive plan as Pipedrive writes it ("lite" → "Lite").
func planName(p string) string {
	if p == "" {
		return p
	}
	return strings.ToUpper(p[:1]) + p[1:]
}
